// A real node:http JWKS endpoint on 127.0.0.1:0 whose key set can be rotated.
import type { JsonWebKey } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface JwksServer {
  /** The `jwksUri` to configure. */
  readonly uri: string;
  /** How many times the set was fetched. */
  readonly fetches: number;
  /** Replaces the published set (key rotation). */
  publish(keys: readonly JsonWebKey[]): void;
  close(): Promise<void>;
}

export async function startJwksServer(initial: readonly JsonWebKey[]): Promise<JwksServer> {
  let keys = initial;
  let fetches = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    if (req.url !== '/.well-known/jwks.json') {
      res.writeHead(404).end();
      return;
    }
    fetches++;
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ keys }));
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    uri: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    get fetches() {
      return fetches;
    },
    publish(next) {
      keys = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
