// The two demo backends the shipped config/ proxies to. `npm run demo:backends` runs them alone;
// demo/run.ts starts them in-process next to the gateway.
import http from 'node:http';

// 127.0.0.1 by default; containers set DEMO_BACKENDS_HOST=0.0.0.0 so the gateway can reach them.
const HOST = process.env.DEMO_BACKENDS_HOST || '127.0.0.1';
const STATUS_PATH = /^\/api\/status\/(\d{3})$/;

function sendJson(
  res: http.ServerResponse,
  status: number,
  body: unknown,
  headers: http.OutgoingHttpHeaders = {},
): void {
  // These statuses have no body by definition; a Content-Length would make clients wait for one.
  if (status === 204 || status === 304) {
    res.writeHead(status, headers);
    res.end();
    return;
  }
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(payload),
  });
  res.end(payload);
}

function handle(name: string, req: http.IncomingMessage, res: http.ServerResponse): void {
  const url = req.url ?? '/';
  const queryAt = url.indexOf('?');
  const path = queryAt === -1 ? url : url.slice(0, queryAt);
  const query = queryAt === -1 ? '' : url.slice(queryAt + 1);
  const tagged = { 'x-demo-backend': name };

  if (path === '/health' && req.method === 'GET') {
    req.resume();
    sendJson(res, 200, { status: 'ok', service: name });
    return;
  }

  const status = STATUS_PATH.exec(path);
  if (status) {
    req.resume();
    const code = Number(status[1]);
    // 1xx are not final answers; Node would not send them as one.
    if (code < 200 || code > 599) {
      sendJson(res, 400, { service: name, error: 'status must be 200-599' }, tagged);
    } else {
      sendJson(res, code, { service: name, status: code }, tagged);
    }
    return;
  }

  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    sendJson(
      res,
      200,
      {
        service: name,
        method: req.method,
        path,
        query,
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      },
      tagged,
    );
  });
}

/** Resolves once the backend listens on 127.0.0.1:`port`; rejects if it cannot (port taken). */
export function startDemoBackend(name: string, port: number): Promise<http.Server> {
  const server = http.createServer((req, res) => handle(name, req, res));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, HOST, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

/** Stops accepting, drops idle keep-alive sockets and resolves when the server is closed. */
export function stopDemoBackend(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
    // A client holding a request open must not keep the demo from stopping.
    setTimeout(() => server.closeAllConnections(), 1000).unref();
  });
}

function portFromEnv(variable: string, fallback: number): number {
  const raw = process.env[variable];
  if (raw === undefined || raw === '') return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`${variable} must be a port number (0-65535)`);
  }
  return port;
}

/** The ports both demo entry points use, so they always agree with the shipped config. */
export function demoBackendPorts(): { service1: number; service2: number } {
  return {
    service1: portFromEnv('SERVICE1_PORT', 3001),
    service2: portFromEnv('SERVICE2_PORT', 3002),
  };
}

async function main(): Promise<void> {
  const ports = demoBackendPorts();
  const servers: http.Server[] = [];
  for (const [name, port] of Object.entries(ports)) {
    const server = await startDemoBackend(name, port);
    servers.push(server);
    const address = server.address();
    const actual = typeof address === 'object' && address !== null ? address.port : port;
    console.log(`${name} listening on http://${HOST}:${actual}`);
  }

  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    void Promise.all(servers.map(stopDemoBackend)).then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(`demo backends: ${err instanceof Error ? err.message : String(err)}`);
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      console.error(
        'other ports: SERVICE1_PORT / SERVICE2_PORT (the gateway then needs SERVICE1_URL / SERVICE2_URL)',
      );
    }
    process.exit(1);
  });
}
