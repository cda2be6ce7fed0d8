// WebSocket through the gateway: the upgrade request has passed the same pipeline as any
// call (plugins, auth, limits, breaker, target choice); here the backend's handshake is made
// first and only then is the client's upgrade accepted, so a refused or failing backend is
// still an HTTP answer. Both ends are `ws` sockets: messages (type and payload), ping and
// pong pass unchanged, and a close on one side closes the other with its code and reason.
import type { IncomingMessage, ServerResponse } from 'node:http';

import WebSocket, { WebSocketServer } from 'ws';

import { contextOf, releaseSlot } from '../../common/request-context';
import { UpstreamFailure } from './upstream-failure';
import type { UpstreamTarget } from './upstream-target';

/** The largest message relayed (a 1 MB frame passes with room to spare). */
const MAX_PAYLOAD = 16 * 1024 * 1024;

/** Request headers that belong to one handshake, or to one hop, never forwarded. */
const HANDSHAKE = new Set([
  'host',
  'connection',
  'upgrade',
  'sec-websocket-key',
  'sec-websocket-version',
  'sec-websocket-extensions',
  'sec-websocket-protocol',
  'content-length',
  'transfer-encoding',
]);

const UPSTREAM = Symbol('websocket upstream');
interface Carrier {
  [UPSTREAM]?: WebSocket;
}

/** Open bridges, for the gauge and the drain (close 1001). */
export interface BridgeHooks {
  opened(service: string): void;
  closed(service: string): void;
}

const server = new WebSocketServer({
  noServer: true,
  perMessageDeflate: false,
  maxPayload: MAX_PAYLOAD,
  autoPong: false,
  clientTracking: false,
  // The subprotocol the backend chose is the one the client gets.
  handleProtocols: (_offered, req) => (req as Carrier)[UPSTREAM]?.protocol || false,
});

const open = new Set<{ client: WebSocket; upstream: WebSocket }>();

/** Closes every open bridge with 1001 (going away): the end of the drain. */
export function closeAllWebSockets(reason = 'gateway shutting down'): number {
  const n = open.size;
  for (const b of open) {
    b.client.close(1001, reason);
    b.upstream.close(1001, reason);
  }
  return n;
}

/**
 * One attempt at the backend's handshake. Resolves once both sides are connected (the
 * client's upgrade accepted); rejects with the failure the client is to get as HTTP. A
 * non-101 answer from the backend goes to the client as it is (status, headers, body).
 */
export function bridgeWebSocket(
  req: IncomingMessage,
  res: ServerResponse,
  target: UpstreamTarget,
  service: string,
  timeoutMs: number,
  hooks: BridgeHooks,
): Promise<void> {
  const ctx = contextOf(req);
  const up = ctx?.upgrade;
  if (!up) return Promise.reject(new Error('bridgeWebSocket without an upgrade'));
  const headers: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v !== undefined && !HANDSHAKE.has(k)) headers[k] = v;
  }
  if (target.origin.host !== undefined) headers.host = target.origin.host;
  const protocols = (req.headers['sec-websocket-protocol'] ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  const scheme = target.url.startsWith('https:') ? 'wss:' : 'ws:';
  const url = `${scheme}//${target.label}${target.basePath}${req.url ?? '/'}`;
  const tls = target.tls;
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    const upstream = new WebSocket(url, protocols, {
      headers,
      handshakeTimeout: timeoutMs,
      perMessageDeflate: false,
      maxPayload: MAX_PAYLOAD,
      autoPong: false,
      followRedirects: false,
      ...(target.origin.servername ? { servername: target.origin.servername } : {}),
      ...(tls?.ca ? { ca: tls.ca } : {}),
      ...(tls?.cert ? { cert: tls.cert, key: tls.key } : {}),
    });
    const fail = (f: UpstreamFailure) => {
      if (settled) return;
      settled = true;
      reject(f);
    };
    // The client went away during the backend's handshake.
    const onClientGone = () => {
      upstream.terminate();
      fail(new UpstreamFailure('client-gone', service));
    };
    up.socket.once('close', onClientGone);
    upstream.once('unexpected-response', (_r, answer: IncomingMessage) => {
      if (settled) return;
      const status = answer.statusCode ?? 502;
      res.writeHead(status, answer.headers);
      answer.pipe(res);
      // The backend's answer went to the client: 5xx counts against the breaker.
      fail(
        status >= 500
          ? new UpstreamFailure('server-error', service, String(status))
          : new UpstreamFailure('client-gone', service),
      );
    });
    upstream.once('error', (err: NodeJS.ErrnoException) => {
      const code = err.code ?? '';
      if (/timed out/i.test(err.message))
        fail(new UpstreamFailure('timeout', service, String(timeoutMs)));
      else
        fail(
          new UpstreamFailure(code === 'ECONNREFUSED' ? 'refused' : 'unreachable', service, code),
        );
    });
    upstream.once('open', () => {
      if (settled) return;
      settled = true;
      up.socket.off('close', onClientGone);
      (req as Carrier)[UPSTREAM] = upstream;
      res.statusCode = 101; // for the access log and the metrics of this call
      releaseSlot(ctx); // an upgraded WebSocket holds no concurrency slot
      // The handshake is checked on the headers as the client sent them.
      Object.assign(req.headers, up.handshake);
      server.handleUpgrade(req, up.socket, up.head, (client) => {
        relay(client, upstream, service, hooks);
        resolve();
      });
    });
  });
}

/** Close codes an endpoint may send (RFC 6455 §7.4). */
function sendable(code: number): boolean {
  return (
    (code >= 1000 && code <= 1003) ||
    (code >= 1007 && code <= 1014) ||
    (code >= 3000 && code <= 4999)
  );
}

function relay(client: WebSocket, upstream: WebSocket, service: string, hooks: BridgeHooks): void {
  const bridge = { client, upstream };
  open.add(bridge);
  hooks.opened(service);
  const pipe = (from: WebSocket, to: WebSocket) => {
    from.on('message', (data: WebSocket.RawData, isBinary: boolean) => {
      if (to.readyState === WebSocket.OPEN) to.send(data as Buffer, { binary: isBinary });
    });
    from.on('ping', (data: Buffer) => {
      if (to.readyState === WebSocket.OPEN) to.ping(data);
    });
    from.on('pong', (data: Buffer) => {
      if (to.readyState === WebSocket.OPEN) to.pong(data);
    });
    from.on('close', (code: number, reason: Buffer) => {
      if (to.readyState === WebSocket.OPEN || to.readyState === WebSocket.CONNECTING) {
        if (sendable(code)) to.close(code, reason);
        else if (code === 1005) to.close();
        else to.terminate();
      }
    });
    from.on('error', () => to.terminate());
  };
  pipe(client, upstream);
  pipe(upstream, client);
  let ended = 0;
  const onEnd = () => {
    ended += 1;
    if (ended === 2) {
      open.delete(bridge);
      hooks.closed(service);
    }
  };
  client.once('close', onEnd);
  upstream.once('close', onEnd);
}
