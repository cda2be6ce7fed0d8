// HTTP/2 through the real gateway: h2 by ALPN on the HTTPS listener and h2c (prior
// knowledge) on the plain one, against the same routes as HTTP/1.1 over TLS. Clients are
// node:http2, undici 7 (allowH2) and node:https; the backends are real node:http servers.
// Asserted: identical backend-seen requests and identical error bodies on every protocol,
// own endpoints (health, OAuth, admin) over h2, no connection-specific response fields, a
// stream reset that aborts the upstream request, the contract's session limits (100 streams,
// rapid resets, 431 JSON, idle close), streams counted by maxConcurrentRequests, and GOAWAY
// at the drain with the open stream finishing.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import {
  type ClientHttp2Session,
  connect as h2connect,
  constants,
  type IncomingHttpHeaders as H2Headers,
  type OutgoingHttpHeaders,
} from 'node:http2';
import { request as httpsRequest } from 'node:https';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';

import jwt from 'jsonwebtoken';
import { Agent, request as undiciRequest } from 'undici';

import { startBackend, type TestBackend } from './support/backend';
import { listen } from './support/listen';
import { poll } from './support/poll';
import { rawRequest } from './support/raw-http';
import { startTestGateway, type TestGateway } from './support/test-gateway';
import { selfSigned } from './support/tls';

const SECRET = 'http2-spec-hs256-secret-7c1e9a3b5d';
const ADMIN_KEY = 'http2-admin-key-4b8d2f6a';
const CLIENT_SECRET = 'http2-client-secret-9e3a7c1f';

function token(claims: Record<string, unknown>): string {
  const now = Math.floor(Date.now() / 1000);
  return jwt.sign({ iss: 'api-gateway', aud: 'api', iat: now, exp: now + 300, ...claims }, SECRET, {
    algorithm: 'HS256',
  });
}

interface Reply {
  status: number;
  headers: Record<string, unknown>;
  body: Buffer;
}

/** One request on an HTTP/2 session. */
function h2request(
  session: ClientHttp2Session,
  headers: OutgoingHttpHeaders,
  body?: string | Buffer,
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const stream = session.request(headers, { endStream: body === undefined });
    const chunks: Buffer[] = [];
    let head: H2Headers = {};
    stream.on('response', (h) => (head = h));
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () =>
      resolve({ status: Number(head[':status']), headers: head, body: Buffer.concat(chunks) }),
    );
    stream.on('error', reject);
    if (body !== undefined) stream.end(body);
  });
}

/** One HTTP/1.1 request over TLS (no ALPN offered: the server's HTTP/1.1 fallback). */
function h1tls(
  port: number,
  ca: string,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string,
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      { host: '127.0.0.1', port, method, path, headers, ca, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function connectH2(url: string, ca?: string): Promise<ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const s = h2connect(url, ca ? { ca } : {});
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

/** What the backend saw, minus the per-request id. */
function seen(r: { method: string; url: string; headers: IncomingHttpHeaders; body: Buffer }) {
  const headers: Record<string, unknown> = { ...r.headers };
  delete headers['x-request-id'];
  return { method: r.method, url: r.url, headers, body: r.body.toString('utf8') };
}

const waitFor = (cond: () => boolean, ms: number) =>
  poll(() => (cond() ? true : undefined), ms, 'the condition');

const json = (r: Reply) => JSON.parse(r.body.toString('utf8')) as Record<string, unknown>;
const withoutId = (b: Record<string, unknown>) => ({ ...b, requestId: undefined });

/** A backend that streams a chunk every 10 ms until its client goes; records when it went. */
async function endlessBackend(): Promise<{
  url: string;
  closedAt: number[];
  close(): Promise<void>;
}> {
  const closedAt: number[] = [];
  const server: Server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    const timer = setInterval(() => res.write(Buffer.alloc(16 * 1024, 7)), 10);
    res.once('close', () => {
      clearInterval(timer);
      closedAt.push(Date.now());
    });
  });
  const { url, close } = await listen(server);
  return { url, closedAt, close };
}

