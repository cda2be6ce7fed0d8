// The bench's upstream: as cheap as a Node HTTP server gets, so the numbers measure the proxy.
import http from 'node:http';

const BODY = Buffer.from(
  JSON.stringify({
    ok: true,
    service: 'bench',
    items: [1, 2, 3],
    note: 'a small, fixed JSON answer of about a hundred bytes',
  }),
);
const HEADERS = { 'content-type': 'application/json', 'content-length': BODY.length };

const server = http.createServer((_req, res) => {
  res.writeHead(200, HEADERS);
  res.end(BODY);
});
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1');
