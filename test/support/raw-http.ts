// Low-level clients for e2e specs: node:http sends the path exactly as given (no
// normalisation, no re-encoding), and a raw socket lets a spec send heads Node's client
// would refuse and read the reply byte for byte.
import { createHash } from 'node:crypto';
import { type Agent, type IncomingHttpHeaders, type OutgoingHttpHeaders, request } from 'node:http';
import { connect } from 'node:net';

import { poll } from './poll';

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  body: Buffer;
  /** Milliseconds from sending to the end of the response body. */
  ms: number;
  /** The request went out on a socket an agent had kept alive. */
  reusedSocket: boolean;
}

export interface RawRequest {
  port: number;
  method?: string;
  /** Sent as is: `/a/../b`, `//x` and `%2e%2e` reach the server unchanged. */
  path: string;
  headers?: OutgoingHttpHeaders | [string, string][];
  /** Written at once (with Content-Length unless the headers say otherwise or `chunks` is used). */
  body?: Buffer | string;
  /** Written one by one without Content-Length: the body goes chunked. */
  chunks?: Buffer[];
  agent?: Agent | false;
}

/**
 * One request with node:http. Resolves once the response body has ended; write errors after
 * the response arrived (the server answered early and closed) are ignored.
 */
export function rawRequest(r: RawRequest): Promise<RawResponse> {
  return new Promise<RawResponse>((resolve, reject) => {
    const started = process.hrtime.bigint();
    let answered = false;
    const ownHost = hasHeader(r.headers, 'host');
    // Pairs go as Node's flat [name, value, ...] list (order and repeats kept); Node adds no
    // Host to such a list, so it is added here unless given.
    const headers = Array.isArray(r.headers)
      ? [...(ownHost ? [] : ['Host', `127.0.0.1:${r.port}`]), ...r.headers.flat()]
      : r.headers;
    const req = request(
      {
        host: '127.0.0.1',
        port: r.port,
        method: r.method ?? 'GET',
        path: r.path,
        headers,
        agent: r.agent ?? false,
        setHost: !ownHost && !Array.isArray(r.headers),
      },
      (res) => {
        answered = true;
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            rawHeaders: res.rawHeaders,
            body: Buffer.concat(chunks),
            ms: Number(process.hrtime.bigint() - started) / 1e6,
            reusedSocket: req.reusedSocket,
          }),
        );
      },
    );
    req.on('error', (err) => {
      if (!answered) reject(err);
    });
    if (r.chunks) {
      for (const c of r.chunks) req.write(c);
      req.end();
    } else {
      req.end(r.body);
    }
  });
}

function hasHeader(h: RawRequest['headers'], name: string): boolean {
  if (!h) return false;
  if (Array.isArray(h)) return h.some(([k]) => k.toLowerCase() === name);
  return Object.keys(h).some((k) => k.toLowerCase() === name);
}

export interface RawSocketReply {
  /** Everything the server wrote before it closed the connection (or `idleMs` passed). */
  text: string;
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * Writes `data` on a fresh TCP connection and reads until the server closes it, or until
 * nothing has arrived for `idleMs` after the first byte.
 */
export function rawSocket(
  port: number,
  data: string | Buffer,
  idleMs = 2000,
): Promise<RawSocketReply> {
  return new Promise<RawSocketReply>((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect(port, '127.0.0.1');
    let timer: NodeJS.Timeout | undefined;
    const finish = () => {
      if (timer) clearTimeout(timer);
      socket.destroy();
      resolve(parseReply(Buffer.concat(chunks).toString('latin1')));
    };
    socket.on('connect', () => socket.write(data));
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      if (timer) clearTimeout(timer);
      timer = setTimeout(finish, idleMs);
    });
    // The server may reset the connection while we still write a large head: what it wrote
    // before that is what counts.
    socket.on('error', (err) => (chunks.length > 0 ? finish() : reject(err)));
    socket.on('end', finish);
  });
}

function parseReply(text: string): RawSocketReply {
  const split = text.indexOf('\r\n\r\n');
  const head = split === -1 ? text : text.slice(0, split);
  const body = split === -1 ? '' : text.slice(split + 4);
  const [statusLine, ...lines] = head.split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0)
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { text, status, headers, body };
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Waits (without sleeping a fixed time) for a log line, for lines written on `close`. */
export async function waitForLog(
  logs: readonly Record<string, unknown>[],
  predicate: (line: Record<string, unknown>) => boolean,
  timeoutMs = 2000,
): Promise<Record<string, unknown>> {
  return poll(() => logs.find(predicate), timeoutMs, 'a log line', 1);
}
