// The bare baseline the gateway is measured against: http-proxy with one keep-alive agent and
// nothing else (no routing, auth, limits or logging).
import http from 'node:http';

import httpProxy from 'http-proxy';

const target = process.env.TARGET;
if (!target) {
  console.error('reference proxy: TARGET (the backend base URL) is required');
  process.exit(1);
}

const agent = new http.Agent({
  keepAlive: true,
  maxSockets: Infinity,
  maxFreeSockets: 256,
  scheduling: 'lifo',
});
const proxy = httpProxy.createProxyServer({ target, agent });

proxy.on('error', (_err, _req, res) => {
  // For a plain HTTP request `res` is a ServerResponse; a socket only comes with upgrades.
  if (res instanceof http.ServerResponse && !res.headersSent) {
    res.writeHead(502, { 'content-type': 'application/json' });
    res.end('{"statusCode":502,"error":"Bad Gateway"}');
  } else {
    res.destroy();
  }
});

http
  .createServer((req, res) => proxy.web(req, res))
  .on('upgrade', (req, socket, head) => proxy.ws(req, socket, head))
  .listen(Number(process.env.PORT ?? 0), '127.0.0.1');
