// Backends with failure modes the recording backend lacks (a health endpoint that fails on
// its own, a socket closed under a reused keep-alive connection, a trickled body), a
// refusing address, a small HTTP client that times its calls, and a bounded poll.
import { once } from 'node:events';
import { type Agent, createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';

import { listen } from './listen';
import { rawRequest } from './raw-http';

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** Milliseconds from sending to the end of the body. */
  ms: number;
  /** The request went out on a socket an agent had kept alive. */
  reusedSocket: boolean;
}

export interface CallOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  agent?: Agent | false;
}

/** One HTTP call to 127.0.0.1 (the specs' one client, rawRequest), the body as text. */
export async function call(port: number, path: string, o: CallOptions = {}): Promise<Reply> {
  const r = await rawRequest({ port, path, ...o });
  return { ...r, body: r.body.toString() };
}

/** A URL whose port refused connections when it was made (a server was opened and closed there). */
export async function refusingUrl(): Promise<string> {
  const l = await listen(createServer());
  await l.close();
  return l.url;
}

export type HealthMode = 'ok' | 'fail' | 'hang';

export interface CheckedBackend {
  readonly url: string;
  readonly port: number;
  /** Calls other than health probes, in order (method and url). */
  readonly hits: string[];
  /** Health probes received. */
  probes: number;
  /** What `GET /health` answers: 200, 500, or nothing at all. */
  health: HealthMode;
  close(): Promise<void>;
}

/** A backend whose `/health` answer is set apart from its traffic, which it always echoes 200. */
export async function startCheckedBackend(): Promise<CheckedBackend> {
  const state = {
    hits: [] as string[],
    probes: 0,
    health: 'ok' as HealthMode,
  };
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.url === '/health') {
        state.probes++;
        if (state.health === 'hang') return;
        res.writeHead(state.health === 'ok' ? 200 : 500, { 'Content-Type': 'text/plain' });
        res.end(state.health);
        return;
      }
      state.hits.push(`${req.method} ${req.url}`);
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end(`hello from ${port}`);
    });
  });
  const l = await listen(server);
  const port = l.port;
  return Object.assign(state, { url: l.url, port, close: l.close });
}

export interface StaleSocketBackend {
  readonly url: string;
  /** Requests answered (always the first on their connection). */
  answered: number;
  /** Requests on a reused connection, closed without a response byte. */
  closedUnanswered: number;
  /** Bodies of the requests that were answered. */
  readonly bodies: string[];
  close(): Promise<void>;
}

/**
 * A backend that serves one request per connection and keeps it open, then closes it
 * without a byte when the client sends another on it: what a client sees when the backend
 * dropped an idle keep-alive socket just as the next request went out on it. Deterministic,
 * unlike a 1 ms keepAliveTimeout, where the client usually sees the close before reusing.
 */
export async function startStaleSocketBackend(): Promise<StaleSocketBackend> {
  const served = new WeakSet<Socket>();
  const state = { answered: 0, closedUnanswered: 0, bodies: [] as string[] };
  const server = createServer((req, res) => {
    const socket = req.socket;
    if (served.has(socket)) {
      state.closedUnanswered++;
      socket.destroy();
      return;
    }
    served.add(socket);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      state.answered++;
      state.bodies.push(Buffer.concat(chunks).toString());
      res.writeHead(200, { 'Content-Type': 'text/plain', 'Keep-Alive': 'timeout=30' });
      res.end(`answer ${state.answered}`);
    });
  });
  server.keepAliveTimeout = 30_000;
  const l = await listen(server);
  return Object.assign(state, { url: l.url, close: l.close });
}

export interface TrickleBackend {
  readonly url: string;
  readonly hits: number;
  close(): Promise<void>;
}

/** Sends the head at once, then `pieces` one every `everyMs`, then ends (no Content-Length). */
export async function startTrickleBackend(
  pieces: readonly string[],
  everyMs: number,
): Promise<TrickleBackend> {
  const state = { hits: 0 };
  const server = createServer((req, res) => {
    state.hits++;
    req.resume();
    res.writeHead(200, { 'Content-Type': 'text/plain', 'X-Trickle': 'yes' });
    res.flushHeaders();
    trickle(res, pieces, everyMs);
  });
  const l = await listen(server);
  return {
    url: l.url,
    get hits() {
      return state.hits;
    },
    close: l.close,
  };
}

function trickle(res: ServerResponse, pieces: readonly string[], everyMs: number): void {
  let i = 0;
  const timer = setInterval(() => {
    if (res.destroyed) {
      clearInterval(timer);
      return;
    }
    res.write(pieces[i++]);
    if (i === pieces.length) {
      clearInterval(timer);
      res.end();
    }
  }, everyMs);
}

export interface RawExchange {
  readonly socket: Socket;
  /** Settles when the server closes the connection: what it wrote, and when (performance.now). */
  readonly closed: Promise<{ text: string; at: number }>;
}

/** A raw TCP connection to the gateway, for heads Node's client would never send. */
export async function rawConnection(port: number): Promise<RawExchange> {
  const socket = connect(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  const closed = new Promise<{ text: string; at: number }>((resolve) => {
    // A write racing the server's close may fail; what the server wrote is what counts.
    socket.on('error', () => undefined);
    socket.on('close', () =>
      resolve({ text: Buffer.concat(chunks).toString('latin1'), at: performance.now() }),
    );
  });
  await once(socket, 'connect');
  return { socket, closed };
}

export interface ParsedReply {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Splits one HTTP/1.1 reply read off a raw socket (a body delimited by the close). */
export function parseReply(text: string): ParsedReply {
  const split = text.indexOf('\r\n\r\n');
  const head = split === -1 ? text : text.slice(0, split);
  const [statusLine, ...lines] = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0)
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return {
    status: Number(/^HTTP\/1\.[01] (\d{3}) /.exec(statusLine)?.[1] ?? 0),
    headers,
    body: split === -1 ? '' : text.slice(split + 4),
  };
}

/** Resolves once a TCP connection to `port` is accepted; rejects with the socket error. */
export function connectOnce(port: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve();
    });
    socket.once('error', reject);
  });
}
