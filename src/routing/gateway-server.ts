// The HTTP server the gateway listens on. Nest's ExpressAdapter would create it with
// Express as the request listener and no parser limits; ours is created with the
// contract's limits and timeouts and a listener that the entry takes over once wired.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import {
  createSecureServer,
  createServer as createH2cServer,
  type Http2SecureServer,
  type Http2Server,
  type ServerHttp2Session,
  type Settings,
} from 'node:http2';
import type { Server as NetServer, Socket } from 'node:net';

import { ExpressAdapter } from '@nestjs/platform-express';

import { errorBody, sendError, sendTerminus } from '../common/error-response';
import { requestIdFrom } from '../common/request-id';
import type { ServerSettings } from '../config/config.schema';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

export class GatewayHttpAdapter extends ExpressAdapter {
  private handler: Handler = (req, res) => {
    // Before the pipeline is wired (start-up) nothing is served yet; the probes get the
    // Terminus body they always get, everything else the contract's error body.
    const id = requestIdFrom(req.headers['x-request-id']);
    const probe = req.url === '/ready' || req.url === '/health';
    const down = { gateway: { status: 'down', phase: 'starting' } };
    if (probe) {
      const body = { status: 'error', info: {}, error: down, details: down };
      return sendTerminus(res, 503, body, id, { Connection: 'close' });
    }
    sendError(res, 503, 'starting', id, { Connection: 'close' });
  };

  /** Settings given now (start-up) or by the gateway module once its config has loaded. */
  constructor(private settings?: ServerSettings) {
    super();
  }

  configure(settings: ServerSettings): void {
    this.settings ??= settings;
  }

  /** Installs the request listener (GatewayEntry.handle). */
  setRequestHandler(handler: Handler): void {
    this.handler = handler;
  }

  override initHttpServer(): void {
    const s = this.settings;
    if (!s) throw new Error('GatewayHttpAdapter: no server settings (import GatewayModule)');
    const server = createServer(
      {
        // Node counts the request line with the headers: give the parser both limits; the
        // entry then tells 414 from 431 on the parsed request.
        maxHeaderSize: s.maxHeaderSize + s.maxUrlLength,
        headersTimeout: s.clientHeadersTimeoutMs,
        requestTimeout: s.clientRequestTimeoutMs,
        keepAliveTimeout: s.keepAliveTimeoutMs,
        connectionsCheckingInterval: 1000,
      },
      (req, res) => this.handler(req, res),
    );
    server.on('clientError', onClientError);
    // Each target's http-proxy-middleware subscribes once to the server's 'close'; a
    // gateway with many targets is not a listener leak.
    server.setMaxListeners(0);
    if (s.http2Cleartext) acceptH2c(server, s, (req, res) => this.handler(req, res));
    this.httpServer = server;
  }
}

/**
 * The HTTP/2 sessions a listener holds: draining sends each a GOAWAY (open streams finish),
 * the end of the drain destroys what is left. An idle session (no open stream) is closed
 * after keepAliveTimeoutMs, the HTTP/1.1 keep-alive rule; a stream that is merely silent
 * (an event stream between events) keeps its session.
 */
export class Http2Sessions {
  private readonly sessions = new Set<ServerHttp2Session>();
  /** TLS sockets of the HTTPS listener: its HTTP/1.1 ones have no closeAllConnections. */
  private readonly sockets = new Set<Socket>();

  track(server: Http2Server | Http2SecureServer, idleMs: number): void {
    server.on('session', (session: ServerHttp2Session) => {
      this.sessions.add(session);
      let open = 0;
      session.on('stream', (stream) => {
        open++;
        stream.once('close', () => open--);
      });
      if (idleMs > 0) {
        session.setTimeout(idleMs, () => {
          if (open === 0) session.close();
        });
      }
      session.once('close', () => this.sessions.delete(session));
      // A peer's protocol errors end its session; nothing to log or answer.
      session.on('error', noop);
    });
  }

