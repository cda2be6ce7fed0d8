// METRICS_PORT: /metrics on a listener of its own (same HOST), so the public port need not
// expose it. The listener serves nothing else; it reads the same prom-client registry the
// gateway's metrics are registered in.
import { createServer, type Server } from 'node:http';

import { register } from 'prom-client';

import { sendError } from '../common/error-response';
import { listenOn } from '../common/listen';
import { requestIdFrom } from '../common/request-id';
import { gatewayMetricsText } from './cluster-metrics';

/** Starts the metrics listener; resolves once it listens. */
export async function startMetricsListener(host: string, port: number): Promise<Server> {
  const server = createServer(
    { maxHeaderSize: 8192, headersTimeout: 10_000, requestTimeout: 10_000, keepAliveTimeout: 5000 },
    (req, res) => {
      const id = requestIdFrom(req.headers['x-request-id']);
      const url = req.url ?? '';
      const q = url.indexOf('?');
      if ((q === -1 ? url : url.slice(0, q)) !== '/metrics') {
        return sendError(res, 404, 'no route', id);
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        return sendError(res, 405, 'method not allowed', id, { Allow: 'GET, HEAD' });
      }
      gatewayMetricsText().then(
        (text) => {
          res.writeHead(200, {
            'Content-Type': register.contentType,
            'Cache-Control': 'no-store',
            'Content-Length': Buffer.byteLength(text),
            'X-Request-ID': id,
          });
          res.end(req.method === 'HEAD' ? undefined : text);
        },
        () => sendError(res, 503, 'metrics could not be collected', id),
      );
    },
  );
  server.on('clientError', (_err, socket) => socket.destroy());
  await listenOn(server, port, host);
  return server;
}

/** Closes the listener and its idle keep-alive connections. */
export function closeMetricsListener(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
