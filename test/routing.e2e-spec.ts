import request from 'supertest';

import { startBackend, type TestBackend } from './support/backend';
import { rawRequest, rawSocket } from './support/raw-http';
import { startTestGateway, type TestGateway } from './support/test-gateway';

const GATEWAY = 'rateLimit:\n  enabled: false\n';

interface RouteSpec {
  path: string;
  rewrite?: string;
  methods?: string[];
}

function service(name: string, url: string, routes: RouteSpec[]): string {
  const lines = [`name: ${name}`, `targets: [{ url: "${url}" }]`, 'routes:'];
  for (const r of routes) {
    lines.push(`  - path: ${r.path}`);
    if (r.rewrite) lines.push(`    rewrite: ${r.rewrite}`);
    if (r.methods) lines.push(`    methods: [${r.methods.join(', ')}]`);
  }
  return lines.join('\n') + '\n';
}

describe('Routing', () => {
  let prio: TestBackend;
  let getter: TestBackend;
  let poster: TestBackend;
  let a: TestBackend;
  let b: TestBackend;
  let all: TestBackend[];
  let gw: TestGateway;

  beforeAll(async () => {
    all = await Promise.all([1, 2, 3, 4, 5].map(() => startBackend()));
    [prio, getter, poster, a, b] = all;
    gw = await startTestGateway({
      gateway: GATEWAY,
      services: {
        // One backend; each route rewrites to its own prefix, so the path it receives says
        // which route matched.
        prio: service('prio', prio.url, [
          { path: '/r/*', rewrite: '/wild/*' },
          { path: '/r/:id', rewrite: '/param/:id' },
          { path: '/r/a', rewrite: '/lit' },
          { path: '/r/:id/edit', rewrite: '/edit/:id' },
          { path: '/r/a/*', rewrite: '/lita/*' },
          { path: '/s/:id/*', rewrite: '/star/:id/*' },
          { path: '/s/:id', rewrite: '/end/:id' },
          { path: '/users/:uid/orders/:oid', rewrite: '/v2/orders/:oid/of/:uid' },
        ]),
        getter: service('getter', getter.url, [{ path: '/m/items', methods: ['GET'] }]),
        poster: service('poster', poster.url, [{ path: '/m/items', methods: ['POST'] }]),
        a: service('a', a.url, [{ path: '/api/a/*', rewrite: '/A/*' }]),
        b: service('b', b.url, [{ path: '/api/b/*', rewrite: '/B/*' }]),
      },
    });
  });

  afterAll(async () => {
    await gw.close();
    await Promise.all(all.map((x) => x.close()));
  });

  beforeEach(() => {
    for (const x of all) x.received.splice(0);
  });

  /** Sends `path` exactly as written; returns the response. */
  const send = (path: string, method = 'GET') => rawRequest({ port: gw.port, method, path });

  /** Exactly one backend got exactly one call, this one. */
  function expectOnly(backend: TestBackend, method: string, url: string): void {
    for (const x of all) expect(x.received).toHaveLength(x === backend ? 1 : 0);
    expect(backend.received[0].method).toBe(method);
    expect(backend.received[0].url).toBe(url);
  }

  function expectNothingForwarded(): void {
    expect(all.map((x) => x.received.length)).toEqual([0, 0, 0, 0, 0]);
  }

  function expectNotFound(res: { status: number; headers: Record<string, unknown>; body: Buffer }) {
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    const body = JSON.parse(res.body.toString()) as Record<string, unknown>;
    expect(body).toMatchObject({ statusCode: 404, error: 'Not Found' });
    expect(body.requestId).toBe(res.headers['x-request-id']);
  }

  describe('priority', () => {
    it.each([
      ['a literal over :param and *', '/r/a', '/lit'],
      [':param over *', '/r/b', '/param/b'],
      ['* for more segments than any other pattern', '/r/b/c/d', '/wild/b/c/d'],
      ['* for zero segments when there is no exact route', '/r', '/wild'],
      ['a literal over :param in a later segment', '/r/a/edit', '/lita/edit'],
      ['the longer :param route over *', '/r/b/edit', '/edit/b'],
      ['an ended pattern over *', '/s/1', '/end/1'],
      ['* once the ended pattern is too short', '/s/1/x/y', '/star/1/x/y'],
    ])('prefers %s (%s)', async (_why, path, upstream) => {
      const res = await send(path);
      expect(res.status).toBe(200);
      expect(res.headers['x-backend']).toBe('echo');
      expectOnly(prio, 'GET', upstream);
    });

    it('substitutes :params in the rewrite, in any order', async () => {
      const res = await send('/users/u-7/orders/o-42?full=1');
      expect(res.status).toBe(200);
      expectOnly(prio, 'GET', '/v2/orders/o-42/of/u-7?full=1');
    });
  });

  describe('methods', () => {
    it.each([
      ['GET', 0],
      ['HEAD', 0],
      ['POST', 1],
    ])('sends %s on a pattern split across two services to its own service', async (m, i) => {
      const res = await send('/m/items', m);
      expect(res.status).toBe(200);
      expect(res.headers['x-backend']).toBe('echo');
      expectOnly([getter, poster][i], m, '/m/items');
    });

    it('answers other methods 405 with Allow = the union of both routes', async () => {
      const res = await send('/m/items', 'PUT');
      expect(res.status).toBe(405);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      const allow = String(res.headers.allow)
        .split(',')
        .map((m) => m.trim())
        .sort();
      expect(allow).toEqual(['GET', 'HEAD', 'POST']);
      expect(JSON.parse(res.body.toString())).toMatchObject({
        statusCode: 405,
        error: 'Method Not Allowed',
        requestId: res.headers['x-request-id'],
      });
      expectNothingForwarded();
    });
  });

  describe('path normalisation', () => {
    it.each([
      '/api/a/../b/x',
      '/api/a/%2e%2e/b/x',
      '/api/a/%2E%2E/b/x',
      '/api/a/.%2e/b/x',
      '/api/a/x/../../b/x',
      '/api/a/..',
    ])('answers a path that leaves its route through dots (%s) with 404', async (path) => {
      const res = await send(path);
      expectNotFound(res);
      expectNothingForwarded();
    });

    it.each([
      ['/api/a/x/../y', '/A/y'],
      ['/api/a/./x', '/A/x'],
      ['/api/a/x/./y/..', '/A/x/'],
      ['/api/a/../a/x', '/A/x'],
      ['//api//a///x', '/A/x'],
      ['/api/a/x/../y?q=%2e%2e/..&r=//', '/A/y?q=%2e%2e/..&r=//'],
    ])('forwards %s normalised, rewrite applied, as %s', async (path, upstream) => {
      const res = await send(path);
      expect(res.status).toBe(200);
      expect(res.headers['x-backend']).toBe('echo');
      expectOnly(a, 'GET', upstream);
    });

    it.each([
      ['keeps %2F encoded inside its segment', '/api/a/x%2fy', '/A/x%2Fy'],
      ['decodes %7E to ~', '/api/a/%7Euser', '/A/~user'],
      ['decodes other unreserved escapes', '/api/a/%41%2d%5f%2E', '/A/A-_.'],
      [
        'keeps reserved and non-ASCII escapes encoded',
        '/api/a/a%20b%3Fc%e2%82%ac',
        '/A/a%20b%3Fc%E2%82%AC',
      ],
    ])('%s', async (_what, path, upstream) => {
      const res = await send(path);
      expect(res.status).toBe(200);
      expectOnly(a, 'GET', upstream);
    });

    // An absolute-form target (`GET http://host/path`, RFC 9112 §3.2.2) carries the same
    // path: the same rules apply to it.
    it.each(['http://gw.example/api/a/../b/x', 'http://gw.example/api/a/%2e%2e/b/x'])(
      'answers an absolute-form target that leaves its route (%s) with 404',
      async (target) => {
        const reply = await rawSocket(
          gw.port,
          `GET ${target} HTTP/1.1\r\nHost: gw.example\r\nConnection: close\r\n\r\n`,
        );
        expect(reply.status).toBe(404);
        expect(reply.headers['content-type']).toMatch(/^application\/json/);
        expect(JSON.parse(reply.body)).toMatchObject({ statusCode: 404, error: 'Not Found' });
        expectNothingForwarded();
      },
    );

    it('forwards an absolute-form target by its normalised path', async () => {
      const reply = await rawSocket(
        gw.port,
        'GET http://gw.example/api/a/x/../y?q=1 HTTP/1.1\r\nHost: gw.example\r\nConnection: close\r\n\r\n',
      );
      expect(reply.status).toBe(200);
      expectOnly(a, 'GET', '/A/y?q=1');
    });

    it('matches routes on the decoded path (%61 is a)', async () => {
      const res = await send('/api/%61/x');
      expect(res.status).toBe(200);
      expectOnly(a, 'GET', '/A/x');
    });
  });

  describe('gateway-owned paths', () => {
    it.each([
      '/api/a/../../health',
      '/api/a/%2e%2e/%2e%2e/metrics',
      '/api/a/../../ready',
      '/api/a/../../api/gateway/status',
      '/api//gateway/status',
      '/api/%67ateway/status',
      '/api/a/../../oauth/token',
      '/api/a/../../.well-known/jwks.json',
    ])('never forwards a disguised own path (%s)', async (path) => {
      const res = await send(path);
      expectNotFound(res);
      expectNothingForwarded();
    });

    it.each(['/api/gateway/whatever', '/api/gateway', '/api/gateway/a/b?c=d'])(
      'never forwards %s to a backend',
      async (path) => {
        const res = await request(gw.url).get(path);
        expect([401, 403, 404]).toContain(res.status);
        expect(res.headers['content-type']).toMatch(/^application\/json/);
        expect(res.headers['x-backend']).toBeUndefined();
        expect(res.body).toMatchObject({ statusCode: res.status });
        expectNothingForwarded();
      },
    );
  });
});
