// HTTP/2 streams take the same pipeline as HTTP/1.1 requests. Node's compatibility objects
// (Http2ServerRequest / Http2ServerResponse) already look like IncomingMessage and
// ServerResponse; what differs is fixed here, once per stream, before anything reads them:
// pseudo-headers leave `headers` (http-proxy copies it into an HTTP/1.1 request, where
// `:path` is not a valid name), `:authority` becomes `host`, and connection-specific
// response fields are dropped instead of reaching nghttp2 (which throws on them).
// Express 5 cannot take the compatibility objects at all (it swaps their prototypes): the
// gateway's own endpoints get HTTP/1.1-shaped views of the stream (`expressView`).
import { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import { Duplex } from 'node:stream';

import type { GatewayRequest } from '../common/request-context';

/** RFC 9113 §8.2.2: never in an HTTP/2 message. */
const CONNECTION_SPECIFIC = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
]);

export function isHttp2(req: IncomingMessage): boolean {
  return req.httpVersionMajor === 2;
}

type Headers = Record<string, string | string[] | undefined>;

/** Own `setHeader` of every HTTP/2 response: connection-specific names are dropped. */
function setHeaderH2(this: Http2ServerResponse, name: string, value: number | string | string[]) {
  if (CONNECTION_SPECIFIC.has(name.toLowerCase())) return this;
  return (Object.getPrototypeOf(this) as Http2ServerResponse).setHeader.call(this, name, value);
}

/**
 * Prepares an HTTP/2 stream's request and response for the pipeline. Returns a message for
 * a 400 when the request cannot be one of ours (CONNECT, no authority, `Host` and
 * `:authority` that disagree — RFC 9113 §8.3.1).
 */
export function adaptHttp2(req: IncomingMessage, res: ServerResponse): string | undefined {
  const h2req = req as unknown as Http2ServerRequest;
  const raw = h2req.headers as Headers;
  const headers: Headers = {};
  for (const k in raw) if (k.charCodeAt(0) !== 58 /* : */) headers[k] = raw[k];
  // The instance property hides the prototype's getter: everything downstream reads these.
  Object.defineProperty(req, 'headers', { value: headers, writable: true, configurable: true });
  Object.defineProperty(res, 'setHeader', { value: setHeaderH2, writable: true });
  // http-proxy and plugins may set a reason phrase; HTTP/2 has none (and Node warns).
  Object.defineProperty(res, 'statusMessage', { value: '', writable: true });
  if (raw[':method'] === 'CONNECT') return 'CONNECT is not supported';
  const authority = raw[':authority'];
  if (typeof authority === 'string') {
    if (headers.host !== undefined && headers.host !== authority) {
      return 'Host and :authority differ';
    }
    headers.host = authority;
  } else if (headers.host === undefined) {
    return 'request has no :authority';
  }
  // A stream that did not end with its HEADERS frame has a body even without
  // Content-Length: say so, so every HTTP/1.1 hop after this one frames it (chunked).
  if (!h2req.stream.endAfterHeaders && headers['content-length'] === undefined) {
    headers['transfer-encoding'] = 'chunked';
  }
  return undefined;
}

/** Where an own endpoint's socket facts come from (Express reads ip, protocol from it). */
class StreamSocket extends Duplex {
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  readonly remoteFamily: string | undefined;
  readonly localAddress: string | undefined;
  readonly localPort: number | undefined;
  readonly encrypted: boolean;

  constructor(from: Http2ServerRequest['socket']) {
    super();
    this.remoteAddress = from.remoteAddress;
    this.remotePort = from.remotePort;
    this.remoteFamily = from.remoteFamily;
    this.localAddress = from.localAddress;
    this.localPort = from.localPort;
    this.encrypted = (from as { encrypted?: boolean }).encrypted === true;
  }

  override _read(): void {}
  override _write(_c: unknown, _e: BufferEncoding, cb: () => void): void {
    cb();
  }
  setTimeout(): this {
    return this;
  }
  setNoDelay(): this {
    return this;
  }
  setKeepAlive(): this {
    return this;
  }
}

interface OutgoingInternals {
  _header: string | null;
  finished: boolean;
}

/**
 * An IncomingMessage and a ServerResponse that Express can own, bound to an HTTP/2 stream:
 * the request body flows from the stream (with its back-pressure), and the response's head
 * and body go to the stream once written. Own endpoints only; proxied calls never need it.
 */
export function expressView(
  req: IncomingMessage,
  res: ServerResponse,
): [IncomingMessage, ServerResponse] {
  const h2req = req as unknown as Http2ServerRequest;
  const h2res = res as unknown as Http2ServerResponse;
  const view = new IncomingMessage(new StreamSocket(h2req.socket) as never);
  view.method = req.method;
  view.url = req.url;
  view.httpVersion = '2.0';
  view.httpVersionMajor = 2;
  view.httpVersionMinor = 0;
  view.headers = req.headers;
  const raw: string[] = [];
  for (const k in req.headers) {
    const v = req.headers[k];
    for (const one of Array.isArray(v) ? v : [v ?? '']) raw.push(k, one);
  }
  view.rawHeaders = raw;
  // The call's context (request id, client IP, labels) rides on the view as on the stream.
  (view as GatewayRequest).gateway = (req as GatewayRequest).gateway;
  view._read = () => void h2req.resume();
  h2req.on('data', (chunk: Buffer) => {
    if (!view.push(chunk)) h2req.pause();
  });
  h2req.once('end', () => {
    view.complete = true;
    view.push(null);
  });
  h2req.once('aborted', () => view.destroy());

  const out = new ServerResponse(view);
  const state = out as unknown as OutgoingInternals;
  let headSent = false;
  const flushHead = () => {
    if (headSent) return;
    headSent = true;
    const headers = out.getHeaders();
    for (const k in headers) h2res.setHeader(k, headers[k] as string | string[]);
    h2res.writeHead(out.statusCode);
    state._header = 'HTTP/2'; // headersSent from here on, as after an HTTP/1.1 head
  };
  out.writeHead = (status: number, reason?: unknown, headers?: unknown) => {
    out.statusCode = status;
    const fields = (typeof reason === 'object' ? reason : headers) as Headers | undefined;
    if (fields) for (const k in fields) out.setHeader(k, fields[k] as string);
    flushHead();
    return out;
  };
  out.write = ((chunk: unknown, enc?: unknown, cb?: unknown) => {
    flushHead();
    return h2res.write(chunk as Buffer, enc as BufferEncoding, cb as () => void);
  }) as ServerResponse['write'];
  out.end = ((chunk?: unknown, enc?: unknown, cb?: unknown) => {
    if (typeof chunk === 'function') [chunk, cb] = [undefined, chunk];
    flushHead();
    state.finished = true;
    h2res.end(chunk as Buffer, enc as BufferEncoding, cb as () => void);
    return out;
  }) as ServerResponse['end'];
  out.flushHeaders = flushHead;
  h2res.on('drain', () => out.emit('drain'));
  h2res.once('finish', () => out.emit('finish'));
  h2res.once('close', () => {
    view.emit('close');
    out.emit('close');
  });
  return [view, out];
}
