import jwt from 'jsonwebtoken';

import { RateLimiter } from '../src/rate-limit/rate-limiter';
import { startBackend, type TestBackend } from './support/backend';
import { basicAuth } from './support/keys';
import {
  anyLimitHeader,
  call,
  clearOfBoundary,
  counterSum,
  counterValue,
  expectGatewayError,
  limitHeaders,
  type Reply,
  resetAfterCount,
  retryAfterFull,
  tokenCall,
  waitForPhase,
} from './support/rate-limit-kit';
import { startTestGateway, type TestGateway } from './support/test-gateway';

const SECRET = 'rate-limit-spec-hs256-secret-0123456789abcdef';
const KEY_A = 'rl-key-a-4f1c2e9d7b';
const KEY_B = 'rl-key-b-8a3d6c0e2f';
const MINUTE = 60_000;
const VIOLATIONS = 'gateway_rate_limit_violations_total';

const RATE_LIMIT = [
  'rateLimit:',
  '  tiers:',
  '    public: { limit: 5, windowSeconds: 60 }',
  '    authenticated: { limit: 7, windowSeconds: 60 }',
  '    admin: { limit: 9, windowSeconds: 60 }',
  '  tokenEndpoint: { limit: 3, windowSeconds: 60 }',
];

function gatewayYaml(rateLimit: string[] = RATE_LIMIT, server: string[] = []): string {
  return [
    ...server,
    'auth:',
    '  jwt:',
    '    algorithms: [HS256]',
    `    secret: ${SECRET}`,
    '  apiKeys:',
    '    keys:',
    `      - { name: key-a, key: ${KEY_A} }`,
    `      - { name: key-b, key: ${KEY_B} }`,
    'oauth:',
    '  clients:',
    '    - { clientId: acme, clientSecret: acme-secret, scopes: [orders:read], roles: [user] }',
    '    - { clientId: beta, clientSecret: beta-secret }',
    '    - { clientId: gamma, clientSecret: gamma-secret }',
    ...rateLimit,
    '',
  ].join('\n');
}

function apiService(url: string): string {
  return [
    'name: api',
    `targets: [{ url: "${url}" }]`,
    'routes:',
    '  - { path: /api/open/*, auth: none }',
    '  - { path: /api/any/*, auth: any }',
    '  - { path: /api/jwt/*, auth: jwt }',
    '  - { path: /api/admin/*, auth: jwt, roles: [admin] }',
    '  - { path: /api/limited/*, auth: none, rateLimit: { limit: 3, windowSeconds: 60 } }',
    '  - { path: /api/loose/*, auth: none, rateLimit: { limit: 10, windowSeconds: 30 } }',
    '  - path: /api/shared/*',
    '    auth: apiKey',
    '    rateLimit: { limit: 3, windowSeconds: 60, scope: endpoint }',
    '  - { path: /api/mine/*, auth: none, rateLimit: { limit: 2, windowSeconds: 60, scope: user } }',
    '  - path: /api/per-user/*',
    '    auth: jwt',
    '    rateLimit: { limit: 2, windowSeconds: 60, scope: user }',
    '  - { path: /api/free/*, auth: none, rateLimit: false }',
    // One pattern, two routes (by method), each with its own rule.
    '  - path: /api/split/*',
    '    methods: [GET]',
    '    rateLimit: { limit: 2, windowSeconds: 60 }',
    '  - path: /api/split/*',
    '    methods: [POST]',
    '    rateLimit: { limit: 10, windowSeconds: 60 }',
    '',
  ].join('\n');
}

function failingService(url: string): string {
  return [
    'name: failing',
    `targets: [{ url: "${url}" }]`,
    'routes:',
    '  - { path: /api/failing/*, auth: none }',
    '',
  ].join('\n');
}

function token(sub: string, roles: string[] = []): string {
  return jwt.sign({ sub, roles }, SECRET, { algorithm: 'HS256', expiresIn: 300 });
}

const bearer = (sub: string, roles: string[] = []) => ({
  Authorization: `Bearer ${token(sub, roles)}`,
});

