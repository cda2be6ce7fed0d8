// A real node:http JWKS endpoint on 127.0.0.1:0 whose key set can be rotated, slowed down
// or made to fail.
import type { JsonWebKey } from 'node:crypto';
import { createServer, type Server } from 'node:http';

import { listen } from './listen';

export interface JwksServer {
  /** The `jwksUri` to configure. */
  readonly uri: string;
  /** How many times the set was fetched. */
  readonly fetches: number;
  /** The most fetches that were in progress at once. */
  readonly maxConcurrent: number;
  /** Replaces the published set (key rotation). */
  publish(keys: readonly JsonWebKey[]): void;
  /** Answer every fetch with this status (500: an outage) or, undefined, with the set. */
  failWith(status: number | undefined): void;
  /** Hold every answer this long. */
  delay(ms: number): void;
  close(): Promise<void>;
}

export async function startJwksServer(initial: readonly JsonWebKey[]): Promise<JwksServer> {
  let keys = initial;
  let fetches = 0;
  let active = 0;
  let maxConcurrent = 0;
  let status: number | undefined;
  let delayMs = 0;
  const server: Server = createServer((req, res) => {
    if (req.url !== '/.well-known/jwks.json') {
      res.writeHead(404).end();
      return;
    }
    fetches++;
    active++;
    maxConcurrent = Math.max(maxConcurrent, active);
    const answer = () => {
      active--;
      if (status !== undefined) {
        res.writeHead(status).end();
        return;
      }
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ keys }));
    };
    if (delayMs > 0) setTimeout(answer, delayMs);
    else answer();
  });
  const { port, close } = await listen(server);
  return {
    uri: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    get fetches() {
      return fetches;
    },
    get maxConcurrent() {
      return maxConcurrent;
    },
    publish(next) {
      keys = next;
    },
    failWith(next) {
      status = next;
    },
    delay(ms) {
      delayMs = ms;
    },
    close,
  };
}