describe('HTTP/2 (e2e)', () => {
  let pki: string;
  let cert: { cert: string; key: string };
  let backend: TestBackend;
  let endless: Awaited<ReturnType<typeof endlessBackend>>;
  let gw: TestGateway;
  let tlsUrl: string;

  beforeAll(async () => {
    pki = mkdtempSync(join(tmpdir(), 'gw-h2-'));
    cert = selfSigned(pki, 'gateway-h2');
    backend = await startBackend({ kind: 'echo' });
    endless = await endlessBackend();
    gw = await startTestGateway(
      {
        gateway: [
          'server:',
          '  tls: { certFile: tls/cert.pem, keyFile: tls/key.pem }',
          '  http2Cleartext: true',
          '  maxHeaderSize: 4096',
          '  maxUrlLength: 1024',
          'auth:',
          `  jwt: { secret: ${SECRET}, issuer: api-gateway, audience: api }`,
          '  apiKeys:',
          `    keys: [{ name: admin-bot, key: ${ADMIN_KEY}, roles: [admin] }]`,
          'oauth:',
          `  clients: [{ clientId: acme, clientSecret: ${CLIENT_SECRET}, scopes: [a], roles: [user] }]`,
          'rateLimit: { enabled: false }',
        ].join('\n'),
        services: {
          e: [
            'name: e',
            `targets: [{ url: "${backend.url}" }]`,
            'routes:',
            '  - { path: /api/e/*, rewrite: /* }',
            '  - { path: /api/secure/*, rewrite: /*, auth: jwt, methods: [GET] }',
          ].join('\n'),
          dl: `name: dl\ntargets: [{ url: "${endless.url}" }]\nroutes: [{ path: /api/dl/*, rewrite: /* }]\n`,
        },
        extra: { 'tls/cert.pem': cert.cert, 'tls/key.pem': cert.key },
      },
      { HTTPS_PORT: '0' },
    );
    tlsUrl = `https://127.0.0.1:${gw.httpsPort}`;
  }, 60_000);

  afterAll(async () => {
    await gw?.close();
    await backend?.close();
    await endless?.close();
    if (pki) rmSync(pki, { recursive: true, force: true });
  });

  it('offers h2 and http/1.1 by ALPN', async () => {
    const alpn = (protocols: string[]) =>
      new Promise<string | false>((resolve, reject) => {
        const s = tlsConnect(
          { host: '127.0.0.1', port: gw.httpsPort!, ca: cert.cert, ALPNProtocols: protocols },
          () => {
            resolve(s.alpnProtocol ?? false);
            s.end();
          },
        );
        s.on('error', reject);
      });
    expect(await alpn(['h2', 'http/1.1'])).toBe('h2');
    expect(await alpn(['http/1.1'])).toBe('http/1.1');
  });

  it('forwards the same request to the backend from HTTP/1.1, h2, undici h2 and h2c', async () => {
    const headers = { 'content-type': 'text/plain', 'x-custom': 'one', 'content-length': '5' };
    const path = '/api/e/orders?x=1';
    const views: ReturnType<typeof seen>[] = [];

    const one = await h1tls(gw.httpsPort!, cert.cert, 'POST', path, headers, 'hello');
    expect(one.status).toBe(200);
    views.push(seen(backend.received.at(-1)!));

    const session = await connectH2(tlsUrl, cert.cert);
    const two = await h2request(session, { ':method': 'POST', ':path': path, ...headers }, 'hello');
    session.close();
    expect(two.status).toBe(200);
    expect(two.headers['x-request-id']).toEqual(expect.any(String));
    // RFC 9113 §8.2.2: no connection-specific field in an HTTP/2 response.
    for (const f of ['connection', 'keep-alive', 'transfer-encoding', 'upgrade']) {
      expect(two.headers[f]).toBeUndefined();
    }
    views.push(seen(backend.received.at(-1)!));

    const agent = new Agent({ allowH2: true, connect: { ca: cert.cert } });
    try {
      const three = await undiciRequest(`${tlsUrl}${path}`, {
        method: 'POST',
        headers,
        body: 'hello',
        dispatcher: agent,
      });
      await three.body.text();
      expect(three.statusCode).toBe(200);
      // Over HTTP/1.1 the gateway says `connection: keep-alive`; over h2 nothing.
      expect(three.headers.connection).toBeUndefined();
      views.push(seen(backend.received.at(-1)!));
    } finally {
      await agent.close();
    }

    const host = `127.0.0.1:${gw.httpsPort}`;
    for (const v of views) {
      expect(v).toEqual({ ...views[0], headers: { ...views[0].headers } });
      expect(v.headers['x-forwarded-proto']).toBe('https');
      expect(v.headers['x-forwarded-host']).toBe(host);
      expect(Object.keys(v.headers).some((k) => k.startsWith(':'))).toBe(false);
    }
    expect(views[0]).toMatchObject({ method: 'POST', url: '/orders?x=1', body: 'hello' });

    // h2c on the plain port: the same request, X-Forwarded-Proto: http.
    const clear = await connectH2(gw.url);
    const four = await h2request(clear, { ':method': 'POST', ':path': path, ...headers }, 'hello');
    clear.close();
    expect(four.status).toBe(200);
    const v4 = seen(backend.received.at(-1)!);
    expect(v4).toMatchObject({ method: 'POST', url: '/orders?x=1', body: 'hello' });
    expect(v4.headers['x-forwarded-proto']).toBe('http');
    expect(v4.headers['x-custom']).toBe('one');
  });

  it('frames an h2 body without Content-Length as chunked for the backend', async () => {
    const session = await connectH2(tlsUrl, cert.cert);
    const r = await h2request(
      session,
      { ':method': 'PUT', ':path': '/api/e/up' },
      'x'.repeat(70_000),
    );
    session.close();
    expect(r.status).toBe(200);
    const got = backend.received.at(-1)!;
    expect(got.headers['transfer-encoding']).toBe('chunked');
    expect(got.body.length).toBe(70_000);
  });

  it('answers errors with the same JSON body on every protocol', async () => {
    const cases: { path: string; headers?: Record<string, string>; status: number }[] = [
      { path: '/nowhere', status: 404 },
      { path: '/api/secure/x', status: 401 },
      { path: '/api/e/' + 'a'.repeat(1100), status: 414 },
      { path: '/api/e/x', headers: { 'x-big': 'b'.repeat(5000) }, status: 431 },
    ];
    const session = await connectH2(tlsUrl, cert.cert);
    const clear = await connectH2(gw.url);
    try {
      for (const c of cases) {
        const h1 = await h1tls(gw.httpsPort!, cert.cert, 'GET', c.path, c.headers ?? {});
        const h2 = await h2request(session, { ':path': c.path, ...c.headers });
        const h2c = await h2request(clear, { ':path': c.path, ...c.headers });
        expect([c.path.slice(0, 20), h1.status, h2.status, h2c.status]).toEqual([
          c.path.slice(0, 20),
          c.status,
          c.status,
          c.status,
        ]);
        expect(withoutId(json(h2))).toEqual(withoutId(json(h1)));
        expect(withoutId(json(h2c))).toEqual(withoutId(json(h1)));
        expect(json(h2).requestId).toBe(h2.headers['x-request-id']);
        expect(h2.headers['content-type']).toBe('application/json; charset=utf-8');
        expect(h2.headers.connection).toBeUndefined();
      }
      // A method the route does not take: 405 with Allow, over h2 too.
      const post = await h2request(session, { ':method': 'POST', ':path': '/api/secure/x' }, '');
      expect(post.status).toBe(405);
      expect(post.headers.allow).toBe('GET, HEAD');
      // The right token on the same route passes.
      const ok = await h2request(session, {
        ':path': '/api/secure/x',
        authorization: `Bearer ${token({ sub: 'alice' })}`,
      });
      expect(ok.status).toBe(200);
      expect(backend.received.at(-1)!.headers['x-user-id']).toBe('alice');
    } finally {
      session.close();
      clear.close();
    }
  });

  it('refuses a stream whose Host differs from :authority (400)', async () => {
    const session = await connectH2(tlsUrl, cert.cert);
    const before = backend.received.length;
    // (node:http2 turns a lone `host` into :authority: both are sent here.)
    const r = await h2request(session, {
      ':path': '/api/e/x',
      ':authority': `127.0.0.1:${gw.httpsPort}`,
      host: 'evil.example',
    });
    session.close();
    expect(r.status).toBe(400);
    expect(json(r)).toMatchObject({ statusCode: 400, message: 'Host and :authority differ' });
    expect(backend.received.length).toBe(before);
  });

  it('serves /health, /ready, /oauth/token and the admin API over h2 and h2c', async () => {
    for (const url of [tlsUrl, gw.url]) {
      const session = await connectH2(url, url === tlsUrl ? cert.cert : undefined);
      try {
        const health = await h2request(session, { ':path': '/health' });
        expect(health.status).toBe(200);
        expect(json(health)).toMatchObject({ status: 'ok' });
        expect(health.headers['x-request-id']).toEqual(expect.any(String));
        const ready = await h2request(session, { ':path': '/ready' });
        expect(ready.status).toBe(200);

        const form = `grant_type=client_credentials&client_id=acme&client_secret=${CLIENT_SECRET}`;
        // No content-length: the stream's DATA frames are the body.
        const issued = await h2request(
          session,
          {
            ':method': 'POST',
            ':path': '/oauth/token',
            'content-type': 'application/x-www-form-urlencoded',
          },
          form,
        );
        expect(issued.status).toBe(200);
        expect(json(issued)).toMatchObject({ token_type: 'Bearer' });
        expect(issued.headers['cache-control']).toBe('no-store');
        const wrong = await h2request(
          session,
          {
            ':method': 'POST',
            ':path': '/oauth/token',
            'content-type': 'application/x-www-form-urlencoded',
          },
          'grant_type=client_credentials&client_id=acme&client_secret=nope',
        );
        expect(wrong.status).toBe(401);
        expect(json(wrong)).toMatchObject({ error: 'invalid_client' });

        const routes = await h2request(session, {
          ':path': '/api/gateway/routes',
          'x-api-key': ADMIN_KEY,
        });
        expect(routes.status).toBe(200);
        expect(JSON.stringify(json(routes))).toContain('/api/e/*');
        const denied = await h2request(session, { ':path': '/api/gateway/routes' });
        expect(denied.status).toBe(401);
        // The JSON body of an admin POST arrives as well (a reload, over h2).
        const reload = await h2request(
          session,
          {
            ':method': 'POST',
            ':path': '/api/gateway/reload',
            'x-api-key': ADMIN_KEY,
            'content-type': 'application/json',
          },
          '{}',
        );
        expect(reload.status).toBe(200);
        for (const r of [health, issued, routes]) expect(r.headers.connection).toBeUndefined();
      } finally {
        session.close();
      }
    }
  });

  it('a stream reset mid-download ends the upstream request', async () => {
    const session = await connectH2(tlsUrl, cert.cert);
    const stream = session.request({ ':path': '/api/dl/file' });
    let received = 0;
    await new Promise<void>((resolve) => {
      stream.on('data', (c: Buffer) => {
        received += c.length;
        if (received > 64 * 1024) resolve();
      });
    });
    const before = endless.closedAt.length;
    const resetAt = Date.now();
    stream.close(constants.NGHTTP2_CANCEL);
    await waitFor(() => endless.closedAt.length > before, 3000);
    expect(endless.closedAt.at(-1)! - resetAt).toBeLessThan(2000);
    // The session lives on: the next stream is served.
    expect((await h2request(session, { ':path': '/api/e/after' })).status).toBe(200);
    session.close();
  });

  it('announces 100 concurrent streams and closes a session that resets streams rapidly', async () => {
    const session = await connectH2(tlsUrl, cert.cert);
    await new Promise<void>((r) =>
      session.remoteSettings ? r() : session.once('remoteSettings', () => r()),
    );
    expect(session.remoteSettings.maxConcurrentStreams).toBe(100);
    session.on('error', () => undefined);
    const closed = new Promise<number>((resolve) =>
      session.once('goaway', (code: number) => resolve(code)),
    );
    let sent = 0;
    const burst = () => {
      if (session.destroyed || session.closed) return;
      for (let i = 0; i < 50; i++) {
        const s = session.request({ ':path': '/api/e/r' });
        s.on('error', () => undefined);
        setImmediate(() => s.close(constants.NGHTTP2_CANCEL));
        sent++;
      }
      if (sent < 20_000) setTimeout(burst, 1);
    };
    burst();
    const code = await Promise.race([
      closed,
      new Promise<string>((r) => setTimeout(() => r('open'), 8000).unref()),
    ]);
    expect(code).not.toBe('open');
    session.destroy();
    // Other sessions are not affected.
    const next = await connectH2(tlsUrl, cert.cert);
    expect((await h2request(next, { ':path': '/health' })).status).toBe(200);
    next.close();
  });

  it('keeps HTTP/1.1 on the plain port working beside h2c (keep-alive, split request head)', async () => {
    const r = await rawRequest({ port: gw.port, path: '/api/e/plain' });
    expect(r.status).toBe(200);
    // A request head that arrives in pieces is still HTTP/1.1.
    const text = await new Promise<string>((resolve, reject) => {
      const s = netConnect(gw.port, '127.0.0.1', () => {
        s.write('GET /api/e/split HTTP/1.1\r\nHo');
        setTimeout(() => s.write('st: x\r\nConnection: close\r\n\r\n'), 100);
      });
      let out = '';
      s.on('data', (c: Buffer) => (out += c.toString('latin1')));
      s.on('end', () => resolve(out));
      s.on('error', reject);
    });
    expect(text.startsWith('HTTP/1.1 200')).toBe(true);
    expect(backend.received.at(-1)!.url).toBe('/split');
    // The HTTP/2 preface in pieces is still HTTP/2: the server's SETTINGS come back.
    const frame = await new Promise<Buffer>((resolve, reject) => {
      const s = netConnect(gw.port, '127.0.0.1', () => {
        s.write('PRI * HTTP/2.0\r\n');
        setTimeout(
          () => s.write(Buffer.concat([Buffer.from('\r\nSM\r\n\r\n'), EMPTY_SETTINGS])),
          100,
        );
      });
      s.once('data', (c: Buffer) => {
        resolve(c);
        s.destroy();
      });
      s.on('error', reject);
    });
    expect(frame[3]).toBe(0x4); // a SETTINGS frame
  });
});

