// The HTTP server the gateway listens on. Nest's ExpressAdapter would create it with
// Express as the request listener and no parser limits; ours is created with the
// contract's limits and timeouts and a listener that the entry takes over once wired.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';

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
    this.httpServer = server;
  }
}

/**
 * The HTTPS listener (server.tls): HTTP/1.1 over TLS with the plain listener's limits and
 * timeouts, the same request handler (so one pipeline for both) and client-error answers.
 * Its certificate is replaced in place on reload (`setSecureContext`).
 */
export function createTlsServer(
  s: ServerSettings,
  tls: { cert: string; key: string },
  handler: Handler,
): HttpsServer {
  const server = createHttpsServer(
    {
      cert: tls.cert,
      key: tls.key,
      minVersion: s.tls?.minVersion ?? 'TLSv1.2',
      ALPNProtocols: ['http/1.1'],
      maxHeaderSize: s.maxHeaderSize + s.maxUrlLength,
      headersTimeout: s.clientHeadersTimeoutMs,
      requestTimeout: s.clientRequestTimeoutMs,
      keepAliveTimeout: s.keepAliveTimeoutMs,
      connectionsCheckingInterval: 1000,
    },
    handler,
  );
  server.on('clientError', onClientError);
  // A failed handshake (a plain-HTTP client, a bad SNI) is the client's problem: no log.
  server.on('tlsClientError', (_err, socket) => socket.destroy());
  server.setMaxListeners(0);
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
