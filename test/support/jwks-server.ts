// A real node:http JWKS endpoint on 127.0.0.1:0 whose key set can be rotated.
import type { JsonWebKey } from 'node:crypto';
import { createServer, type Server } from 'node:http';

import { listen } from './listen';

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
  const server: Server = createServer((req, res) => {
    if (req.url !== '/.well-known/jwks.json') {
      res.writeHead(404).end();
      return;
    }
    fetches++;
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ keys }));
  });
  const { port, close } = await listen(server);
  return {
    uri: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    get fetches() {
      return fetches;
    },
    publish(next) {
      keys = next;
    },
    close,
  };
}