describe('h2c on the plain port: a connection that stalls before its first bytes are known (e2e)', () => {
  let backend: TestBackend;
  let gw: TestGateway;

  beforeAll(async () => {
    backend = await startBackend({ kind: 'echo' });
    gw = await startTestGateway({
      gateway: [
        'server:',
        '  http2Cleartext: true',
        '  clientHeadersTimeoutMs: 500',
        'rateLimit: { enabled: false }',
      ].join('\n'),
      services: {
        e: `name: e\ntargets: [{ url: "${backend.url}" }]\nroutes: [{ path: /api/e/*, rewrite: /* }]\n`,
      },
    });
  }, 60_000);

  afterAll(async () => {
    await gw?.close();
    await backend?.close();
  });

  /** Connects, writes `bytes` (if any), then waits for the gateway to close the socket. */
  const closedAfter = (bytes?: string) =>
    new Promise<{ ms: number; got: number }>((resolve, reject) => {
      const started = Date.now();
      let got = 0;
      const s = netConnect(gw.port, '127.0.0.1', () => {
        if (bytes) s.write(bytes);
      });
      s.on('data', (c: Buffer) => (got += c.length));
      s.on('close', () => resolve({ ms: Date.now() - started, got }));
      s.on('error', () => undefined);
      setTimeout(() => {
        s.destroy();
        reject(new Error('the gateway kept a stalled connection open for 5 s'));
      }, 5000).unref();
    });

  it('closes a connection that sends nothing, after clientHeadersTimeoutMs', async () => {
    const r = await closedAfter();
    expect(r.ms).toBeGreaterThanOrEqual(400);
    expect(r.ms).toBeLessThan(2500);
    expect(r.got).toBe(0);
  });

  it('closes a connection that stops inside the HTTP/2 preface, after clientHeadersTimeoutMs', async () => {
    const r = await closedAfter('PRI * HTTP/2.0\r\n');
    expect(r.ms).toBeGreaterThanOrEqual(400);
    expect(r.ms).toBeLessThan(2500);
    expect(r.got).toBe(0);
    // Nothing of it reached a backend, and the listener still serves.
    expect(backend.received).toHaveLength(0);
    expect((await rawRequest({ port: gw.port, path: '/api/e/after' })).status).toBe(200);
    expect(backend.received.map((r) => r.url)).toEqual(['/after']);
  });
});

