import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

import jwt from 'jsonwebtoken';

import { expectErrorBody, jsonCall, type JsonReply } from './support/admin-kit';
import { startBackend, type TestBackend } from './support/backend';
import { nowSeconds } from './support/keys';
import { refusingUrl } from './support/resilience-kit';
import { startTestGateway, type TestGateway } from './support/test-gateway';

const VERSION = (
  JSON.parse(readFileSync(resolve(__dirname, '..', 'package.json'), 'utf8')) as {
    version: string;
  }
).version;

const SECRET = 'admin-spec-hs256-secret-3e7d1a9c5b';
const ADMIN_KEY = 'admin-key-value-9f2b6d4e';
const USER_KEY = 'user-key-value-1c8a7e3f';
const CLIENT_SECRET = 'client-secret-value-5d0b2f8a';
const CHALLENGES = ['Bearer realm="api-gateway"', 'ApiKey header="X-API-Key"'];

const GATEWAY_YAML = `
auth:
  jwt: { secret: ${SECRET}, issuer: api-gateway, audience: api }
  apiKeys:
    keys:
      - { name: admin-bot, key: ${ADMIN_KEY}, roles: [admin] }
      - { name: ci-bot, key: ${USER_KEY}, roles: [service] }
oauth:
  clients:
    - { clientId: acme, clientSecret: ${CLIENT_SECRET}, scopes: [a], roles: [user] }
rateLimit: { enabled: false }
`;

function token(claims: Record<string, unknown>): string {
  const now = nowSeconds();
  return jwt.sign({ iss: 'api-gateway', aud: 'api', iat: now, exp: now + 300, ...claims }, SECRET, {
    algorithm: 'HS256',
  });
}

const ADMIN_JWT = { Authorization: `Bearer ${token({ sub: 'alice', roles: ['admin'] })}` };
const USER_JWT = { Authorization: `Bearer ${token({ sub: 'bob', roles: ['user'] })}` };
const ADMIN_API_KEY = { 'X-API-Key': ADMIN_KEY };
const USER_API_KEY = { 'X-API-Key': USER_KEY };

interface ServiceView {
  name: string;
  circuit: { state: string; errorRate: number };
  targets: { target: string; url: string; weight: number; healthy: boolean }[];
}

interface RouteView {
  route: string;
  service: string;
  methods: string[] | null;
  auth: string;
}

interface Explanation {
  status: number;
  match: {
    service: string;
    route: string;
    upstreamPath: string;
    auth: string;
    methods: string[] | null;
    targets: { target: string; source: string; healthy: boolean }[];
  } | null;
  candidates: { route: string; service: string; reason: string }[];
}