  trackSockets(server: NetServer, event: 'secureConnection'): void {
    server.on(event, (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
  }

  goAway(): void {
    for (const s of this.sessions) if (!s.closed) s.close();
  }

  destroyAll(): void {
    for (const s of this.sessions) s.destroy();
    for (const s of this.sockets) s.destroy();
  }
}

/** The sessions of each public listener (ServerLifecycle.drain reads them). */
const SESSIONS = new WeakMap<NetServer, Http2Sessions>();

export function http2SessionsOf(server: NetServer): Http2Sessions | undefined {
  return SESSIONS.get(server);
}

const noop = () => undefined;

/**
 * The contract's HTTP/2 limits: 100 concurrent streams; a header list nghttp2 accepts up
 * to four times the gateway's own limits, so the entry answers between the two with the
 * 431 JSON body (past that nghttp2 resets the stream: a flood, not a mistake); as many
 * header fields as Node's HTTP/1.1 parser takes. Rapid resets: nghttp2's rate limit
 * (1000 burst, 33/s, Node's default) closes the session.
 */
function http2Options(s: ServerSettings): { settings: Settings; maxHeaderListPairs: number } {
  return {
    settings: {
      maxConcurrentStreams: 100,
      maxHeaderListSize: 4 * (s.maxHeaderSize + s.maxUrlLength),
    },
    maxHeaderListPairs: 2000,
  };
}

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

/**
 * server.http2Cleartext: the plain listener also takes HTTP/2 with prior knowledge. Each
 * new connection's first bytes decide: the HTTP/2 preface goes to an HTTP/2 server, anything
 * else to the HTTP/1.1 server's own connection handling, with the bytes put back. A
 * connection that sends nothing for clientHeadersTimeoutMs is closed, as HTTP/1.1 ones are.
 */
function acceptH2c(server: Server, s: ServerSettings, handler: Handler): void {
  const h2 = createH2cServer(http2Options(s), handler as never);
  const sessions = new Http2Sessions();
  sessions.track(h2, s.keepAliveTimeoutMs);
  SESSIONS.set(server, sessions);
  const http1 = server.listeners('connection') as ((socket: Socket) => void)[];
  server.removeAllListeners('connection');
  server.on('connection', (socket: Socket) => {
    socket.on('error', noop);
    const timer = setTimeout(() => socket.destroy(), s.clientHeadersTimeoutMs);
    let got: Buffer | undefined;
    const onData = (chunk: Buffer) => {
      got = got ? Buffer.concat([got, chunk]) : chunk;
      const n = Math.min(got.length, PREFACE.length);
      const preface = got.subarray(0, n).equals(PREFACE.subarray(0, n));
      if (preface && got.length < PREFACE.length) return;
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('error', noop);
      socket.pause();
      socket.unshift(got);
      if (preface) {
        h2.emit('connection', socket);
        return;
      }
      for (const l of http1) l.call(server, socket);
      socket.resume();
    };
    socket.on('data', onData);
    socket.once('close', () => clearTimeout(timer));
  });
}

/**
 * The HTTPS listener (server.tls): `h2` and `http/1.1` by ALPN, the same request handler
 * as the plain listener (one pipeline for every protocol), the same upgrade listener and
 * client-error answers. Node's HTTP/1.1 fallback here ignores the parser and timeout
 * options, so they are set as properties. The certificate is replaced in place on reload
 * (`setSecureContext`).
 */
export function createTlsServer(
  s: ServerSettings,
  tls: { cert: string; key: string },
  handler: Handler,
): Http2SecureServer {
  const server = createSecureServer(
    {
      cert: tls.cert,
      key: tls.key,
      minVersion: s.tls?.minVersion ?? 'TLSv1.2',
      ALPNProtocols: ['h2', 'http/1.1'],
      allowHTTP1: true,
      ...http2Options(s),
    },
    handler as never,
  );
  const http1 = server as unknown as Record<string, number>;
  http1.maxHeaderSize = s.maxHeaderSize + s.maxUrlLength;
  http1.headersTimeout = s.clientHeadersTimeoutMs;
  http1.requestTimeout = s.clientRequestTimeoutMs;
  http1.keepAliveTimeout = s.keepAliveTimeoutMs;
  http1.connectionsCheckingInterval = 1000;
  server.on('clientError', onClientError);
  // A failed handshake (a plain-HTTP client, a bad SNI) is the client's problem: no log.
  server.on('tlsClientError', (_err: Error, socket: Socket) => socket.destroy());
  server.setMaxListeners(0);
  const sessions = new Http2Sessions();
  sessions.track(server, s.keepAliveTimeoutMs);
  sessions.trackSockets(server, 'secureConnection');
  SESSIONS.set(server, sessions);
  return server;
}

const CLIENT_ERRORS: Record<string, [number, string]> = {
  HPE_HEADER_OVERFLOW: [431, 'request header block is larger than the limit'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'request not received in time'],
  ERR_HTTP_HEADERS_TIMEOUT: [408, 'request headers not received in time'],
};

interface HttpSocket extends Socket {
  _httpMessage?: { headersSent?: boolean };
}

/**
 * Node's parser and timeouts answer with a bare status line; the contract wants the JSON
 * body and a request id. Write it only when no response is under way on that socket.
 */
function onClientError(err: NodeJS.ErrnoException, socket: HttpSocket): void {
  const code = err.code ?? '';
  if (code === 'ECONNRESET' || !socket.writable || socket._httpMessage?.headersSent) {
    socket.destroy();
    return;
  }
  const [status, message] = CLIENT_ERRORS[code] ?? [400, 'malformed request'];
  const id = requestIdFrom(undefined);
  const payload = errorBody(status, message, id);
  const body = JSON.stringify(payload);
  socket.end(
    `HTTP/1.1 ${status} ${payload.error}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nX-Request-ID: ${id}\r\n` +
      `Connection: close\r\n\r\n${body}`,
  );
}
