// The one place where upstream failures become statuses: timeout 504, connection 502,
// open breaker or no healthy target 503.
import { GatewayException } from './gateway.exception';

export class UpstreamTimeoutError extends GatewayException {
  constructor(service: string, timeoutMs: number) {
    super(504, `upstream ${service} sent no response within ${timeoutMs} ms`);
  }
}

export class UpstreamConnectionError extends GatewayException {
  constructor(
    service: string,
    readonly code: string | undefined,
    /** Safe to send again: refused, or a reused keep-alive socket closed before any byte. */
    readonly retryable = false,
    /** A stale keep-alive socket: not the backend's failure. */
    readonly stale = false,
  ) {
    super(502, `upstream ${service} is unreachable${code ? ` (${code})` : ''}`);
  }
}

export class NoHealthyTargetError extends GatewayException {
  constructor(service: string) {
    super(503, `no healthy target for service ${service}`);
  }
}

export class CircuitOpenError extends GatewayException {
  constructor(service: string, retryAfterSeconds: number) {
    super(503, `circuit open for service ${service}`, {
      'Retry-After': Math.max(1, retryAfterSeconds),
    });
  }
}
