import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';

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
  /** A slot of server.maxConcurrentRequests this call holds until its response head. */
  slot?: SlotCounter;
  /** An HTTP/1.1 upgrade: the socket and first bytes, handed to the WebSocket bridge. */
  upgrade?: {
    readonly socket: Duplex;
    readonly head: Buffer;
    /** The client's handshake headers as sent (hop-by-hop ones are stripped later). */
    readonly handshake: Readonly<Record<string, string | string[] | undefined>>;
  };
}

/** Where a call's concurrency slot goes back (ServerLifecycle). */
export interface SlotCounter {
  release(): void;
}

/** Gives the call's slot back once (the response head is on its way, or the call ended). */
export function releaseSlot(ctx: RequestContext | undefined): void {
  const slot = ctx?.slot;
  if (slot) {
    ctx.slot = undefined;
    slot.release();
  }
}

export interface GatewayRequest extends IncomingMessage {
  gateway: RequestContext;
}

export function contextOf(req: IncomingMessage): RequestContext | undefined {
  return (req as Partial<GatewayRequest>).gateway;
}
