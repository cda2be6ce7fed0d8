// The one file that knows proxied calls never pass through Express. The HTTP server's
// request listener is ours: it gives every request its id and `finish` hook, hands the
// gateway's own endpoints to Express, and runs proxied calls through Nest's pipeline
// (guards, interceptors, filters) via ExternalContextCreator, in front of Express.
import { type IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

import { Injectable, Logger } from '@nestjs/common';
import { ExternalContextCreator, HttpAdapterHost } from '@nestjs/core';

import { sendError } from '../common/error-response';
import { type GatewayRequest, releaseSlot, type RequestContext } from '../common/request-context';
import { requestIdFrom } from '../common/request-id';
import { isOwnedPath } from '../config/owned-paths';
import { AccessLog } from '../logging/access-log';
import { GatewayMetrics } from '../metrics/gateway-metrics';
import { endServerSpan } from '../tracing/gateway-tracing';
import { GatewayTracing } from '../tracing/tracing.module';
import { unmapIPv4 } from './client-address';
import { isPreflight } from './cors-policy';
import { GatewayRoutes, type RoutingState } from './gateway-routes';
import { adaptHttp2, expressView, isHttp2 } from './http2-compat';
import { PluginSteps } from './plugin-steps';
import { ProxyController } from './proxy.controller';
import { resolveRoute } from './route-resolution';
import { ServerLifecycle } from './server-lifecycle';
import { prepareUpstreamHeaders } from './upstream/forwarded-headers';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;
type Forward = (req: IncomingMessage, res: ServerResponse, next: () => void) => Promise<unknown>;

const noop = () => undefined;

/** The socket and first bytes of an upgrade, from the 'upgrade' event to the context. */
const UPGRADE = Symbol('upgrade');
interface UpgradeCarrier {
  [UPGRADE]?: RequestContext['upgrade'];
}

@Injectable()
export class GatewayEntry {
  private readonly logger = new Logger('GatewayEntry');
  private forward: Forward | undefined;
  /** Upgraded sockets leave the HTTP server's connection tracking: closed here at the end. */
  private readonly upgraded = new Set<Duplex>();

  /**
   * At close: upgraded sockets still open (WebSockets the drain already sent 1001 on, or
   * refused upgrades the client keeps open) are ended, and destroyed 1 s later.
   */
  endUpgrades(): void {
    for (const s of this.upgraded) {
      s.end();
      setTimeout(() => s.destroy(), 1000).unref();
    }
  }
  private express: Handler | undefined;

  constructor(
    private readonly routes: GatewayRoutes,
    private readonly externalContextCreator: ExternalContextCreator,
    private readonly proxy: ProxyController,
    private readonly adapterHost: HttpAdapterHost,
    private readonly accessLog: AccessLog,
    private readonly lifecycle: ServerLifecycle,
    private readonly metrics: GatewayMetrics,
    private readonly plugins: PluginSteps,
    private readonly tracing: GatewayTracing,
  ) {}

  /** Wraps the proxy pipeline once; call after `app.init()`. Returns the request listener. */
  bind(): Handler {
    this.forward = this.externalContextCreator.create(
      this.proxy,
      // eslint-disable-next-line @typescript-eslint/unbound-method -- ECC applies it to the instance
      this.proxy.forward as (...args: unknown[]) => unknown,
      'forward',
      undefined,
      undefined,
      undefined,
      undefined,
      { guards: true, interceptors: true, filters: true },
      'http',
    ) as Forward;
    this.express = this.adapterHost.httpAdapter.getInstance<Handler>();
    return this.handle;
  }

  /**
   * The server's 'upgrade' listener: the upgrade request takes the same path as any call,
   * with a response bound to its socket, so every refusal (400, 401, 403, 429, 5xx) is an
   * ordinary HTTP answer before any upgrade. Only a `websocket: true` route's upgrade reaches
   * the backend (upstream/websocket-bridge.ts).
   */
  readonly upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on('error', noop);
    this.upgraded.add(socket);
    socket.once('close', () => this.upgraded.delete(socket));
    const res = new ServerResponse(req);
    res.assignSocket(socket as Socket);
    res.shouldKeepAlive = false;
    // A refusal ends the connection once written; an accepted upgrade never finishes.
    res.once('finish', () => socket.end());
    const h = req.headers;
    const handshake = { upgrade: h.upgrade, connection: h.connection };
    (req as UpgradeCarrier)[UPGRADE] = { socket, head, handshake };
    this.handle(req, res);
  };

  readonly handle: Handler = (req, res) => {
    const state = this.routes.current;
    const ctx: RequestContext = {
      id: requestIdFrom(req.headers['x-request-id']),
      startedAt: process.hrtime.bigint(),
      clientIp: '',
      routeLabel: 'none',
      serviceLabel: 'none',
      config: state.snapshot,
      upgrade: (req as UpgradeCarrier)[UPGRADE],
    };
    (req as GatewayRequest).gateway = ctx;
    res.setHeader('X-Request-ID', ctx.id);
    const lifecycle = this.lifecycle;
    lifecycle.requestStarted();
    if (lifecycle.draining) res.shouldKeepAlive = false;
    res.once('close', () => {
      releaseSlot(ctx);
      lifecycle.requestEnded();
      this.metrics.recordRequest(req, res, ctx);
      this.accessLog.record(req, res, ctx);
      if (ctx.span) this.endSpan(req, res, ctx);
    });

    // HTTP/2: the stream's headers without pseudo-headers, `:authority` as Host (before
    // anything reads a header); a stream that cannot be a request of ours is 400.
    const h2 = isHttp2(req);
    const malformed = h2 ? adaptHttp2(req, res) : undefined;

    const peer = unmapIPv4(req.socket.remoteAddress ?? '');
    ctx.clientIp = state.clientAddress.clientIp(peer, req.headers['x-forwarded-for']);

    const server = state.server;
    if (malformed) return sendError(res, 400, malformed, ctx.id);
    const url = req.url ?? '/';
    // Load shedding, before anything else is spent on the call; own endpoints never.
    if (!isOwnedPath(pathOf(url))) {
      if (!lifecycle.takeSlot(server.maxConcurrentRequests)) {
        this.metrics.shed();
        return sendError(res, 503, 'overloaded', ctx.id, RETRY_SOON);
      }
      ctx.slot = lifecycle.slots;
    }
    if (url.length > server.maxUrlLength) {
      return sendError(res, 414, 'URL is longer than the limit', ctx.id, CLOSE);
    }
    if (headerBytes(req) > server.maxHeaderSize) {
      return sendError(res, 431, 'request header block is larger than the limit', ctx.id, CLOSE);
    }
    const cors = state.cors;
    if (cors === undefined) return this.dispatch(req, res, ctx, state, url, peer);
    cors(req, res, () => {
      // The answer depends on Origin whether or not it was allowed: tell caches so.
      if (res.getHeader('Vary') === undefined) res.setHeader('Vary', 'Origin');
      // The cors package answers allowed preflights itself; here only disallowed ones
      // arrive, and a preflight is never forwarded.
      if (isPreflight(req)) {
        res.statusCode = 204;
        res.setHeader('Content-Length', 0);
        res.end();
        return;
      }
      this.dispatch(req, res, ctx, state, url, peer);
    });
  };

  private dispatch(
    req: IncomingMessage,
    res: ServerResponse,
    ctx: RequestContext,
    state: RoutingState,
    url: string,
    peer: string,
  ): void {
    const server = state.server;
    const q = url.indexOf('?');
    const found = resolveRoute(state.table, req.method ?? 'GET', url, server);
    if (found.kind === 'own') {
      if (ctx.upgrade) return sendError(res, 400, 'no upgrade on this endpoint', ctx.id, CLOSE);
      ctx.ownEndpoint = true;
      if (isHttp2(req)) (this.express as Handler)(...expressView(req, res));
      else (this.express as Handler)(req, res);
      return;
    }
    // Tracing on: a SERVER span per proxied call (unmatched ones included).
    const tracer = this.tracing.tracer;
    if (tracer) {
      const t = tracer.startServer(req, state.clientAddress.isTrusted(peer));
      ctx.span = t.span;
      ctx.traceContext = t.context;
    }
    switch (found.kind) {
      case 'error':
        return sendError(res, found.status, found.message, ctx.id);
      case 'method-not-allowed':
        ctx.routeLabel = found.route.pattern;
        ctx.serviceLabel = found.route.data.service.name;
        return sendError(res, 405, 'method not allowed', ctx.id, { Allow: found.allow.join(', ') });
      case 'matched':
        break;
    }
    const match = found.match;
    ctx.match = match;
    ctx.path = found.path;
    ctx.routeLabel = match.route.pattern;
    ctx.serviceLabel = match.route.data.service.name;
    ctx.query = q === -1 ? '' : url.slice(q);
    if (ctx.upgrade) {
      const refused = this.checkUpgrade(req, ctx, state);
      if (refused) return sendError(res, refused[0], refused[1], ctx.id, CLOSE);
    }
    const plugins = match.route.data.plugins;
    if (plugins.response.length > 0) this.plugins.holdResponse(req, res, plugins);

    const length = req.headers['content-length'];
    if (length !== undefined && Number(length) > server.bodyLimit) {
      return sendError(res, 413, 'request body is larger than the limit', ctx.id, CLOSE);
    }
    // Before the guards run: client-sent X-User-* are gone before authentication adds ours.
    prepareUpstreamHeaders(req.headers, {
      peer,
      peerTrusted: state.clientAddress.isTrusted(peer),
      encrypted: (req.socket as { encrypted?: boolean }).encrypted === true,
      requestId: ctx.id,
    });
    if (plugins.access.length > 0) {
      return this.plugins.access(req, res, plugins, () => this.pipeline(req, res, ctx));
    }
    this.pipeline(req, res, ctx);
  }

  /**
   * An upgrade on a matched route: only `Upgrade: websocket` on a `websocket: true` route
   * (400 otherwise), from an allowed Origin when `cors` is set (403). With
   * `websocketQueryToken`, a JWT in `access_token` becomes the Authorization header and
   * leaves the query (RFC 6750 §2.3).
   */
  private checkUpgrade(
    req: IncomingMessage,
    ctx: RequestContext,
    state: RoutingState,
  ): [number, string] | undefined {
    const settings = ctx.match?.route.data.settings;
    const websocket = (req.headers.upgrade ?? '').toLowerCase() === 'websocket';
    if (!settings?.websocket || !websocket || req.method !== 'GET') {
      return [400, 'upgrade not allowed on this route'];
    }
    const cors = state.snapshot.gateway.cors;
    const origin = req.headers.origin;
    if (cors && origin !== undefined && !cors.origins.includes('*')) {
      if (!cors.origins.includes(origin)) return [403, 'origin not allowed'];
    }
    if (settings.websocketQueryToken && ctx.query) {
      const params = new URLSearchParams(ctx.query.slice(1));
      const token = params.get('access_token');
      if (token !== null) {
        params.delete('access_token');
        const rest = params.toString();
        ctx.query = rest ? `?${rest}` : '';
        if (req.headers.authorization === undefined) req.headers.authorization = `Bearer ${token}`;
      }
    }
    return undefined;
  }

  private endSpan(req: IncomingMessage, res: ServerResponse, ctx: RequestContext): void {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    endServerSpan(ctx.span as NonNullable<RequestContext['span']>, {
      method: req.method ?? 'GET',
      route: ctx.match ? ctx.routeLabel : undefined,
      status: res.statusCode,
      // The normalised path when matched; otherwise the target as sent, without its query.
      path: ctx.path ?? (q === -1 ? url : url.slice(0, q)),
      clientIp: ctx.clientIp,
      service: ctx.match ? ctx.serviceLabel : undefined,
      target: ctx.target,
    });
  }

  /** Guards, request plugins and the upstream call (ProxyController.forward). */
  private pipeline(req: IncomingMessage, res: ServerResponse, ctx: RequestContext): void {
    (this.forward as Forward)(req, res, noop).catch((err: unknown) => {
      this.logger.error({ msg: 'proxy pipeline failed', requestId: ctx.id, err });
      sendError(res, 500, 'Internal server error', ctx.id);
    });
  }
}

const CLOSE = { Connection: 'close' } as const;
const RETRY_SOON = { 'Retry-After': '1' } as const;

function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

/**
 * Bytes of the header block as sent (names, values, `: ` and CRLF); over HTTP/2 the same
 * sum over the fields without pseudo-headers (the URL has its own limit).
 */
function headerBytes(req: IncomingMessage): number {
  const raw = req.rawHeaders;
  let n = 0;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i].charCodeAt(0) === 58) continue; // an HTTP/2 pseudo-header (:path, ...)
    n += raw[i].length + raw[i + 1].length + 4;
  }
  return n;
}