/** An HTTP/2 SETTINGS frame with no settings (RFC 9113 §6.5). */
const EMPTY_SETTINGS = Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]);

describe('HTTP/2 sessions: limits, idle close and drain (e2e)', () => {
  let pki: string;
  let cert: { cert: string; key: string };
  let backend: TestBackend;
  let gw: TestGateway;
  let release: (text: string) => void;

  beforeAll(async () => {
    pki = mkdtempSync(join(tmpdir(), 'gw-h2d-'));
    cert = selfSigned(pki, 'gateway-h2d');
    backend = await startBackend({ kind: 'echo' });
    gw = await startTestGateway(
      {
        gateway: [
          'server:',
          '  tls: { certFile: tls/cert.pem, keyFile: tls/key.pem }',
          '  keepAliveTimeoutMs: 400',
          '  maxConcurrentRequests: 2',
          '  shutdownTimeoutMs: 5000',
          'rateLimit: { enabled: false }',
        ].join('\n'),
        services: {
          e: `name: e\ntargets: [{ url: "${backend.url}" }]\nroutes: [{ path: /api/e/*, rewrite: /* }]\n`,
        },
        extra: { 'tls/cert.pem': cert.cert, 'tls/key.pem': cert.key },
      },
      { HTTPS_PORT: '0' },
    );
  }, 60_000);

  afterAll(async () => {
    await gw?.close();
    await backend?.close();
    if (pki) rmSync(pki, { recursive: true, force: true });
  });

  const url = () => `https://127.0.0.1:${gw.httpsPort}`;

  it('closes an idle session after keepAliveTimeoutMs, not one with a silent open stream', async () => {
    const idle = await connectH2(url(), cert.cert);
    expect((await h2request(idle, { ':path': '/api/e/a' })).status).toBe(200);
    const idleClosed = new Promise<void>((r) => idle.once('close', () => r()));
    const t0 = Date.now();
    await idleClosed;
    expect(Date.now() - t0).toBeLessThan(2000);

    const rest = new Promise<string>((r) => (release = r));
    backend.behaviour = { kind: 'stream', first: 'event: one\n\n', rest };
    const busy = await connectH2(url(), cert.cert);
    const stream = busy.request({ ':path': '/api/e/events' });
    const chunks: string[] = [];
    stream.setEncoding('utf8');
    stream.on('data', (c: string) => chunks.push(c));
    const ended = new Promise<void>((r) => stream.on('end', () => r()));
    await waitFor(() => chunks.length > 0, 3000);
    await new Promise((r) => setTimeout(r, 1000)); // silent for 2.5× keepAliveTimeoutMs
    expect(busy.closed || busy.destroyed).toBe(false);
    release('event: two\n\n');
    await ended;
    expect(chunks.join('')).toBe('event: one\n\nevent: two\n\n');
    busy.close();
    backend.behaviour = { kind: 'echo' };
  });

  it('counts each stream toward maxConcurrentRequests: the third is shed with 503', async () => {
    backend.behaviour = { kind: 'delay', ms: 800 };
    const session = await connectH2(url(), cert.cert);
    try {
      const slow = [
        h2request(session, { ':path': '/api/e/1' }),
        h2request(session, { ':path': '/api/e/2' }),
      ];
      await waitFor(() => backend.received.filter((r) => r.url === '/2').length > 0, 3000);
      const third = await h2request(session, { ':path': '/api/e/3' });
      expect(third.status).toBe(503);
      expect(third.headers['retry-after']).toBe('1');
      expect(json(third)).toMatchObject({ statusCode: 503, message: 'overloaded' });
      // Own endpoints are never shed.
      expect((await h2request(session, { ':path': '/health' })).status).toBe(200);
      expect((await Promise.all(slow)).map((r) => r.status)).toEqual([200, 200]);
    } finally {
      session.close();
      backend.behaviour = { kind: 'echo' };
    }
  });

  it('sends GOAWAY at the drain and lets the open stream finish', async () => {
    backend.behaviour = { kind: 'delay', ms: 600 };
    const session = await connectH2(url(), cert.cert);
    session.on('error', () => undefined);
    const goaway = new Promise<number>((r) => session.once('goaway', (code: number) => r(code)));
    const inFlight = h2request(session, { ':path': '/api/e/last' });
    await waitFor(() => backend.received.some((r) => r.url === '/last'), 3000);
    const stopping = gw.shutdown();
    expect(await goaway).toBe(constants.NGHTTP2_NO_ERROR);
    const last = await inFlight;
    expect(last.status).toBe(200);
    expect(last.headers.connection).toBeUndefined();
    await stopping;
  });
});