async function calls(
  gw: TestGateway,
  n: number,
  path: string,
  headers: Record<string, string> = {},
): Promise<Reply[]> {
  const out: Reply[] = [];
  for (let i = 0; i < n; i++) out.push(await call(gw, path, headers));
  return out;
}

const statuses = (rs: Reply[]) => rs.map((r) => r.status);
const remaining = (rs: Reply[]) => rs.map((r) => r.headers['x-ratelimit-remaining']);

/** A 429 in the gateway's body with the limit headers and a Retry-After of at least 1. */
function expectRefused(r: Reply, limit: number): void {
  expectGatewayError(r, 429, 'Too Many Requests', 'rate limit exceeded');
  expect(Number(r.headers['retry-after'])).toBeGreaterThanOrEqual(1);
  expect(r.headers['x-ratelimit-limit']).toBe(String(limit));
  expect(r.headers['x-ratelimit-remaining']).toBe('0');
  expect(Number(r.headers['x-ratelimit-reset'])).toBeGreaterThanOrEqual(1);
}

describe('Rate limits, memory store (e2e)', () => {
  let backend: TestBackend;
  let failing: TestBackend;

  beforeAll(async () => {
    backend = await startBackend();
    // Its own limit headers must not reach the client: the gateway's replace them.
    failing = await startBackend({
      kind: 'status',
      status: 500,
      headers: {
        'X-RateLimit-Limit': '999',
        'X-RateLimit-Remaining': '998',
        'X-RateLimit-Reset': '7',
        RateLimit: '"backend";r=998;t=7',
        'RateLimit-Policy': '"backend";q=999;w=7',
      },
      body: 'backend broke',
    });
  });

  afterAll(async () => {
    await backend?.close();
    await failing?.close();
  });

  describe('tiers and route rules', () => {
    let gw: TestGateway;

    beforeEach(async () => {
      gw = await startTestGateway({
        gateway: gatewayYaml(),
        services: { api: apiService(backend.url), failing: failingService(failing.url) },
      });
    });

    afterEach(async () => {
      await gw?.close();
    });

    it('answers limit + 1 calls with 429, counting Remaining down and forwarding only limit', async () => {
      await clearOfBoundary(MINUTE, 1500);
      const violationsBefore = await counterValue(VIOLATIONS, {
        tier: 'public',
        route: '/api/open/*',
      });
      const before = backend.received.length;
      const rs = await calls(gw, 6, '/api/open/x');
      expect(statuses(rs)).toEqual([200, 200, 200, 200, 200, 429]);
      expect(remaining(rs)).toEqual(['4', '3', '2', '1', '0', '0']);
      expect(backend.received.length - before).toBe(5);

      for (const [i, r] of rs.slice(0, 5).entries()) {
        const h = limitHeaders(r);
        const reset = Number(h.reset);
        expect(resetAfterCount(r, MINUTE)).toContain(reset);
        expect(h).toEqual({
          limit: '5',
          remaining: String(4 - i),
          reset: String(reset),
          policy: '"public";q=5;w=60',
          rateLimit: `"public";r=${4 - i};t=${reset}`,
        });
      }

      const refused = rs[5];
      expectRefused(refused, 5);
      // Five calls in this window: one more fits 12 s (1/5 of the window) after the boundary.
      expect(retryAfterFull(refused, MINUTE, 5)).toContain(Number(refused.headers['retry-after']));
      const reset = Number(refused.headers['x-ratelimit-reset']);
      expect(resetAfterCount(refused, MINUTE)).toContain(reset);
      expect(refused.headers['ratelimit-policy']).toBe('"public";q=5;w=60');
      expect(refused.headers['ratelimit']).toBe(`"public";r=0;t=${reset}`);
      expect(await counterValue(VIOLATIONS, { tier: 'public', route: '/api/open/*' })).toBe(
        violationsBefore + 1,
      );
    });

    it('does not count calls answered 429', async () => {
      await calls(gw, 5, '/api/open/x');
      const refused = await calls(gw, 4, '/api/open/x');
      expect(statuses(refused)).toEqual([429, 429, 429, 429]);
      // The route's own count: a call refused by the tier did not use the route's quota.
      const route = await call(gw, '/api/limited/x');
      expect(route.status).toBe(429);
      expect(route.headers['ratelimit']).toMatch(/^"route";r=3;t=0, "public";r=0;t=\d+$/);
    });

    it('gives each tier its own limit: public by IP, authenticated by subject, admin by role', async () => {
      const pub = await call(gw, '/api/open/x');
      expect(limitHeaders(pub)).toMatchObject({ limit: '5', policy: '"public";q=5;w=60' });

      const alice = await calls(gw, 8, '/api/any/x', bearer('alice'));
      expect(statuses(alice)).toEqual([200, 200, 200, 200, 200, 200, 200, 429]);
      expect(remaining(alice)).toEqual(['6', '5', '4', '3', '2', '1', '0', '0']);
      expect(alice[0].headers['ratelimit-policy']).toBe('"authenticated";q=7;w=60');
      expectRefused(alice[7], 7);

      // Another subject, and the IP's public count, are untouched by alice's calls.
      const bob = await call(gw, '/api/any/x', bearer('bob'));
      expect(limitHeaders(bob)).toMatchObject({ limit: '7', remaining: '6' });
      expect((await call(gw, '/api/open/x')).headers['x-ratelimit-remaining']).toBe('3');

      const root = await calls(gw, 10, '/api/any/x', bearer('root', ['admin']));
      expect(statuses(root)).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 200, 429]);
      expect(remaining(root)).toEqual(['8', '7', '6', '5', '4', '3', '2', '1', '0', '0']);
      expect(root[0].headers['ratelimit-policy']).toBe('"admin";q=9;w=60');
      expectRefused(root[9], 9);
    });

    it('keys API-key callers by the key name in the authenticated tier', async () => {
      const a = await calls(gw, 2, '/api/any/x', { 'X-API-Key': KEY_A });
      expect(remaining(a)).toEqual(['6', '5']);
      expect(a[0].headers['ratelimit-policy']).toBe('"authenticated";q=7;w=60');
      const b = await call(gw, '/api/any/x', { 'X-API-Key': KEY_B });
      expect(b.headers['x-ratelimit-remaining']).toBe('6');
    });

    it('applies a route rule on top of the tier: both listed, route first, X-RateLimit-* of the tighter', async () => {
      await clearOfBoundary(MINUTE, 1500);
      const violationsBefore = await counterValue(VIOLATIONS, {
        tier: 'route',
        route: '/api/limited/*',
      });
      const publicBefore = await counterValue(VIOLATIONS, {
        tier: 'public',
        route: '/api/limited/*',
      });
      const before = backend.received.length;
      const rs = await calls(gw, 4, '/api/limited/x');
      expect(statuses(rs)).toEqual([200, 200, 200, 429]);
      expect(backend.received.length - before).toBe(3);
      for (const [i, r] of rs.slice(0, 3).entries()) {
        const t = Number(r.headers['x-ratelimit-reset']);
        expect(resetAfterCount(r, MINUTE)).toContain(t);
        expect(limitHeaders(r)).toEqual({
          limit: '3',
          remaining: String(2 - i),
          reset: String(t),
          policy: '"route";q=3;w=60, "public";q=5;w=60',
          rateLimit: `"route";r=${2 - i};t=${t}, "public";r=${4 - i};t=${t}`,
        });
      }
      expectRefused(rs[3], 3);
      expect(rs[3].headers['ratelimit']).toMatch(/^"route";r=0;t=\d+, "public";r=2;t=\d+$/);
      expect(retryAfterFull(rs[3], MINUTE, 3)).toContain(Number(rs[3].headers['retry-after']));
      expect(await counterValue(VIOLATIONS, { tier: 'route', route: '/api/limited/*' })).toBe(
        violationsBefore + 1,
      );
      expect(await counterValue(VIOLATIONS, { tier: 'public', route: '/api/limited/*' })).toBe(
        publicBefore,
      );
      // The route's calls counted in the IP's tier too; the refused one did not.
      expect((await call(gw, '/api/open/x')).headers['x-ratelimit-remaining']).toBe('1');
    });

    it('takes X-RateLimit-* from the tier when the tier has fewer calls left', async () => {
      await calls(gw, 3, '/api/open/x');
      const r = await call(gw, '/api/loose/x');
      expect(r.status).toBe(200);
      const t = Number(r.headers['x-ratelimit-reset']);
      expect(limitHeaders(r)).toMatchObject({
        limit: '5',
        remaining: '1',
        policy: '"route";q=10;w=30, "public";q=5;w=60',
      });
      expect(r.headers['ratelimit']).toMatch(
        new RegExp(`^"route";r=9;t=\\d+, "public";r=1;t=${t}$`),
      );
      const rs = await calls(gw, 2, '/api/loose/x');
      expect(statuses(rs)).toEqual([200, 429]);
      expectRefused(rs[1], 5);
      expect(rs[1].headers['ratelimit']).toMatch(/^"route";r=8;t=\d+, "public";r=0;t=\d+$/);
    });

    it('keeps the counts of two routes apart when they share a pattern', async () => {
      const posts: Reply[] = [];
      for (let i = 0; i < 3; i++) posts.push(await call(gw, '/api/split/x', {}, 'POST'));
      expect(statuses(posts)).toEqual([200, 200, 200]);
      expect(posts[2].headers['ratelimit']).toMatch(/^"route";r=7;t=\d+, "public";r=2;t=\d+$/);
      // The GET route (limit 2) has not been called yet.
      const get = await call(gw, '/api/split/x');
      expect(get.status).toBe(200);
      expect(limitHeaders(get)).toMatchObject({
        limit: '2',
        remaining: '1',
        policy: '"route";q=2;w=60, "public";q=5;w=60',
      });
    });

    it('shares a scope: endpoint limit between different callers', async () => {
      const a1 = await call(gw, '/api/shared/x', { 'X-API-Key': KEY_A });
      const b1 = await call(gw, '/api/shared/x', { 'X-API-Key': KEY_B });
      const a2 = await call(gw, '/api/shared/x', { 'X-API-Key': KEY_A });
      const b2 = await call(gw, '/api/shared/x', { 'X-API-Key': KEY_B });
      expect(statuses([a1, b1, a2, b2])).toEqual([200, 200, 200, 429]);
      expect(remaining([a1, b1, a2])).toEqual(['2', '1', '0']);
      // Each caller's own tier count is separate: key-b has used one call of seven.
      expect(b1.headers['ratelimit']).toMatch(/^"route";r=1;t=\d+, "authenticated";r=6;t=\d+$/);
      expectRefused(b2, 3);
      expect(b2.headers['ratelimit']).toMatch(/^"route";r=0;t=\d+, "authenticated";r=6;t=\d+$/);
    });

    it('keys scope: user by the client IP on an auth: none route', async () => {
      const rs = [
        await call(gw, '/api/mine/x', bearer('alice')),
        await call(gw, '/api/mine/x', bearer('bob')),
        await call(gw, '/api/mine/x', bearer('carol')),
      ];
      expect(statuses(rs)).toEqual([200, 200, 429]);
      expect(remaining(rs)).toEqual(['1', '0', '0']);
      expect(rs[0].headers['ratelimit-policy']).toBe('"route";q=2;w=60, "public";q=5;w=60');
    });

    it('keys scope: user by the subject on an authenticated route', async () => {
      const alice = await calls(gw, 3, '/api/per-user/x', bearer('alice'));
      expect(statuses(alice)).toEqual([200, 200, 429]);
      const bob = await call(gw, '/api/per-user/x', bearer('bob'));
      expect(bob.status).toBe(200);
      expect(bob.headers['ratelimit']).toMatch(/^"route";r=1;t=\d+, "authenticated";r=6;t=\d+$/);
    });

    it('never limits a rateLimit: false route and sends no limit headers there', async () => {
      const before = backend.received.length;
      const rs = await calls(gw, 8, '/api/free/x');
      expect(statuses(rs)).toEqual(Array(8).fill(200));
      expect(rs.map(anyLimitHeader)).toEqual(Array(8).fill([]));
      expect(backend.received.length - before).toBe(8);
      // Nor do they count in the IP's tier.
      expect((await call(gw, '/api/open/x')).headers['x-ratelimit-remaining']).toBe('4');
    });

    it('answers 401 and 403 without limit headers and without counting them', async () => {
      const unauthenticated = await call(gw, '/api/jwt/x');
      expectGatewayError(unauthenticated, 401, 'Unauthorized');
      expect(anyLimitHeader(unauthenticated)).toEqual([]);
      const badToken = await call(gw, '/api/jwt/x', { Authorization: 'Bearer not.a.jwt' });
      expectGatewayError(badToken, 401, 'Unauthorized');
      expect(anyLimitHeader(badToken)).toEqual([]);

      const forbidden = await calls(gw, 3, '/api/admin/x', bearer('alice'));
      for (const r of forbidden) {
        expectGatewayError(r, 403, 'Forbidden');
        expect(anyLimitHeader(r)).toEqual([]);
      }
      expect((await call(gw, '/api/jwt/x', bearer('alice'))).headers['x-ratelimit-remaining']).toBe(
        '6',
      );
      expect((await call(gw, '/api/open/x')).headers['x-ratelimit-remaining']).toBe('4');
    });

    it("sends its own limit headers with a backend error too, not the backend's", async () => {
      await clearOfBoundary(MINUTE, 1500);
      const r = await call(gw, '/api/failing/x');
      expect(r.status).toBe(500);
      expect(r.body).toBe('backend broke');
      const t = Number(r.headers['x-ratelimit-reset']);
      expect(resetAfterCount(r, MINUTE)).toContain(t);
      expect(limitHeaders(r)).toEqual({
        limit: '5',
        remaining: '4',
        reset: String(t),
        policy: '"public";q=5;w=60',
        rateLimit: `"public";r=4;t=${t}`,
      });
    });

    describe('/oauth/token', () => {
      const form = (clientId: string, secret: string) => ({
        grant_type: 'client_credentials',
        client_id: clientId,
        client_secret: secret,
      });
      const basic = (clientId: string, secret: string) =>
        tokenCall(
          gw,
          { grant_type: 'client_credentials' },
          { Authorization: basicAuth(clientId, secret) },
        );

      it('limits by the client_id presented, Basic and form alike, with the gateway 429 body', async () => {
        await clearOfBoundary(MINUTE, 1500);
        const violationsBefore = await counterSum(VIOLATIONS, { tier: 'token' });
        const rs = [
          await basic('acme', 'acme-secret'),
          await tokenCall(gw, form('acme', 'acme-secret')),
          await basic('acme', 'acme-secret'),
        ];
        expect(statuses(rs)).toEqual([200, 200, 200]);
        for (const [i, r] of rs.entries()) {
          expect(JSON.parse(r.body)).toMatchObject({ token_type: 'Bearer', expires_in: 3600 });
          const t = Number(r.headers['x-ratelimit-reset']);
          expect(resetAfterCount(r, MINUTE)).toContain(t);
          expect(limitHeaders(r)).toEqual({
            limit: '3',
            remaining: String(2 - i),
            reset: String(t),
            policy: '"token";q=3;w=60',
            rateLimit: `"token";r=${2 - i};t=${t}`,
          });
        }

        const refused = await tokenCall(gw, form('acme', 'acme-secret'));
        expectRefused(refused, 3);
        expect(JSON.parse(refused.body)).not.toHaveProperty('error_description');
        expect(refused.headers['ratelimit-policy']).toBe('"token";q=3;w=60');
        expect(refused.headers['ratelimit']).toMatch(/^"token";r=0;t=\d+$/);
        expect(retryAfterFull(refused, MINUTE, 3)).toContain(
          Number(refused.headers['retry-after']),
        );
        const viaBasic = await basic('acme', 'acme-secret');
        expectRefused(viaBasic, 3);
        expect(await counterSum(VIOLATIONS, { tier: 'token' })).toBe(violationsBefore + 2);

        // Another client_id has its own count.
        const other = await tokenCall(gw, form('beta', 'beta-secret'));
        expect(other.status).toBe(200);
        expect(other.headers['x-ratelimit-remaining']).toBe('2');
      });

      it('never counts failed authentications against the client whose id was presented', async () => {
        const wrong = [
          await basic('gamma', 'wrong'),
          await tokenCall(gw, form('gamma', 'also-wrong')),
          await basic('gamma', 'wrong-again'),
          await basic('gamma', 'and-again'),
        ];
        for (const r of wrong) {
          expect(r.status).toBe(401);
          expect(JSON.parse(r.body)).toMatchObject({ error: 'invalid_client' });
          expect(r.headers['ratelimit-policy']).toBeUndefined();
        }
        // Four failures and still the client's full token budget.
        const ok = await basic('gamma', 'gamma-secret');
        expect(ok.status).toBe(200);
        expect(ok.headers['x-ratelimit-remaining']).toBe('2');
      });

      it('keeps no token-limit state for ids that are not registered', async () => {
        const limiter = gw.app.get(RateLimiter);
        const before = limiter.memory.size;
        for (let i = 0; i < 5; i++) {
          const r = await tokenCall(gw, form(`nobody-${i}`, 'x'));
          expect(r.status).toBe(401);
        }
        const anonymous = await tokenCall(gw, { grant_type: 'client_credentials' });
        expect(anonymous.status).toBe(401);
        // One key at most: this address's client_auth failures.
        expect(limiter.memory.size - before).toBeLessThanOrEqual(1);
        const acme = await basic('acme', 'acme-secret');
        expect(acme.status).toBe(200);
        expect(acme.headers['x-ratelimit-remaining']).toBe('2');
      });

      it('does not count the token endpoint in the proxy tiers', async () => {
        await basic('acme', 'acme-secret');
        await basic('acme', 'acme-secret');
        expect((await call(gw, '/api/open/x')).headers['x-ratelimit-remaining']).toBe('4');
      });
    });
  });

  describe('client IP behind proxies', () => {
    it('ignores X-Forwarded-For from an untrusted peer', async () => {
      const gw = await startTestGateway({
        gateway: gatewayYaml(),
        services: { api: apiService(backend.url) },
      });
      try {
        const rs: Reply[] = [];
        for (let i = 1; i <= 6; i++) {
          rs.push(await call(gw, '/api/open/x', { 'X-Forwarded-For': `198.51.100.${i}` }));
        }
        expect(statuses(rs)).toEqual([200, 200, 200, 200, 200, 429]);
        expect(remaining(rs)).toEqual(['4', '3', '2', '1', '0', '0']);
      } finally {
        await gw.close();
      }
    });

    it('counts distinct forwarded addresses apart behind a trusted proxy', async () => {
      const gw = await startTestGateway({
        gateway: gatewayYaml(RATE_LIMIT, ['server:', '  trustProxy: [127.0.0.1/32]']),
        services: { api: apiService(backend.url) },
      });
      try {
        const one = await calls(gw, 6, '/api/open/x', { 'X-Forwarded-For': '203.0.113.1' });
        expect(statuses(one)).toEqual([200, 200, 200, 200, 200, 429]);
        const two = await call(gw, '/api/open/x', { 'X-Forwarded-For': '203.0.113.2' });
        expect(two.status).toBe(200);
        expect(two.headers['x-ratelimit-remaining']).toBe('4');
        // The right-most untrusted entry counts: a client cannot prepend its way out.
        const prepended = await call(gw, '/api/open/x', {
          'X-Forwarded-For': '192.0.2.99, 203.0.113.1',
        });
        expect(prepended.status).toBe(429);
        // The proxy's own address without a forwarded one is a client of its own.
        expect((await call(gw, '/api/open/x')).headers['x-ratelimit-remaining']).toBe('4');
      } finally {
        await gw.close();
      }
    });
    it('keys IPv6 clients by their /64 (rateLimit.ipv6Prefix), IPv4 ones by the whole address', async () => {
      const gw = await startTestGateway({
        gateway: gatewayYaml(RATE_LIMIT, ['server:', '  trustProxy: [127.0.0.1/32]']),
        services: { api: apiService(backend.url) },
      });
      try {
        // Five addresses of one /64 share the public tier's five calls.
        const rs: Reply[] = [];
        for (let i = 1; i <= 6; i++) {
          rs.push(await call(gw, '/api/open/x', { 'X-Forwarded-For': `2001:db8:1:2::${i}` }));
        }
        expect(statuses(rs)).toEqual([200, 200, 200, 200, 200, 429]);
        // The next /64 is another client.
        const other = await call(gw, '/api/open/x', { 'X-Forwarded-For': '2001:db8:1:3::1' });
        expect(other.status).toBe(200);
        expect(other.headers['x-ratelimit-remaining']).toBe('4');
      } finally {
        await gw.close();
      }
    });
  });

  describe('rateLimit.enabled: false', () => {
    let gw: TestGateway;

    beforeAll(async () => {
      gw = await startTestGateway({
        gateway: gatewayYaml([...RATE_LIMIT, '  enabled: false']),
        services: { api: apiService(backend.url) },
      });
    });

    afterAll(async () => {
      await gw?.close();
    });

    it('limits no tier and no route, and sends no limit headers', async () => {
      const before = backend.received.length;
      const rs = [
        ...(await calls(gw, 8, '/api/open/x')),
        ...(await calls(gw, 5, '/api/limited/x')),
        ...(await calls(gw, 10, '/api/any/x', bearer('alice'))),
      ];
      expect(statuses(rs)).toEqual(Array(23).fill(200));
      expect(rs.flatMap(anyLimitHeader)).toEqual([]);
      expect(backend.received.length - before).toBe(23);
    });

    it('does not limit the token endpoint either', async () => {
      const auth = { Authorization: basicAuth('acme', 'acme-secret') };
      const ok: Reply[] = [];
      for (let i = 0; i < 5; i++) {
        ok.push(await tokenCall(gw, { grant_type: 'client_credentials' }, auth));
      }
      expect(statuses(ok)).toEqual([200, 200, 200, 200, 200]);
      expect(ok.flatMap(anyLimitHeader)).toEqual([]);
      const wrong: Reply[] = [];
      const bad = { Authorization: basicAuth('gamma', 'wrong') };
      for (let i = 0; i < 5; i++) {
        wrong.push(await tokenCall(gw, { grant_type: 'client_credentials' }, bad));
      }
      expect(statuses(wrong)).toEqual([401, 401, 401, 401, 401]);
    });
  });

  describe('window boundary', () => {
    let gw: TestGateway;

    beforeAll(async () => {
      gw = await startTestGateway({
        gateway: gatewayYaml([
          'rateLimit:',
          '  tiers:',
          '    public: { limit: 3, windowSeconds: 1 }',
        ]),
        services: { api: apiService(backend.url) },
      });
    });

    afterAll(async () => {
      await gw?.close();
    });

    it('does not pass limit calls at the end of a window and limit more at the start of the next', async () => {
      await waitForPhase(1000, 700, 760);
      const late = await calls(gw, 3, '/api/open/x');
      expect(statuses(late)).toEqual([200, 200, 200]);
      // All three fell in one fixed window.
      expect(Math.floor(late[2].doneAt / 1000)).toBe(Math.floor(late[0].sentAt / 1000));

      await waitForPhase(1000, 0, 60);
      const early = await calls(gw, 3, '/api/open/x');
      // A fixed window would pass all three: 6 calls within a third of a second.
      expect(statuses(early)).toEqual([429, 429, 429]);
      expect(early[2].doneAt % 1000).toBeLessThan(330);
      expect(Math.floor(early[0].sentAt / 1000)).toBe(Math.floor(late[0].sentAt / 1000) + 1);
      for (const r of early) {
        expectRefused(r, 3);
        expect(r.headers['retry-after']).toBe('1');
        // Only the previous window's calls are left: gone at the end of this one.
        expect(r.headers['x-ratelimit-reset']).toBe('1');
      }

      // Half-way, 3 × 0.5 = 1.5 are still counted: one call fits, the next does not.
      await waitForPhase(1000, 450, 520);
      const half = await calls(gw, 2, '/api/open/x');
      expect(statuses(half)).toEqual([200, 429]);
      expect(half[1].doneAt % 1000).toBeLessThan(666);
      expect(limitHeaders(half[0])).toEqual({
        limit: '3',
        remaining: '0',
        reset: '2',
        policy: '"public";q=3;w=1',
        rateLimit: '"public";r=0;t=2',
      });
    });
  });
});
