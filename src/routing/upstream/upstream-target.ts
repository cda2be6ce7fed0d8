import type { ClientRequest, IncomingMessage, ServerResponse } from 'node:http';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { parse as parseLegacyUrl } from 'node:url';

import { createProxyMiddleware, type Plugin, type RequestHandler } from 'http-proxy-middleware';

import type { UpstreamTls } from '../../config/config-loader';
import { TargetHealth } from './target-health';

/** Idle upstream sockets close before common backends' keep-alive timeouts (Node's is 5 s). */
export const UPSTREAM_IDLE_TIMEOUT_MS = 4000;

/** What an upstream attempt listens to: http-proxy's events for its request. */
export interface ProxyListener {
  /** `proxyReq`: fires before the request line is written (the path can still be set). */
  onDispatch(proxyReq: ClientRequest): void;
  onResponse(proxyRes: IncomingMessage): void;
  onError(err: NodeJS.ErrnoException): void;
  /** http-proxy-middleware hands a synchronous failure to `next`. */
  onDispatchFailure(err?: unknown): void;
}

/** How a target came to be, for discovered addresses (Service discovery). */
export interface TargetOrigin {
  readonly source: 'static' | 'dns' | 'srv';
  /** Sent as `Host` instead of the URL's host:port (the configured name). */
  readonly host?: string;
  /** The TLS server name (the configured host name). */
  readonly servername?: string;
  /** SRV priority, lower first; 0 otherwise. */
  readonly priority?: number;
}

const STATIC: TargetOrigin = { source: 'static' };

/**
 * The attempt a request in flight belongs to, on the request itself: each target's one
 * listener per http-proxy event dispatches to it only when the attempt is this target's (a
 * retry on another target replaces it). Not a WeakMap<req, listener>: measured with
 * `npm run bench`, ephemeron entries keep every call's objects alive through the young
 * generation's collections, tripling GC time and growing the heap under load.
 */
const ATTEMPT = Symbol('upstream attempt');
interface AttemptCarrier {
  [ATTEMPT]?: { readonly target: UpstreamTarget; readonly listener: ProxyListener };
}

/**
 * A backend address with its one keep-alive agent and its http-proxy-middleware instance,
 * built once and kept across reloads while the URL stays in the config (or, discovered,
 * while DNS keeps naming it).
 */
export class UpstreamTarget {
  /** `host:port`, the label in logs, metrics and the admin API. */
  readonly label: string;
  /** The URL's path without its final slash ('' for `/`): what every upstream path follows. */
  readonly basePath: string;
  readonly agent: HttpAgent;
  readonly health: TargetHealth;
  private readonly middleware: RequestHandler<IncomingMessage, ServerResponse>;

  readonly priority: number;
  /** The URL's host (an address, brackets stripped) and port, for traces. */
  readonly hostname: string;
  readonly port: number;

  constructor(
    readonly url: string,
    readonly weight: number,
    readonly origin: TargetOrigin = STATIC,
    /** The service's `tls` (https:// only): CA to verify against, client certificate. */
    readonly tls?: UpstreamTls,
  ) {
    this.priority = origin.priority ?? 0;
    const u = new URL(url);
    const https = u.protocol === 'https:';
    this.label = `${u.hostname}:${u.port || (https ? '443' : '80')}`;
    this.hostname = u.hostname.replace(/^\[|\]$/g, '');
    this.port = Number(u.port || (https ? 443 : 80));
    this.basePath = u.pathname.replace(/\/+$/, '');
    this.health = new TargetHealth(undefined);
    const agentOptions = {
      keepAlive: true,
      maxSockets: Infinity,
      maxFreeSockets: 1024,
      scheduling: 'lifo' as const,
      timeout: UPSTREAM_IDLE_TIMEOUT_MS,
      ...(origin.servername ? { servername: origin.servername } : {}),
      // Verification stays on (Node's default); the CA replaces the system CAs when given.
      ...(https && tls?.ca ? { ca: tls.ca } : {}),
      ...(https && tls?.cert ? { cert: tls.cert, key: tls.key } : {}),
    };
    this.agent = https ? new HttpsAgent(agentOptions) : new HttpAgent(agentOptions);
    const listenerOf = (req: IncomingMessage) => {
      const a = (req as AttemptCarrier)[ATTEMPT];
      return a?.target === this ? a.listener : undefined;
    };
    const events: Plugin = (proxyServer) => {
      proxyServer.on('proxyReq', (proxyReq: ClientRequest, req: IncomingMessage) =>
        listenerOf(req)?.onDispatch(proxyReq),
      );
      proxyServer.on('proxyRes', (proxyRes: IncomingMessage, req: IncomingMessage) =>
        listenerOf(req)?.onResponse(proxyRes),
      );
      proxyServer.on('error', (err: Error, req: IncomingMessage) => listenerOf(req)?.onError(err));
    };
    this.middleware = createProxyMiddleware<IncomingMessage, ServerResponse>({
      // Parsed once here: given the string, http-proxy parses it again on every call (with
      // the same legacy parser, so what it reads from it is the same).
      target: parseLegacyUrl(url),
      // The path http-proxy would build (req.url re-parsed, joined to the target's path) is
      // never sent: UpstreamCall.onDispatch sets the path before the head is written. So
      // http-proxy takes req.url as it is (no parse) and joins nothing.
      toProxy: true,
      prependPath: false,
      ignorePath: true,
      agent: this.agent,
      // A discovered address: the configured name is the Host, not the address.
      changeOrigin: origin.host === undefined,
      ...(origin.host !== undefined ? { headers: { host: origin.host } } : {}),
      xfwd: false,
      ejectPlugins: true,
      plugins: [events],
    });
  }

  /** Sends the request to this target; `listener` hears how it goes. */
  proxy(req: IncomingMessage, res: ServerResponse, listener: ProxyListener): void {
    (req as AttemptCarrier)[ATTEMPT] = { target: this, listener };
    void this.middleware(req, res, (err?: unknown) => listener.onDispatchFailure(err));
  }

  close(): void {
    this.agent.destroy();
  }
}
