import type { IncomingMessage } from 'node:http';

/**
 * Per-request state. It rides on the request object (never a request-scoped provider):
 * the entry creates it, later stages add to it, the `finish` hook reads it. Modules
 * add their own fields by declaration merging on this interface.
 */
export interface RequestContext {
  readonly id: string;
  /** process.hrtime.bigint() when the entry saw the request. */
  readonly startedAt: bigint;
  /** The client IP per the contract's rule (set before routing). */
  clientIp: string;
  /** Route pattern and service name for logs and metrics; `none` when unmatched. */
  routeLabel: string;
  serviceLabel: string;
  /** `host:port` of the target chosen, once chosen. */
  target?: string;
  /** Milliseconds from dispatch to the upstream response head. */
  upstreamMs?: number;
  /** Set for the gateway's own endpoints (Express serves them; request metrics skip them). */
  ownEndpoint?: boolean;
}

export interface GatewayRequest extends IncomingMessage {
  gateway: RequestContext;
}

export function contextOf(req: IncomingMessage): RequestContext | undefined {
  return (req as Partial<GatewayRequest>).gateway;
}
