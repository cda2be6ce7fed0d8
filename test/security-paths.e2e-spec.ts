// Path characters (CONTRACT.md, Security): what the route table matched is exactly what the
// backend receives. Every request here is sent raw (node:http or a socket), so `\`, `#`
// and `..` reach the gateway as written.
import jwt from 'jsonwebtoken';

import { startBackend, type TestBackend } from './support/backend';
import { rawRequest, type RawResponse, rawSocket } from './support/raw-http';
import { startTestGateway, type TestGateway } from './support/test-gateway';

const SECRET = 'sec-paths-secret-0123456789abcdef-xyz';

function gatewayYaml(ambiguousPaths: 'keep' | 'reject'): string {
  return [
    'rateLimit: { enabled: false }',
    `server: { ambiguousPaths: ${ambiguousPaths} }`,
    'auth:',
    '  jwt: { algorithms: [HS256], secret: "${JWT_SECRET}" }',
    '',
  ].join('\n');
}

function serviceYaml(url: string): string {
  return [
    'name: service1',
    `targets: [{ url: "${url}" }]`,
    'routes:',
    '  - path: /api/service1/admin/*',
    '    rewrite: /api/admin/*',
    '    auth: jwt',
    '    roles: [admin]',
    '  - path: /api/service1/*',
    '    rewrite: /api/*',
    '    auth: none',
    '',
  ].join('\n');
}

function expectGatewayError(res: RawResponse, status: number): void {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  const body = JSON.parse(res.body.toString()) as Record<string, unknown>;
  expect(body).toMatchObject({ statusCode: status });
  expect(body.requestId).toBe(res.headers['x-request-id']);
}

