import { Agent, request as httpRequest } from 'node:http';

import request from 'supertest';

import { patternBytes, startBackend, type TestBackend } from './support/backend';
import { rawRequest, rawSocket, sha256, waitForLog } from './support/raw-http';
import { startTestGateway, type TestGateway } from './support/test-gateway';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const FIVE_MB = 5 * 1024 * 1024;

// Rate limiting is off so that hundreds of calls from one IP stay within the proxy's concern.
const GATEWAY = `server:\n  bodyLimit: 10mb\nrateLimit:\n  enabled: false\n`;
const TRUSTING_GATEWAY = `server:\n  trustProxy: ["127.0.0.1/32"]\nrateLimit:\n  enabled: false\n`;

function service(name: string, targets: string, routes: string, extra = ''): string {
  return `name: ${name}\ntargets: ${targets}\n${extra}routes:\n${routes}`;
}

/** Which of `backends` received each of `count` calls made by `call`, in order. */
async function sequenceOf(
  backends: TestBackend[],
  count: number,
  call: () => Promise<void>,
): Promise<number[]> {
  const seen: number[] = [];
  for (let i = 0; i < count; i++) {
    const before = backends.map((b) => b.received.length);
    await call();
    const hit = backends.findIndex((b, j) => b.received.length === before[j] + 1);
    const total = backends.reduce((n, b, j) => n + b.received.length - before[j], 0);
    expect(total).toBe(1);
    seen.push(hit);
  }
  return seen;
}

