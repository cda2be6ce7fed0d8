import type { ClientRequest, IncomingMessage, ServerResponse } from 'node:http';

import { contextOf, releaseSlot } from '../../common/request-context';
import { isHttp2 } from '../http2-compat';
import { prepareClientHeaders } from './forwarded-headers';
import { type FailureKind, UpstreamFailure } from './upstream-failure';
import type { ProxyListener } from './upstream-target';

/** How an upstream attempt ended: the backend's response head, or one failure. */
export type CallOutcome =
  | { readonly kind: 'answered'; readonly status: number }
  | { readonly kind: 'failed'; readonly failure: UpstreamFailure };

export interface CallOptions {
  readonly service: string;
  /** The target URL's own path ('' for `/`): every upstream path follows it. */
  readonly basePath: string;
  readonly timeoutMs: number;
  /** Once the head is passed on: a body silent this long is cut (streamIdleTimeoutMs). */
  readonly streamIdleTimeoutMs: number;
  /** Max body bytes for a body without Content-Length (chunked); undefined = no check. */
  readonly chunkedBodyLimit: number | undefined;
  readonly corsOwned: boolean;
  /** Tracing on: `traceparent` (and `tracestate`) of this attempt's CLIENT span. */
  readonly traceHeaders?: Readonly<Record<string, string | number | readonly string[]>>;
}

/**
 * One upstream attempt: it settles when the response head arrives (or fails), not when
 * http-proxy dispatches. The deadline runs from dispatch to the response head only, so
 * slow bodies are never cut by it.
 */
export class UpstreamCall implements ProxyListener {
  private proxyReq: ClientRequest | undefined;
  private timer: NodeJS.Timeout | undefined;
  private settled = false;
  private timedOut = false;
  private tooLarge = false;
  /** The response body's idle timer (streamIdleTimeoutMs), once the head is passed on. */
  private idle: NodeJS.Timeout | undefined;
  private readonly startedAt = process.hrtime.bigint();

  constructor(
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly options: CallOptions,
    /** Called once, with the one outcome. */
    private readonly report: (o: CallOutcome) => void,
  ) {
    this.timer = setTimeout(this.onTimeout, options.timeoutMs);
    res.once('close', this.onClientClose);
  }

  onDispatch(proxyReq: ClientRequest): void {
    this.proxyReq = proxyReq;
    // http-proxy built the path by re-parsing req.url with the legacy URL parser and joining
    // it to the target's path, collapsing `//` and turning a segment `http:` into `http://`.
    // The backend must get exactly the path the route table matched (ProxyController set
    // req.url to it, rewritten, plus the query), so it is set here, byte for byte.
    proxyReq.path = this.options.basePath + (this.req.url ?? '/');
    const trace = this.options.traceHeaders;
    if (trace) {
      // The client's own trace headers are replaced: the backend's parent is this attempt.
      proxyReq.removeHeader('tracestate');
      for (const k in trace) proxyReq.setHeader(k, trace[k]);
    }
    if (this.timedOut) {
      proxyReq.destroy();
      return;
    }
    // A plugin read the body (request-validation): it goes as read; http-proxy's pipe of
    // the ended request then only ends the upstream request.
    const body = contextOf(this.req)?.bufferedBody;
    if (body !== undefined && body.length > 0) proxyReq.write(body);
    const limit = this.options.chunkedBodyLimit;
    if (limit !== undefined) {
      let seen = 0;
      const onData = (chunk: Buffer) => {
        seen += chunk.length;
        if (seen > limit && !this.tooLarge) {
          this.tooLarge = true;
          this.req.off('data', onData);
          this.req.unpipe(proxyReq);
          proxyReq.destroy();
        }
      };
      this.req.on('data', onData);
    }
  }

