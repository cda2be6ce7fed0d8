// The one definition of how an upstream call can fail, and what each kind means for the
// breaker, the retry, the target's health and the status the client gets.
import { GatewayException } from '../../common/gateway.exception';

export type FailureKind =
  /** Connection refused: the target is down; nothing was sent, so a retry is safe. */
  | 'refused'
  /** The connection failed otherwise (reset on a fresh socket, DNS, TLS): target down. */
  | 'unreachable'
  /** A reused keep-alive socket the backend had already closed: nobody's failure. */
  | 'stale'
  /** No response head within the service's deadline. */
  | 'timeout'
  /** The backend answered 5xx: the client gets that answer, the breaker counts it. */
  | 'server-error'
  /** The client went away before the response head. */
  | 'client-gone'
  /** http.request threw: the gateway's fault, not the backend's. */
  | 'dispatch'
  /** A chunked body passed the limit on the way upstream. */
  | 'body-too-large'
  /** No healthy target to try. */
  | 'no-target'
  /** The service's breaker is open. */
  | 'circuit-open';

export interface FailureMeaning {
  /** `failure` counts against the breaker; `neutral` counts as a success while closed. */
  readonly breaker: 'failure' | 'neutral';
  /** A bodiless idempotent call may be sent once more, to another target if there is one. */
  readonly retry: boolean;
  /** Passive health: the target is taken out. */
  readonly targetDown: boolean;
  /** What the client gets; `answered` = the backend's own response already went. */
  readonly status: 413 | 500 | 502 | 503 | 504 | 'answered';
}

export const FAILURE: Readonly<Record<FailureKind, FailureMeaning>> = {
  refused: { breaker: 'failure', retry: true, targetDown: true, status: 502 },
  unreachable: { breaker: 'failure', retry: false, targetDown: true, status: 502 },
  stale: { breaker: 'neutral', retry: true, targetDown: false, status: 502 },
  timeout: { breaker: 'failure', retry: false, targetDown: false, status: 504 },
  'server-error': { breaker: 'failure', retry: false, targetDown: false, status: 'answered' },
  'client-gone': { breaker: 'neutral', retry: false, targetDown: false, status: 'answered' },
  dispatch: { breaker: 'neutral', retry: false, targetDown: false, status: 500 },
  'body-too-large': { breaker: 'neutral', retry: false, targetDown: false, status: 413 },
  'no-target': { breaker: 'neutral', retry: false, targetDown: false, status: 503 },
  'circuit-open': { breaker: 'neutral', retry: false, targetDown: false, status: 503 },
};

function message(kind: FailureKind, service: string, detail: string | undefined): string {
  switch (kind) {
    case 'refused':
    case 'unreachable':
    case 'stale':
      return `upstream ${service} is unreachable${detail ? ` (${detail})` : ''}`;
    case 'timeout':
      return `upstream ${service} sent no response within ${detail} ms`;
    case 'server-error':
      return `upstream ${service} answered ${detail}`;
    case 'client-gone':
      return 'the client closed the connection before the response';
    case 'dispatch':
      return 'Internal server error';
    case 'body-too-large':
      return 'request body is larger than the limit';
    case 'no-target':
      return `no healthy target for service ${service}`;
    case 'circuit-open':
      return `circuit open for service ${service}`;
  }
}

/** One failed attempt (or a refusal before any attempt), as the client will be told. */
export class UpstreamFailure extends GatewayException {
  readonly meaning: FailureMeaning;

  constructor(
    readonly kind: FailureKind,
    readonly service: string,
    /** The error code, the deadline in ms or the status, per kind. */
    readonly detail?: string,
    headers?: Readonly<Record<string, string | number>>,
    /** What the dispatch threw (kind `dispatch`), for the log. */
    readonly reason?: unknown,
  ) {
    const meaning = FAILURE[kind];
    super(
      meaning.status === 'answered' ? 502 : meaning.status,
      message(kind, service, detail),
      headers,
    );
    this.meaning = meaning;
  }

  static circuitOpen(service: string, retryAfterSeconds: number): UpstreamFailure {
    return new UpstreamFailure('circuit-open', service, undefined, {
      'Retry-After': Math.max(1, retryAfterSeconds),
    });
  }
}

/** For the breaker: errors that are nobody's failure. */
export function isNeutralFailure(err: unknown): boolean {
  return err instanceof UpstreamFailure && err.meaning.breaker === 'neutral';
}