describe('Gateway admin API (e2e)', () => {
  let live: TestBackend;
  let failing: TestBackend;
  let refusing: string;
  let gw: TestGateway;

  beforeAll(async () => {
    live = await startBackend({ kind: 'echo' });
    failing = await startBackend({ kind: 'status', status: 500 });
    refusing = await refusingUrl();
    gw = await startTestGateway({
      gateway: GATEWAY_YAML,
      services: {
        // Declared lowest priority first: the table must reorder them.
        p: `name: pcat
targets: [{ url: "${live.url}" }]
routes:
  - { path: /api/p/*, rewrite: /v2/*, methods: [GET, POST] }
  - { path: /api/p/:id, methods: [GET], auth: jwt }
  - { path: /api/p/:id/sub, methods: [GET], auth: any, roles: [ops] }
  - { path: /api/p/literal, methods: [GET, POST], auth: apiKey }
`,
        ab: `name: ab
targets: [{ url: "${refusing}" }, { url: "${live.url}" }]
routes:
  - { path: /a/* }
`,
        b: `name: bsvc
targets: [{ url: "${live.url}" }]
routes:
  - { path: /b/* }
`,
        fail: `name: fail
targets: [{ url: "${failing.url}" }]
routes:
  - { path: /fail/* }
`,
      },
    });
  });

  afterAll(async () => {
    await gw?.close();
    await live?.close();
    await failing?.close();
  });

  const call = (
    path: string,
    headers: Record<string, string> = {},
    method = 'GET',
  ): Promise<JsonReply> => jsonCall(gw.port, path, { method, headers });

  const explain = (method: string, path: string, headers = ADMIN_API_KEY) =>
    call(
      `/api/gateway/routes/explain?method=${encodeURIComponent(method)}&path=${encodeURIComponent(path)}`,
      headers,
    );

  describe('GET /api/gateway/status', () => {
    it('is public and reports version, uptime, config revision and counts', async () => {
      const started = Date.now();
      const r = await call('/api/gateway/status');
      expect(r.status).toBe(200);
      expect(r.headers['content-type']).toMatch(/^application\/json\b/);
      const body = r.json as {
        uptimeSeconds: number;
        config: { revision: string; loadedAt: string };
      };
      expect(body).toEqual({
        version: VERSION,
        uptimeSeconds: expect.any(Number),
        config: { revision: expect.stringMatching(/^[0-9a-f]{8,}$/), loadedAt: expect.any(String) },
        counts: { services: 4, routes: 7, targets: 5 },
      });
      expect(Number.isInteger(body.uptimeSeconds)).toBe(true);
      expect(body.uptimeSeconds).toBeGreaterThanOrEqual(0);
      expect(body.uptimeSeconds).toBeLessThan(60);
      const loadedAt = Date.parse(body.config.loadedAt);
      expect(new Date(loadedAt).toISOString()).toBe(body.config.loadedAt);
      expect(loadedAt).toBeLessThanOrEqual(started);
      expect(started - loadedAt).toBeLessThan(60_000);
    });

    it('shows nothing internal: no target addresses, secrets or config folder', async () => {
      const r = await call('/api/gateway/status');
      expect(r.status).toBe(200);
      for (const hidden of [
        '127.0.0.1',
        'http',
        String(live.port),
        String(failing.port),
        new URL(refusing).port,
        SECRET,
        ADMIN_KEY,
        USER_KEY,
        CLIENT_SECRET,
        gw.dir,
        'admin-bot',
        'acme',
      ]) {
        expect(r.text).not.toContain(hidden);
      }
    });
  });

  describe('who may call the admin endpoints', () => {
    const endpoints: [string, string][] = [
      ['GET', '/api/gateway/services'],
      ['GET', '/api/gateway/routes'],
      ['GET', '/api/gateway/routes/explain?method=GET&path=%2Fb%2Fx'],
      ['POST', '/api/gateway/reload'],
    ];

    describe.each(endpoints)('%s %s', (method, path) => {
      it('answers 401 with both challenges without credentials', async () => {
        const r = await call(path, {}, method);
        expectErrorBody(r, 401, 'Unauthorized');
        expect(r.challenges).toEqual(CHALLENGES);
      });

      it('answers 401 to an unknown API key and to a token signed with another key', async () => {
        const badKey = await call(path, { 'X-API-Key': 'not-a-key' }, method);
        expectErrorBody(badKey, 401, 'Unauthorized');
        const forged = jwt.sign(
          { sub: 'eve', roles: ['admin'], iss: 'api-gateway', aud: 'api' },
          'other-secret-0123456789',
          { algorithm: 'HS256' },
        );
        const badToken = await call(path, { Authorization: `Bearer ${forged}` }, method);
        expectErrorBody(badToken, 401, 'Unauthorized');
        expect(badToken.challenges[0]).toMatch(
          /^Bearer realm="api-gateway", error="invalid_token"/,
        );
      });

      it('answers 403 to a non-admin API key and a non-admin JWT', async () => {
        expectErrorBody(await call(path, USER_API_KEY, method), 403, 'Forbidden');
        expectErrorBody(await call(path, USER_JWT, method), 403, 'Forbidden');
      });

      it('answers 200 to an admin API key and an admin JWT', async () => {
        for (const headers of [ADMIN_API_KEY, ADMIN_JWT]) {
          const r = await call(path, headers, method);
          expect(r.status).toBe(200);
          expect(r.headers['content-type']).toMatch(/^application\/json\b/);
          expect(r.json).toBeDefined();
        }
      });
    });
  });

  describe('GET /api/gateway/services', () => {
    it('shows each service with its targets, their health, circuit state and error rate', async () => {
      // Round-robin over [refusing, live]: two calls reach the refusing target exactly once
      // (refused, marked down, retried on the live one): 3 attempts, 1 failure.
      expect((await call('/a/1')).status).toBe(200);
      expect((await call('/a/2')).status).toBe(200);
      expect((await call('/fail/1')).status).toBe(500);

      const r = await call('/api/gateway/services', ADMIN_API_KEY);
      expect(r.status).toBe(200);
      const services = r.json as ServiceView[];
      expect(services.map((s) => s.name).sort()).toEqual(['ab', 'bsvc', 'fail', 'pcat']);
      const byName = new Map(services.map((s) => [s.name, s]));
      const host = (url: string) => new URL(url).host;

      expect(byName.get('ab')).toMatchObject({
        circuit: { state: 'closed', errorRate: 0.333 },
        targets: [
          { target: host(refusing), url: refusing, weight: 1, healthy: false },
          { target: host(live.url), url: live.url, weight: 1, healthy: true },
        ],
      });
      expect(byName.get('fail')).toMatchObject({
        circuit: { state: 'closed', errorRate: 1 },
        targets: [{ target: host(failing.url), healthy: true }],
      });
      expect(byName.get('bsvc')).toMatchObject({
        circuit: { state: 'closed', errorRate: 0 },
        targets: [{ target: host(live.url), healthy: true }],
      });
    });
  });

  describe('GET /api/gateway/routes', () => {
    it('lists the routes in match order: literal before :param before *, longer first', async () => {
      const r = await call('/api/gateway/routes', ADMIN_JWT);
      expect(r.status).toBe(200);
      const routes = r.json as RouteView[];
      expect(routes).toHaveLength(7);
      const p = routes.filter((x) => x.service === 'pcat').map((x) => x.route);
      expect(p).toEqual(['/api/p/literal', '/api/p/:id/sub', '/api/p/:id', '/api/p/*']);
      expect(routes.map((x) => x.route).sort()).toEqual(
        [
          '/a/*',
          '/b/*',
          '/fail/*',
          '/api/p/literal',
          '/api/p/:id/sub',
          '/api/p/:id',
          '/api/p/*',
        ].sort(),
      );
      expect(routes.find((x) => x.route === '/api/p/*')).toMatchObject({
        service: 'pcat',
        methods: ['GET', 'HEAD', 'POST'],
        auth: 'none',
      });
      expect(routes.find((x) => x.route === '/api/p/:id/sub')).toMatchObject({
        service: 'pcat',
        methods: ['GET', 'HEAD'],
        auth: 'any',
      });
      expect(routes.find((x) => x.route === '/b/*')).toMatchObject({ methods: null, auth: 'none' });
    });
  });

  describe('GET /api/gateway/routes/explain', () => {
    it('explains a match: the selected route and the losers by priority', async () => {
      const r = await explain('GET', '/api/p/literal');
      expect(r.status).toBe(200);
      expect(r.json).toEqual({
        status: 200,
        match: {
          service: 'pcat',
          route: '/api/p/literal',
          upstreamPath: '/api/p/literal',
          auth: 'apiKey',
          methods: ['GET', 'HEAD', 'POST'],
          targets: [{ target: new URL(live.url).host, source: 'static', healthy: true }],
        },
        candidates: [
          { route: '/api/p/literal', service: 'pcat', reason: 'selected' },
          { route: '/api/p/:id', service: 'pcat', reason: 'lower priority' },
          { route: '/api/p/*', service: 'pcat', reason: 'lower priority' },
        ],
      });
    });

    it('gives the upstream path after the rewrite', async () => {
      const r = await explain('post', '/api/p/x/y');
      expect(r.status).toBe(200);
      expect(r.json).toEqual({
        status: 200,
        match: {
          service: 'pcat',
          route: '/api/p/*',
          upstreamPath: '/v2/x/y',
          auth: 'none',
          methods: ['GET', 'HEAD', 'POST'],
          targets: [{ target: new URL(live.url).host, source: 'static', healthy: true }],
        },
        candidates: [{ route: '/api/p/*', service: 'pcat', reason: 'selected' }],
      });
    });

    it('skips a route whose methods do not include the call, for the next candidate', async () => {
      const r = await explain('POST', '/api/p/42');
      const body = r.json as Explanation;
      expect(body.status).toBe(200);
      expect(body.match).toMatchObject({ route: '/api/p/*', upstreamPath: '/v2/42' });
      expect(body.candidates).toEqual([
        { route: '/api/p/:id', service: 'pcat', reason: 'method POST not allowed' },
        { route: '/api/p/*', service: 'pcat', reason: 'selected' },
      ]);
    });

    it('explains a 405: every candidate refused on its methods', async () => {
      const r = await explain('DELETE', '/api/p/42');
      expect(r.status).toBe(200);
      expect(r.json).toEqual({
        status: 405,
        match: null,
        candidates: [
          { route: '/api/p/:id', service: 'pcat', reason: 'method DELETE not allowed' },
          { route: '/api/p/*', service: 'pcat', reason: 'method DELETE not allowed' },
        ],
      });
      // The real call agrees.
      const real = await call('/api/p/42', {}, 'DELETE');
      expect(real.status).toBe(405);
      expect(real.headers.allow).toBe('GET, HEAD, POST');
    });

    it('explains a 404 when no route matches', async () => {
      const r = await explain('GET', '/nowhere/at/all');
      expect(r.status).toBe(200);
      expect(r.json).toEqual({ status: 404, match: null, candidates: [] });
    });

    it('explains a 400 for invalid percent-encoding', async () => {
      const r = await explain('GET', '/api/p/%zz');
      expect(r.status).toBe(200);
      expect(r.json).toEqual({ status: 400, match: null, candidates: [] });
      expect((await call('/api/p/%zz')).status).toBe(400);
    });

    it('explains a 404 for a path whose .. leaves the route it matched as sent', async () => {
      const r = await explain('GET', '/a/../b/x');
      expect(r.status).toBe(200);
      const body = r.json as Explanation;
      expect(body.status).toBe(404);
      expect(body.match).toBeNull();
      for (const c of body.candidates) expect(c.reason).not.toBe('selected');
      expect(body.candidates.map((c) => c.route)).toEqual(['/b/*']);
      // While the plain spelling is routed.
      expect(((await explain('GET', '/b/x')).json as Explanation).status).toBe(200);
    });

    it('routes the path without its query string, as a real call is routed', async () => {
      const r = await explain('GET', '/api/p/literal?x=1');
      const body = r.json as Explanation;
      expect(body.status).toBe(200);
      expect(body.match).toMatchObject({
        route: '/api/p/literal',
        service: 'pcat',
        auth: 'apiKey',
      });
      expect(body.candidates.map((c) => c.route)).toEqual([
        '/api/p/literal',
        '/api/p/:id',
        '/api/p/*',
      ]);
    });

    it.each([
      ['no query', '/api/gateway/routes/explain'],
      ['no path', '/api/gateway/routes/explain?method=GET'],
      ['no method', '/api/gateway/routes/explain?path=%2Fb%2Fx'],
      ['method given twice', '/api/gateway/routes/explain?method=GET&method=POST&path=%2Fb%2Fx'],
      ['path given twice', '/api/gateway/routes/explain?method=GET&path=%2Fb%2Fx&path=%2Fa%2Fy'],
    ])('answers 400 with the contract body for %s', async (_what, path) => {
      const r = await call(path, ADMIN_API_KEY);
      expectErrorBody(r, 400, 'Bad Request');
    });
  });

  describe('POST /api/gateway/reload', () => {
    let rgw: TestGateway;
    const xService = (extra = '') =>
      `name: x\ntargets: [{ url: "${live.url}" }]\nroutes:\n  - { path: /x/* }\n${extra}`;

    beforeAll(async () => {
      rgw = await startTestGateway({
        gateway: GATEWAY_YAML,
        services: {
          x: xService(),
          y: `name: y\ntargets: [{ url: "${live.url}" }]\nroutes:\n  - { path: /y/* }\n`,
        },
      });
    });

    afterAll(async () => {
      await rgw?.close();
    });

    const on = (path: string, headers: Record<string, string> = {}, method = 'GET') =>
      jsonCall(rgw.port, path, { method, headers });
    const status = async () =>
      (await on('/api/gateway/status')).json as {
        config: { revision: string; loadedAt: string };
        counts: { routes: number };
      };

    it('applies an edited service file: 200 with the revision and the changed file', async () => {
      const before = await status();
      expect((await on('/x2/a')).status).toBe(404);
      writeFileSync(join(rgw.dir, 'services', 'x.yaml'), xService('  - { path: /x2/* }\n'));

      const r = await on('/api/gateway/reload', ADMIN_API_KEY, 'POST');
      expect(r.status).toBe(200);
      expect(r.headers['content-type']).toMatch(/^application\/json\b/);
      const body = r.json as { revision: string; changed: string[] };
      expect(body).toEqual({ revision: expect.any(String), changed: ['services/x.yaml'] });
      expect(body.revision).not.toBe(before.config.revision);

      const after = await status();
      expect(after.config.revision).toBe(body.revision);
      expect(after.counts.routes).toBe(before.counts.routes + 1);
      expect(Date.parse(after.config.loadedAt)).toBeGreaterThanOrEqual(
        Date.parse(before.config.loadedAt),
      );

      const served = await on('/x2/a?q=1');
      expect(served.status).toBe(200);
      expect(served.json).toMatchObject({ method: 'GET', url: '/x2/a?q=1' });
    });

    it('answers changed: [] when nothing changed', async () => {
      const before = await status();
      const r = await on('/api/gateway/reload', ADMIN_JWT, 'POST');
      expect(r.status).toBe(200);
      expect(r.json).toEqual({ revision: before.config.revision, changed: [] });
    });

    it('rejects an invalid edit with 422 and the problems; the old config keeps serving', async () => {
      const before = await status();
      writeFileSync(
        join(rgw.dir, 'services', 'x.yaml'),
        `name: x\ntargets: [{ url: "${live.url}" }]\nroutes:\n  - { path: x3/* }\n  - { path: /x4/*, auth: none, roles: [admin] }\n`,
      );
      const r = await on('/api/gateway/reload', ADMIN_API_KEY, 'POST');
      const body = expectErrorBody(r, 422, 'Unprocessable Entity', ['problems']);
      expect(body.problems).toEqual([
        'services/x.yaml: routes[0].path: must start with /',
        'services/x.yaml: routes[1].roles: needs auth jwt, apiKey or any (auth is none)',
      ]);
      for (const line of body.problems as string[]) {
        expect(line).toMatch(/^services\/x\.yaml: [A-Za-z0-9_.[\]]+: \S.*$/);
      }

      expect((await status()).config.revision).toBe(before.config.revision);
      expect((await on('/x2/b')).status).toBe(200);
      expect((await on('/x/b')).status).toBe(200);
      expect((await on('/y/b')).status).toBe(200);
      expect((await on('/x4/b')).status).toBe(404);
    });

    it.each([
      ['YAML that does not parse', 'name: x\n] SECRET-IN-BROKEN-YAML\n'],
      ['an unresolved YAML alias', 'name: x\ntargets: *SECRET-ALIAS-NAME\nroutes: []\n'],
    ])('rejects %s with 422 and problem lines, echoing nothing', async (_what, text) => {
      const before = await status();
      writeFileSync(join(rgw.dir, 'services', 'x.yaml'), text);
      const r = await on('/api/gateway/reload', ADMIN_API_KEY, 'POST');
      const body = expectErrorBody(r, 422, 'Unprocessable Entity', ['problems']);
      const problems = body.problems as string[];
      expect(problems.length).toBeGreaterThan(0);
      for (const line of problems) {
        expect(line).toMatch(/^services\/x\.yaml: (\(line \d+\)|\(root\)|[\w.[\]-]+): \S.*$/);
      }
      expect(r.text).not.toMatch(/SECRET-(IN-BROKEN-YAML|ALIAS-NAME)/);
      expect((await status()).config.revision).toBe(before.config.revision);
      expect((await on('/x2/c')).status).toBe(200);
    });
  });
});