  onResponse(proxyRes: IncomingMessage): void {
    this.clearTimer();
    const ctx = contextOf(this.req);
    releaseSlot(ctx);
    if (ctx) ctx.upstreamMs = Number(process.hrtime.bigint() - this.startedAt) / 1e6;
    prepareClientHeaders(proxyRes.headers, this.options.corsOwned);
    // CORS set `Vary: Origin` already; the backend's Vary must add to it, not replace it.
    const ours = this.res.getHeader('vary');
    const theirs = proxyRes.headers.vary;
    if (typeof ours === 'string' && theirs) proxyRes.headers.vary = `${ours}, ${theirs}`;
    // Our own connection management, not the backend's: keep-alive unless the client asked
    // to close, or the gateway is draining (requests that arrive while it drains have
    // shouldKeepAlive cleared; one that was already in flight sees its server no longer
    // listening).
    // (HTTP/2 has no Connection field: its session ends with a GOAWAY when draining.)
    if (!isHttp2(this.req)) {
      const server = (this.req.socket as { server?: { listening?: boolean } }).server;
      const keep = this.res.shouldKeepAlive && server?.listening !== false;
      if (!keep) this.res.shouldKeepAlive = false;
      proxyRes.headers.connection = keep ? 'keep-alive' : 'close';
    }
    if (this.tooLarge) {
      // The backend answered before the body passed the limit... but it did pass it.
      this.res.destroy();
    }
    this.watchIdleBody(proxyRes);
    this.settle();
    this.report({ kind: 'answered', status: proxyRes.statusCode ?? 502 });
  }

  /**
   * streamIdleTimeoutMs: a response body (an event stream, a download) that sends nothing
   * for that long is cut: the upstream request is dropped and the client's connection closed
   * without the last chunk, so it knows the body is incomplete. One timer, refreshed per
   * chunk; none once the body has ended.
   */
  private watchIdleBody(proxyRes: IncomingMessage): void {
    const idle = setTimeout(() => {
      proxyRes.destroy();
      this.res.destroy();
    }, this.options.streamIdleTimeoutMs);
    idle.unref();
    this.idle = idle;
    proxyRes.on('data', () => idle.refresh());
    // `end` and `close` come once each and stopping twice is harmless: plain listeners,
    // no once-wrappers. The client's `close` stops it in onClientClose.
    const stop = () => clearTimeout(idle);
    proxyRes.on('end', stop);
    proxyRes.on('close', stop);
  }

  onError(err: NodeJS.ErrnoException): void {
    this.clearTimer();
    if (this.settled) {
      // Failed after the response head was passed on: the body is cut, say so by closing.
      this.res.destroy();
      return;
    }
    this.settle();
    if (this.tooLarge) {
      this.res.shouldKeepAlive = false;
      this.fail('body-too-large');
    } else if (this.timedOut) {
      this.fail('timeout', String(this.options.timeoutMs));
    } else {
      this.fail(this.connectionFailure(err.code), err.code);
    }
  }

  /** A reused keep-alive socket that the backend had already closed is only stale. */
  private connectionFailure(code: string | undefined): FailureKind {
    if (code === 'ECONNREFUSED') return 'refused';
    if (this.proxyReq?.reusedSocket && (code === 'ECONNRESET' || code === 'EPIPE')) return 'stale';
    return 'unreachable';
  }

  onDispatchFailure(err?: unknown): void {
    if (err === undefined || this.settled) return;
    this.clearTimer();
    this.settle();
    this.fail('dispatch', undefined, err);
  }

  private fail(kind: FailureKind, detail?: string, cause?: unknown): void {
    this.report({
      kind: 'failed',
      failure: new UpstreamFailure(kind, this.options.service, detail, undefined, cause),
    });
  }

  private readonly onTimeout = () => {
    this.timer = undefined;
    this.timedOut = true;
    if (this.proxyReq) {
      this.proxyReq.destroy();
      return;
    }
    // Nothing dispatched to cancel: answer now; any late upstream answer finds the
    // response already sent and is dropped.
    this.settle();
    this.fail('timeout', String(this.options.timeoutMs));
  };

  private readonly onClientClose = () => {
    if (this.idle) clearTimeout(this.idle);
    if (this.settled) {
      // Gone mid-body: free the upstream request and its socket too.
      if (!this.res.writableFinished) this.proxyReq?.destroy();
      return;
    }
    this.clearTimer();
    this.settle();
    this.proxyReq?.destroy();
    this.fail('client-gone');
  };

  private settle(): void {
    this.settled = true;
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
