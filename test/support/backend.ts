// A real node:http backend on 127.0.0.1:0 that records what reached it and fails on command.
import {
  createServer,
  type IncomingHttpHeaders,
  type Server,
  type ServerResponse,
} from 'node:http';

import { listen } from './listen';

export interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  body: Buffer;
}

export type Behaviour =
  | { kind: 'echo' }
  /** Answer with this status, headers (an array = the field repeated) and body. */
  | { kind: 'status'; status: number; headers?: Record<string, string | string[]>; body?: string }
  /** Answer 200 with `patternBytes(size)`, written in 64 KiB chunks; chunked: no Content-Length. */
  | { kind: 'bytes'; size: number; chunked?: boolean }
  /** Send the head and `first` at once, then the text `rest` resolves to and end. */
  | { kind: 'stream'; first: string; rest: Promise<string> }
  /** Never answer. */
  | { kind: 'hang' }
  /** Destroy the socket before any response byte. */
  | { kind: 'reset' }
  /** Answer after a delay. */
  | { kind: 'delay'; ms: number };

export interface TestBackend {
  readonly url: string;
  readonly port: number;
  readonly received: Received[];
  behaviour: Behaviour;
  /** Stops accepting and cuts every open connection: the port then refuses. */
  close(): Promise<void>;
}

export async function startBackend(behaviour: Behaviour = { kind: 'echo' }): Promise<TestBackend> {
  const received: Received[] = [];
  const state = { behaviour };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r: Received = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        body: Buffer.concat(chunks),
      };
      received.push(r);
      respond(state.behaviour, r, res);
    });
  });
  const { url, port, close } = await listen(server);
  return {
    url,
    port,
    received,
    get behaviour() {
      return state.behaviour;
    },
    set behaviour(b: Behaviour) {
      state.behaviour = b;
    },
    close,
  };
}

/** Deterministic, non-repeating-looking bytes (every byte value occurs) for body round trips. */
export function patternBytes(size: number, seed = 0): Buffer {
  const out = Buffer.allocUnsafe(size);
  let x = (seed * 2654435761 + 0x9e3779b9) >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    // xorshift32
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

function respond(b: Behaviour, r: Received, res: ServerResponse): void {
  switch (b.kind) {
    case 'echo': {
      const body = JSON.stringify({
        method: r.method,
        url: r.url,
        headers: r.headers,
        bodyLength: r.body.length,
      });
      res.writeHead(200, { 'Content-Type': 'application/json', 'X-Backend': 'echo' });
      res.end(body);
      return;
    }
    case 'status':
      res.writeHead(b.status, b.headers ?? {});
      res.end(b.body ?? '');
      return;
    case 'bytes': {
      const data = patternBytes(b.size);
      res.writeHead(
        200,
        b.chunked
          ? { 'Content-Type': 'application/octet-stream' }
          : { 'Content-Type': 'application/octet-stream', 'Content-Length': String(b.size) },
      );
      const CHUNK = 64 * 1024;
      let offset = 0;
      const pump = (): void => {
        while (offset < data.length) {
          const piece = data.subarray(offset, offset + CHUNK);
          offset += piece.length;
          if (!res.write(piece)) {
            res.once('drain', pump);
            return;
          }
        }
        res.end();
      };
      pump();
      return;
    }
    case 'stream':
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.write(b.first);
      void b.rest.then((rest) => res.end(rest));
      return;
    case 'hang':
      return;
    case 'reset':
      res.socket?.destroy();
      return;
    case 'delay':
      setTimeout(() => {
        res.writeHead(200, { 'Content-Type': 'text/plain' });
        res.end('late');
      }, b.ms);
      return;
  }
}
