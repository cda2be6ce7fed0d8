// The bench's upstream: as cheap as a Node HTTP server gets, so the numbers measure the proxy.
import http from 'node:http';

import { WebSocketServer } from 'ws';

const BODY = Buffer.from(
  JSON.stringify({
    ok: true,
    service: 'bench',
    items: [1, 2, 3],
    note: 'a small, fixed JSON answer of about a hundred bytes',
  }),
);
const HEADERS = { 'content-type': 'application/json', 'content-length': BODY.length };

const server = http.createServer((req, res) => {
  // The full-tracing scenario exports its spans here (OTLP/HTTP): taken and answered empty.
  if (req.method === 'POST' && req.url?.startsWith('/v1/')) {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-length': 0 }).end());
    return;
  }
  res.writeHead(200, HEADERS);
  res.end(BODY);
});
// The websocket scenario: every message echoed as it came.
const echo = new WebSocketServer({ noServer: true, perMessageDeflate: false });
server.on('upgrade', (req, socket, head) =>
  echo.handleUpgrade(req, socket, head, (ws) =>
    ws.on('message', (data, isBinary) => ws.send(data as Buffer, { binary: isBinary })),
  ),
);
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1');
