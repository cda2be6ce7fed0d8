import type { ClientRequest, IncomingMessage, ServerResponse } from 'node:http';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';

import { createProxyMiddleware, type Plugin, type RequestHandler } from 'http-proxy-middleware';

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

/**
 * A backend address with its one keep-alive agent and its http-proxy-middleware instance,
 * built once and kept across reloads while the URL stays in the config.
 */
export class UpstreamTarget {
  /** `host:port`, the label in logs, metrics and the admin API. */
  readonly label: string;
  /** The URL's path without its final slash ('' for `/`): what every upstream path follows. */
  readonly basePath: string;
  readonly agent: HttpAgent;
  readonly health: TargetHealth;
  private readonly middleware: RequestHandler<IncomingMessage, ServerResponse>;
  /** The attempt each request in flight belongs to: one listener per event dispatches. */
  private readonly listeners = new WeakMap<IncomingMessage, ProxyListener>();

  constructor(
    readonly url: string,
    readonly weight: number,
  ) {
    const u = new URL(url);
    const https = u.protocol === 'https:';
    this.label = `${u.hostname}:${u.port || (https ? '443' : '80')}`;
    this.basePath = u.pathname.replace(/\/+$/, '');
    this.health = new TargetHealth(undefined);
    const agentOptions = {
      keepAlive: true,
      maxSockets: Infinity,
      maxFreeSockets: 1024,
      scheduling: 'lifo' as const,
      timeout: UPSTREAM_IDLE_TIMEOUT_MS,
    };
    this.agent = https ? new HttpsAgent(agentOptions) : new HttpAgent(agentOptions);
    const listeners = this.listeners;
    const events: Plugin = (proxyServer) => {
      proxyServer.on('proxyReq', (proxyReq: ClientRequest, req: IncomingMessage) =>
        listeners.get(req)?.onDispatch(proxyReq),
      );
      proxyServer.on('proxyRes', (proxyRes: IncomingMessage, req: IncomingMessage) =>
        listeners.get(req)?.onResponse(proxyRes),
      );
      proxyServer.on('error', (err: Error, req: IncomingMessage) =>
        listeners.get(req)?.onError(err),
      );
    };
    this.middleware = createProxyMiddleware<IncomingMessage, ServerResponse>({
      target: url,
      agent: this.agent,
      changeOrigin: true,
      xfwd: false,
      ejectPlugins: true,
      plugins: [events],
    });
  }

  /** Sends the request to this target; `listener` hears how it goes. */
  proxy(req: IncomingMessage, res: ServerResponse, listener: ProxyListener): void {
    this.listeners.set(req, listener);
    void this.middleware(req, res, (err?: unknown) => listener.onDispatchFailure(err));
  }

  close(): void {
    this.agent.destroy();
  }
}