describe('Security: path characters', () => {
  let backend: TestBackend;
  let gw: TestGateway;
  let strict: TestGateway;
  const admin = jwt.sign({ sub: 'root', roles: ['admin'] }, SECRET, { expiresIn: 600 });

  beforeAll(async () => {
    backend = await startBackend();
    const files = (mode: 'keep' | 'reject') => ({
      gateway: gatewayYaml(mode),
      services: { service1: serviceYaml(backend.url) },
    });
    gw = await startTestGateway(files('keep'), { JWT_SECRET: SECRET });
    strict = await startTestGateway(files('reject'), { JWT_SECRET: SECRET });
  });

  afterAll(async () => {
    await gw.close();
    await strict.close();
    await backend.close();
  });

  beforeEach(() => backend.received.splice(0));

  const send = (path: string, port = gw.port, headers?: Record<string, string>) =>
    rawRequest({ port, path, headers });

  describe('raw backslash and fragment', () => {
    it.each([
      ['/api/service1/admin\\secret'],
      ['/api/service1\\admin\\secret'],
      ['/api/service1/x/..\\..\\other'],
      ['/api/service1/admin#x'],
      ['/api/service1/a?q=1#frag'],
      ['/api/service1/a?q=\\x'],
      ['/api/service1/%2e%2e\\x'],
    ])('refuses %s with 400 and forwards nothing', async (path) => {
      const res = await send(path);
      expectGatewayError(res, 400);
      expect(backend.received).toHaveLength(0);
    });

    it('keeps the admin route closed: no token is 401 there, a token reaches it', async () => {
      expectGatewayError(await send('/api/service1/admin/secret'), 401);
      expect(backend.received).toHaveLength(0);
      const ok = await send('/api/service1/admin/secret', gw.port, {
        Authorization: `Bearer ${admin}`,
      });
      expect(ok.status).toBe(200);
      expect(backend.received.map((r) => r.url)).toEqual(['/api/admin/secret']);
      expect(backend.received[0].headers['x-user-id']).toBe('root');
    });

    it('refuses a backslash in an absolute-form target too', async () => {
      const reply = await rawSocket(
        gw.port,
        `GET http://127.0.0.1:${gw.port}/api/service1/admin\\secret HTTP/1.1\r\n` +
          `Host: 127.0.0.1:${gw.port}\r\nConnection: close\r\n\r\n`,
      );
      expect(reply.status).toBe(400);
      expect(reply.headers['content-type']).toMatch(/^application\/json/);
      expect(backend.received).toHaveLength(0);
    });

    it.each([['/health#x'], ['/oauth/token?a=\\b'], ['/api/gateway\\services'], ['/metrics#']])(
      'refuses %s at the own endpoints too',
      async (path) => {
        expectGatewayError(await rawRequest({ port: gw.port, path }), 400);
        expect(backend.received).toHaveLength(0);
      },
    );

    it('forwards an absolute-form target by the same rules', async () => {
      const reply = await rawSocket(
        gw.port,
        `GET http://127.0.0.1:${gw.port}/api/service1/http:/x//y?z=1 HTTP/1.1\r\n` +
          `Host: 127.0.0.1:${gw.port}\r\nConnection: close\r\n\r\n`,
      );
      expect(reply.status).toBe(200);
      expect(backend.received.map((r) => r.url)).toEqual(['/api/http:/x/y?z=1']);
    });
  });

  describe('encoded characters', () => {
    it.each([['%00'], ['%0a'], ['%0D'], ['%1f'], ['%7F'], ['%7f']])(
      'refuses the encoded control character %s with 400',
      async (esc) => {
        expectGatewayError(await send(`/api/service1/a${esc}b`), 400);
        expect(backend.received).toHaveLength(0);
      },
    );

    it('keeps %5C and %2F encoded inside their segment (hex upper-cased)', async () => {
      const res = await send('/api/service1/admin%5csecret/a%2fb?x=%5c');
      expect(res.status).toBe(200);
      // One segment `admin%5Csecret`: the public route, not the admin one.
      expect(backend.received.map((r) => r.url)).toEqual(['/api/admin%5Csecret/a%2Fb?x=%5c']);
    });

    it('lets an encoded control character in the query through unchanged', async () => {
      const res = await send('/api/service1/a?x=%00');
      expect(res.status).toBe(200);
      expect(backend.received.map((r) => r.url)).toEqual(['/api/a?x=%00']);
    });
  });

  describe('the backend receives the normalised, rewritten path byte for byte', () => {
    it.each([
      ['/api/service1/http:/x', '/api/http:/x'],
      ['/api/service1/https:/x', '/api/https:/x'],
      ['/api/service1/http:', '/api/http:'],
      ['/api/service1//x//y/', '/api/x/y/'],
      ['/api/service1/a/./b/../c', '/api/a/c'],
      ['/api/service1/%61%2e/b', '/api/a./b'],
      ['/api/service1/a;b=c/d', '/api/a;b=c/d'],
      ['/api/service1/{x}|^`', '/api/{x}|^`'],
      ['/api/service1/caf%C3%A9', '/api/caf%C3%A9'],
      ['/api/service1/a?b=/c//d&e=http://f', '/api/a?b=/c//d&e=http://f'],
      ['/api/service1/a??b', '/api/a??b'],
    ])('%s reaches the backend as %s', async (path, upstream) => {
      const res = await send(path);
      expect(res.status).toBe(200);
      expect(backend.received.map((r) => r.url)).toEqual([upstream]);
    });

    it('sets the path also for a call with Expect: 100-continue', async () => {
      // http-proxy renders such a request's head at once and skips its proxyReq event.
      const res = await rawRequest({
        port: gw.port,
        method: 'POST',
        path: '/api/service1/http:/x?y=1',
        headers: { Expect: '100-continue', 'Content-Type': 'text/plain' },
        body: 'hello',
      });
      expect(res.status).toBe(200);
      expect(backend.received.map((r) => [r.url, r.body.toString()])).toEqual([
        ['/api/http:/x?y=1', 'hello'],
      ]);
    });

    it("refuses raw UTF-8 bytes (Node's parser does), forwarding nothing", async () => {
      const latin1 = Buffer.from('/api/service1/日本', 'utf8').toString('latin1');
      const res = await send(latin1);
      expect(res.status).toBe(400);
      expect(backend.received).toHaveLength(0);
    });
  });

  describe('server.ambiguousPaths: reject', () => {
    it.each([
      ['/api/service1/a%2fb'],
      ['/api/service1/a%2Fb'],
      ['/api/service1/a%5cb'],
      ['/api/service1/a;b'],
    ])('refuses %s with 400', async (path) => {
      expectGatewayError(await send(path, strict.port), 400);
      expect(backend.received).toHaveLength(0);
    });

    it('still forwards plain paths, and %2F or ; in the query', async () => {
      const res = await send('/api/service1/a/b?x=%2F;y', strict.port);
      expect(res.status).toBe(200);
      expect(backend.received.map((r) => r.url)).toEqual(['/api/a/b?x=%2F;y']);
    });

    it('is off by default (keep)', async () => {
      expect((await send('/api/service1/a;b')).status).toBe(200);
      expect(backend.received.map((r) => r.url)).toEqual(['/api/a;b']);
    });
  });

  describe('routes/explain', () => {
    const explain = async (target: TestGateway, path: string) => {
      const q = new URLSearchParams({ method: 'GET', path });
      const res = await rawRequest({
        port: target.port,
        path: `/api/gateway/routes/explain?${q.toString()}`,
        headers: { Authorization: `Bearer ${admin}` },
      });
      expect(res.status).toBe(200);
      return JSON.parse(res.body.toString()) as { status: number; match: unknown };
    };

    it.each([
      ['/api/service1/admin\\secret'],
      ['/api/service1/admin#x'],
      ['/api/service1/a?b#c'],
      ['/api/service1/a%00b'],
    ])('reports 400 for %s', async (path) => {
      expect(await explain(gw, path)).toMatchObject({ status: 400, match: null });
    });

    it('reports 400 for an ambiguous path only under reject', async () => {
      expect(await explain(strict, '/api/service1/a%2Fb')).toMatchObject({ status: 400 });
      expect(await explain(gw, '/api/service1/a%2Fb')).toMatchObject({
        status: 200,
        match: { upstreamPath: '/api/a%2Fb' },
      });
    });
  });
});
