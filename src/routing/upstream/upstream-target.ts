import type { ClientRequest, IncomingMessage, ServerResponse } from 'node:http';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';

import { createProxyMiddleware, type Plugin, type RequestHandler } from 'http-proxy-middleware';

import { TargetHealth } from './target-health';
import type { UpstreamCall } from './upstream-call';

/** Idle upstream sockets close before common backends' keep-alive timeouts (Node's is 5 s). */
export const UPSTREAM_IDLE_TIMEOUT_MS = 4000;

const CALL = Symbol('upstream-call');
type WithCall = IncomingMessage & { [CALL]?: UpstreamCall };

export function attachCall(req: IncomingMessage, call: UpstreamCall): void {
  (req as WithCall)[CALL] = call;
}

function callOf(req: IncomingMessage): UpstreamCall | undefined {
  return (req as WithCall)[CALL];
}

// One set of http-proxy listeners shared by every target; the call rides on the request.
// `proxyReq` fires before the request line is written, so UpstreamCall.onDispatch can still
// set the path http-proxy computed (url.parse + urlJoin) back to the gateway's own.
const events: Plugin = (proxyServer) => {
  proxyServer.on('proxyReq', (proxyReq: ClientRequest, req: IncomingMessage) =>
    callOf(req)?.onDispatch(proxyReq),
  );
  proxyServer.on('proxyRes', (proxyRes: IncomingMessage, req: IncomingMessage) =>
    callOf(req)?.onResponse(proxyRes),
  );
  proxyServer.on('error', (err: Error, req: IncomingMessage) => callOf(req)?.onError(err));
};

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
  readonly proxy: RequestHandler<IncomingMessage, ServerResponse>;
  readonly health: TargetHealth;

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
    this.proxy = createProxyMiddleware<IncomingMessage, ServerResponse>({
      target: url,
      agent: this.agent,
      changeOrigin: true,
      xfwd: false,
      ejectPlugins: true,
      plugins: [events],
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