describe('Proxy', () => {
  let backend: TestBackend;
  let a: TestBackend;
  let b: TestBackend;
  let gw: TestGateway;
  let trusting: TestGateway;
  const agent = new Agent({ keepAlive: true });

  beforeAll(async () => {
    [backend, a, b] = await Promise.all([startBackend(), startBackend(), startBackend()]);
    gw = await startTestGateway({
      gateway: GATEWAY,
      services: {
        orders: service(
          'orders',
          `[{ url: "${backend.url}" }]`,
          `  - path: /api/orders/*\n    rewrite: /v1/*\n`,
        ),
        rr: service('rr', `[{ url: "${a.url}" }, { url: "${b.url}" }]`, `  - path: /api/rr/*\n`),
        weighted: service(
          'weighted',
          `[{ url: "${a.url}", weight: 3 }, { url: "${b.url}", weight: 1 }]`,
          `  - path: /api/w/*\n`,
          'loadBalancing: weighted\n',
        ),
      },
    });
    trusting = await startTestGateway({
      gateway: TRUSTING_GATEWAY,
      services: {
        orders: service(
          'orders',
          `[{ url: "${backend.url}" }]`,
          `  - path: /api/orders/*\n    rewrite: /v1/*\n`,
        ),
      },
    });
  });

  afterAll(async () => {
    agent.destroy();
    await gw.close();
    await trusting.close();
    await Promise.all([backend.close(), a.close(), b.close()]);
  });

  beforeEach(() => {
    for (const x of [backend, a, b]) {
      x.received.splice(0);
      x.behaviour = { kind: 'echo' };
    }
  });

  describe('what reaches the backend', () => {
    it('forwards method, rewritten path, query and body', async () => {
      const res = await request(gw.url)
        .post('/api/orders/42/items?x=1&y=%20')
        .set('Content-Type', 'application/json')
        .send('{"a":1}');
      expect(res.status).toBe(200);
      expect(res.headers['x-backend']).toBe('echo');
      expect(backend.received).toHaveLength(1);
      const got = backend.received[0];
      expect(got.method).toBe('POST');
      expect(got.url).toBe('/v1/42/items?x=1&y=%20');
      expect(got.body.toString()).toBe('{"a":1}');
      expect(got.headers.host).toBe(`127.0.0.1:${backend.port}`);
    });

    it.each(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'])(
      'forwards the %s method unchanged',
      async (method) => {
        const res = await rawRequest({ port: gw.port, method, path: '/api/orders/m' });
        expect(res.status).toBe(200);
        expect(res.headers['x-backend']).toBe('echo');
        if (method !== 'HEAD') expect(JSON.parse(res.body.toString())).toMatchObject({ method });
        expect(backend.received).toHaveLength(1);
        expect(backend.received[0].method).toBe(method);
        expect(backend.received[0].url).toBe('/v1/m');
      },
    );

    it('passes the query string through byte for byte', async () => {
      const query = '?x=1&y=%20&z=%2e%2E&empty=&a=1&a=2&euro=%E2%82%AC&plus=a+b&slash=%2F';
      const res = await rawRequest({ port: gw.port, path: `/api/orders/q${query}` });
      expect(res.status).toBe(200);
      expect(backend.received).toHaveLength(1);
      expect(backend.received[0].url).toBe(`/v1/q${query}`);
    });

    it('passes every end-to-end header and all body bytes unchanged', async () => {
      const body = Buffer.from(Array.from({ length: 512 }, (_, i) => i % 256));
      const res = await rawRequest({
        port: gw.port,
        method: 'PUT',
        path: '/api/orders/h',
        headers: [
          ['Host', 'public.example.com'],
          ['Content-Type', 'application/octet-stream'],
          ['Content-Length', String(body.length)],
          ['Accept', 'application/json, text/plain;q=0.5'],
          ['Accept-Language', 'de-CH'],
          ['Authorization', 'Bearer not-read-on-auth-none'],
          ['Cookie', 'a=1; b=2'],
          ['Cache-Control', 'no-cache'],
          ['If-None-Match', '"abc"'],
          ['User-Agent', 'proxy-spec/1.0'],
          ['X-Custom', '  spaced value  '],
          ['X-Empty', ''],
          ['X-Username', 'not-an-x-user-header'],
        ],
        body,
      });
      expect(res.status).toBe(200);
      expect(backend.received).toHaveLength(1);
      const got = backend.received[0];
      expect(got.body.equals(body)).toBe(true);
      expect(got.headers).toMatchObject({
        host: `127.0.0.1:${backend.port}`,
        'content-type': 'application/octet-stream',
        'content-length': '512',
        accept: 'application/json, text/plain;q=0.5',
        'accept-language': 'de-CH',
        authorization: 'Bearer not-read-on-auth-none',
        cookie: 'a=1; b=2',
        'cache-control': 'no-cache',
        'if-none-match': '"abc"',
        'user-agent': 'proxy-spec/1.0',
        'x-custom': 'spaced value',
        'x-empty': '',
        'x-username': 'not-an-x-user-header',
      });
    });

    it('sets Host to the target host:port whatever the client sent', async () => {
      const res = await request(gw.url).get('/api/orders/host').set('Host', 'evil.example:1');
      expect(res.status).toBe(200);
      expect(backend.received).toHaveLength(1);
      expect(backend.received[0].headers.host).toBe(`127.0.0.1:${backend.port}`);
      expect(backend.received[0].rawHeaders.filter((h) => h.toLowerCase() === 'host')).toHaveLength(
        1,
      );
    });
  });

  describe('large bodies', () => {
    it('streams a 5 MB request body with Content-Length byte-identical', async () => {
      const body = patternBytes(FIVE_MB, 1);
      const res = await rawRequest({
        port: gw.port,
        method: 'POST',
        path: '/api/orders/upload',
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': body.length },
        body,
      });
      expect(res.status).toBe(200);
      expect(JSON.parse(res.body.toString())).toMatchObject({ bodyLength: FIVE_MB });
      expect(backend.received).toHaveLength(1);
      const got = backend.received[0];
      expect(got.headers['content-length']).toBe(String(FIVE_MB));
      expect(got.body.length).toBe(FIVE_MB);
      expect(sha256(got.body)).toBe(sha256(body));
    });

    it('streams a 5 MB chunked request body byte-identical', async () => {
      const body = patternBytes(FIVE_MB, 2);
      const chunks: Buffer[] = [];
      for (let i = 0; i < body.length; i += 100_000) chunks.push(body.subarray(i, i + 100_000));
      const res = await rawRequest({
        port: gw.port,
        method: 'POST',
        path: '/api/orders/upload',
        headers: { 'Content-Type': 'application/octet-stream', 'Transfer-Encoding': 'chunked' },
        chunks,
      });
      expect(res.status).toBe(200);
      expect(JSON.parse(res.body.toString())).toMatchObject({ bodyLength: FIVE_MB });
      expect(backend.received).toHaveLength(1);
      const got = backend.received[0];
      expect(got.headers['content-length']).toBeUndefined();
      expect(got.headers['transfer-encoding']).toBe('chunked');
      expect(got.body.length).toBe(FIVE_MB);
      expect(sha256(got.body)).toBe(sha256(body));
    });

    it.each([
      ['with Content-Length', false],
      ['chunked', true],
    ])('streams a 5 MB response body %s back byte-identical', async (_name, chunked) => {
      backend.behaviour = { kind: 'bytes', size: FIVE_MB, chunked };
      const res = await rawRequest({ port: gw.port, path: '/api/orders/download' });
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe('application/octet-stream');
      expect(res.headers['content-length']).toBe(chunked ? undefined : String(FIVE_MB));
      expect(res.headers['x-request-id']).toMatch(UUID);
      expect(res.body.length).toBe(FIVE_MB);
      expect(sha256(res.body)).toBe(sha256(patternBytes(FIVE_MB)));
      expect(backend.received).toHaveLength(1);
      expect(backend.received[0].url).toBe('/v1/download');
    });

    it('streams the response: the client has the first bytes before the backend ends', async () => {
      let release: (rest: string) => void = () => undefined;
      backend.behaviour = {
        kind: 'stream',
        first: 'first-part;',
        rest: new Promise<string>((resolve) => (release = resolve)),
      };
      const { status, first, whole } = await new Promise<{
        status: number;
        first: string;
        whole: Promise<string>;
      }>((resolve, reject) => {
        const req = httpRequest(
          { host: '127.0.0.1', port: gw.port, path: '/api/orders/stream', agent: false },
          (res) => {
            res.setEncoding('utf8');
            let text = '';
            const whole = new Promise<string>((done, fail) => {
              res.on('end', () => done(text));
              res.on('error', fail);
            });
            res.once('data', (c: string) => {
              text += c;
              res.on('data', (more: string) => (text += more));
              resolve({ status: res.statusCode ?? 0, first: c, whole });
            });
          },
        );
        req.on('error', reject);
        req.end();
      });
      expect(status).toBe(200);
      expect(first).toBe('first-part;');
      release('second-part');
      await expect(whole).resolves.toBe('first-part;second-part');
      expect(backend.received).toHaveLength(1);
    });
  });

  describe('backend answers', () => {
    it.each([
      [404, 'application/problem+json', '{"title":"no such order"}'],
      [409, 'text/plain', 'conflict'],
      [422, 'application/json', '{"errors":["x"]}'],
      [500, 'text/html', '<h1>boom</h1>'],
      [503, 'text/plain', 'maintenance'],
    ])('passes a backend %i through unchanged', async (status, type, body) => {
      backend.behaviour = {
        kind: 'status',
        status,
        headers: {
          'Content-Type': type,
          'X-Custom': 'from-backend',
          'Retry-After': '7',
          'Set-Cookie': ['s=1; Path=/', 't=2; HttpOnly'],
          ETag: '"v1"',
        },
        body,
      };
      const res = await rawRequest({ port: gw.port, path: '/api/orders/err' });
      expect(res.status).toBe(status);
      expect(res.headers['content-type']).toBe(type);
      expect(res.headers['x-custom']).toBe('from-backend');
      expect(res.headers['retry-after']).toBe('7');
      expect(res.headers['set-cookie']).toEqual(['s=1; Path=/', 't=2; HttpOnly']);
      expect(res.headers.etag).toBe('"v1"');
      expect(res.headers['x-request-id']).toMatch(UUID);
      expect(res.body.toString()).toBe(body);
      expect(backend.received).toHaveLength(1);
    });
  });

  describe('hop-by-hop headers', () => {
    it('drops them, and those named in Connection, on the way to the backend', async () => {
      // POST with a chunked body: Node's client refuses `Trailer` on a body without it.
      const res = await rawRequest({
        port: gw.port,
        method: 'POST',
        path: '/api/orders/hop',
        chunks: [Buffer.from('hop-'), Buffer.from('body')],
        headers: [
          ['Transfer-Encoding', 'chunked'],
          ['Connection', 'keep-alive, X-Secret'],
          ['X-Secret', 's3cret'],
          ['Keep-Alive', 'timeout=5, max=10'],
          ['TE', 'trailers'],
          ['Trailer', 'X-Checksum'],
          ['Upgrade', 'h2c'],
          ['Proxy-Authorization', 'Basic Zm9vOmJhcg=='],
          ['Proxy-Connection', 'keep-alive'],
          ['X-Kept', 'yes'],
        ],
      });
      expect(res.status).toBe(200);
      expect(backend.received).toHaveLength(1);
      expect(backend.received[0].body.toString()).toBe('hop-body');
      const h = backend.received[0].headers;
      expect(h['x-kept']).toBe('yes');
      for (const name of [
        'x-secret',
        'keep-alive',
        'te',
        'trailer',
        'upgrade',
        'proxy-authorization',
        'proxy-connection',
      ]) {
        expect([name, h[name]]).toEqual([name, undefined]);
      }
      expect(h.connection ?? '').not.toMatch(/x-secret/i);
    });

    it.each(['GET', 'DELETE', 'POST'])(
      'keeps a %s body framed when the client names Content-Length in Connection',
      async (method) => {
        // If the gateway dropped Content-Length and sent the body unframed, the backend would
        // read the body as a second request that never passed the gateway's routing.
        const inner = 'GET /smuggled HTTP/1.1\r\nHost: backend\r\n\r\n';
        const reply = await rawSocket(
          gw.port,
          `${method} /api/orders/frame HTTP/1.1\r\nHost: gw\r\nConnection: close, content-length\r\n` +
            `Content-Length: ${inner.length}\r\n\r\n${inner}`,
        );
        // A follow-up call on the same pooled upstream socket: a smuggled request would be
        // read by the backend before it.
        const after = await rawRequest({ port: gw.port, path: '/api/orders/after' });
        expect(after.status).toBe(200);
        expect(JSON.parse(after.body.toString())).toMatchObject({ url: '/v1/after' });
        if (reply.status === 400) {
          expect(backend.received.map((r) => r.url)).toEqual(['/v1/after']);
        } else {
          expect(reply.status).toBe(200);
          expect(backend.received.map((r) => r.url)).toEqual(['/v1/frame', '/v1/after']);
          expect(backend.received[0].method).toBe(method);
          expect(backend.received[0].body.toString()).toBe(inner);
        }
      },
    );

    it('drops them, and those named in Connection, on the way back to the client', async () => {
      backend.behaviour = {
        kind: 'status',
        status: 200,
        headers: {
          Connection: 'x-internal',
          'X-Internal': '1',
          'Keep-Alive': 'timeout=7',
          'Proxy-Authenticate': 'Basic realm="inner"',
          Upgrade: 'h2c',
          'X-Kept': 'yes',
          'Content-Type': 'text/plain',
        },
        body: 'hop',
      };
      const res = await rawRequest({ port: gw.port, path: '/api/orders/hop' });
      expect(res.status).toBe(200);
      expect(res.body.toString()).toBe('hop');
      expect(res.headers['x-kept']).toBe('yes');
      expect(res.headers['x-internal']).toBeUndefined();
      expect(res.headers['proxy-authenticate']).toBeUndefined();
      expect(res.headers.upgrade).toBeUndefined();
      expect(res.headers['keep-alive'] ?? '').not.toMatch(/timeout=7/);
      expect(res.headers.connection ?? '').not.toMatch(/x-internal/i);
      const names = res.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
      expect(names).not.toContain('x-internal');
      expect(backend.received).toHaveLength(1);
    });
  });

  describe('forwarding headers', () => {
    it('appends the peer to the client X-Forwarded-For and sets Proto and Host', async () => {
      const res = await rawRequest({
        port: gw.port,
        path: '/api/orders/xff',
        headers: {
          Host: 'shop.example.com:8443',
          'X-Forwarded-For': '203.0.113.7, 198.51.100.2',
          'X-Forwarded-Proto': 'https',
          'X-Forwarded-Host': 'spoofed.example',
        },
      });
      expect(res.status).toBe(200);
      expect(backend.received).toHaveLength(1);
      const h = backend.received[0].headers;
      expect(h['x-forwarded-for']).toBe('203.0.113.7, 198.51.100.2, 127.0.0.1');
      expect(h['x-forwarded-proto']).toBe('http');
      expect(h['x-forwarded-host']).toBe('shop.example.com:8443');
    });

    it('joins repeated client X-Forwarded-For lines before appending the peer', async () => {
      const res = await rawRequest({
        port: gw.port,
        path: '/api/orders/xff',
        headers: [
          ['X-Forwarded-For', '203.0.113.7'],
          ['X-Forwarded-For', '198.51.100.2'],
        ],
      });
      expect(res.status).toBe(200);
      expect(backend.received).toHaveLength(1);
      expect(backend.received[0].headers['x-forwarded-for']).toBe(
        '203.0.113.7, 198.51.100.2, 127.0.0.1',
      );
    });

    it('sets X-Forwarded-For to the peer alone when the client sent none', async () => {
      const res = await request(gw.url).get('/api/orders/xff').set('Host', 'plain.example');
      expect(res.status).toBe(200);
      expect(backend.received).toHaveLength(1);
      const h = backend.received[0].headers;
      expect(h['x-forwarded-for']).toBe('127.0.0.1');
      expect(h['x-forwarded-proto']).toBe('http');
      expect(h['x-forwarded-host']).toBe('plain.example');
    });

    it('keeps the client X-Forwarded-Host when the peer is in trustProxy', async () => {
      const res = await rawRequest({
        port: trusting.port,
        path: '/api/orders/xfh',
        headers: {
          Host: 'internal-lb:8080',
          'X-Forwarded-For': '203.0.113.7',
          'X-Forwarded-Host': 'shop.example.com',
        },
      });
      expect(res.status).toBe(200);
      expect(backend.received).toHaveLength(1);
      const h = backend.received[0].headers;
      expect(h['x-forwarded-host']).toBe('shop.example.com');
      expect(h['x-forwarded-for']).toBe('203.0.113.7, 127.0.0.1');
    });

    it('uses Host for X-Forwarded-Host behind trustProxy when the client sent none', async () => {
      const res = await rawRequest({
        port: trusting.port,
        path: '/api/orders/xfh',
        headers: { Host: 'internal-lb:8080' },
      });
      expect(res.status).toBe(200);
      expect(backend.received).toHaveLength(1);
      expect(backend.received[0].headers['x-forwarded-host']).toBe('internal-lb:8080');
    });
  });

  describe('client IP (access log clientIp)', () => {
    async function clientIpFor(
      g: TestGateway,
      id: string,
      xff: string | undefined,
    ): Promise<unknown> {
      const headers: Record<string, string> = { 'X-Request-ID': id };
      if (xff !== undefined) headers['X-Forwarded-For'] = xff;
      const res = await rawRequest({ port: g.port, path: '/api/orders/ip', headers });
      expect(res.status).toBe(200);
      expect(res.headers['x-request-id']).toBe(id);
      const line = await waitForLog(g.logs, (l) => l.context === 'access' && l.requestId === id);
      expect(line).toMatchObject({ method: 'GET', route: '/api/orders/*', status: 200 });
      return line.clientIp;
    }

    it.each([
      ['ip-untrusted', '203.0.113.7', '127.0.0.1'],
      ['ip-untrusted-none', undefined, '127.0.0.1'],
    ])('without trustProxy is the peer (%s)', async (id, xff, expected) => {
      await expect(clientIpFor(gw, id, xff)).resolves.toBe(expected);
      expect(backend.received).toHaveLength(1);
    });

    it.each([
      ['ip-trusted-single', '203.0.113.7', '203.0.113.7'],
      ['ip-trusted-chain', '198.51.100.9, 203.0.113.7', '203.0.113.7'],
      ['ip-trusted-skips-trusted', '203.0.113.7, 127.0.0.1', '203.0.113.7'],
      ['ip-trusted-none', undefined, '127.0.0.1'],
      ['ip-trusted-garbage', 'not-an-ip', '127.0.0.1'],
    ])(
      'with trustProxy is the right-most untrusted X-Forwarded-For entry (%s)',
      async (id, xff, expected) => {
        await expect(clientIpFor(trusting, id, xff)).resolves.toBe(expected);
        expect(backend.received).toHaveLength(1);
      },
    );
  });

  describe('X-Request-ID', () => {
    it.each([
      ['a short id', 'abc.DEF_1:2-3'],
      ['a 128-character id', 'x'.repeat(128)],
    ])('sends a sane client value (%s) upstream and returns it', async (_name, id) => {
      const res = await request(gw.url).get('/api/orders/rid').set('X-Request-ID', id);
      expect(res.status).toBe(200);
      expect(res.headers['x-request-id']).toBe(id);
      expect(backend.received).toHaveLength(1);
      expect(backend.received[0].headers['x-request-id']).toBe(id);
    });

    it.each([
      ['with a space and !', 'bad id!'],
      ['129 characters long', 'y'.repeat(129)],
      ['with a slash', 'a/b'],
    ])('replaces an insane client value (%s) with one UUID both ways', async (_name, id) => {
      const res = await request(gw.url).get('/api/orders/rid').set('X-Request-ID', id);
      expect(res.status).toBe(200);
      const sent: unknown = res.headers['x-request-id'];
      expect(sent).toMatch(UUID);
      expect(backend.received).toHaveLength(1);
      expect(backend.received[0].headers['x-request-id']).toBe(sent);
    });

    it('makes a new UUID when the client sent none, the same one upstream', async () => {
      const res = await request(gw.url).get('/api/orders/rid');
      expect(res.status).toBe(200);
      expect(res.headers['x-request-id']).toMatch(UUID);
      expect(backend.received).toHaveLength(1);
      expect(backend.received[0].headers['x-request-id']).toBe(res.headers['x-request-id']);
    });

    it("never returns the backend's own X-Request-ID", async () => {
      backend.behaviour = {
        kind: 'status',
        status: 200,
        headers: { 'X-Request-ID': 'backend-own-id', 'Content-Type': 'text/plain' },
        body: 'ok',
      };
      const res = await rawRequest({
        port: gw.port,
        path: '/api/orders/rid',
        headers: { 'X-Request-ID': 'client-id-1' },
      });
      expect(res.status).toBe(200);
      expect(res.body.toString()).toBe('ok');
      expect(res.headers['x-request-id']).toBe('client-id-1');
      expect(res.rawHeaders.filter((h) => h.toLowerCase() === 'x-request-id')).toHaveLength(1);
      expect(backend.received).toHaveLength(1);
    });
  });

  it('never forwards client-sent X-User-* headers', async () => {
    const res = await rawRequest({
      port: gw.port,
      path: '/api/orders/user',
      headers: {
        'X-User-ID': 'admin',
        'X-User-Roles': 'admin,superuser',
        'X-User-Scopes': 'orders:write',
        'x-user-anything': '1',
        'X-USER-SHOUTING': '2',
      },
    });
    expect(res.status).toBe(200);
    expect(backend.received).toHaveLength(1);
    const names = Object.keys(backend.received[0].headers);
    expect(names.filter((n) => n.startsWith('x-user-'))).toEqual([]);
  });

  describe('load balancing', () => {
    const call = (path: string) => async () => {
      const res = await rawRequest({ port: gw.port, path, agent });
      expect(res.status).toBe(200);
    };

    it('alternates exactly between two round-robin targets', async () => {
      const seq = await sequenceOf([a, b], 10, call('/api/rr/x'));
      expect(seq.filter((i) => i === 0)).toHaveLength(5);
      expect(seq.filter((i) => i === 1)).toHaveLength(5);
      for (let i = 1; i < seq.length; i++) expect(seq[i]).not.toBe(seq[i - 1]);
      expect(a.received.every((r) => r.url === '/api/rr/x')).toBe(true);
    });

    it('splits 400 calls 300/100 between targets weighted 3:1', async () => {
      const seq = await sequenceOf([a, b], 400, call('/api/w/x'));
      expect(seq.filter((i) => i === 0)).toHaveLength(300);
      expect(seq.filter((i) => i === 1)).toHaveLength(100);
      expect(a.received).toHaveLength(300);
      expect(b.received).toHaveLength(100);
    });
  });
});
