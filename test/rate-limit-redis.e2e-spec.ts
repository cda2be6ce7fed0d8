import Redis from 'ioredis';
import jwt from 'jsonwebtoken';

import { startBackend, type TestBackend } from './support/backend';
import { basicAuth, claimsOf } from './support/keys';
import { poll } from './support/poll';
import {
  call,
  clearOfBoundary,
  counterValue,
  deleteUnder,
  expectGatewayError,
  keysUnder,
  limitHeaders,
  logLines,
  RedisProcess,
  type Reply,
  resetAfterCount,
  retryAfterFull,
  tokenCall,
  uniquePrefix,
} from './support/rate-limit-kit';
import { startTestGateway, type TestGateway } from './support/test-gateway';

const SECRET = 'rate-limit-redis-spec-hs256-secret-0123456789';
const SHARED_REDIS = 'redis://127.0.0.1:6379';
const MINUTE = 60_000;
const STORE_ERRORS = 'gateway_rate_limit_store_errors_total';
const UNREACHABLE = 'rate-limit store unreachable';
const REACHABLE_AGAIN = 'rate-limit store reachable again';

function gatewayYaml(prefix: string, onStoreError: 'allow' | 'deny' = 'allow'): string {
  return [
    'auth:',
    '  jwt:',
    '    algorithms: [HS256]',
    `    secret: ${SECRET}`,
    'oauth:',
    '  clients:',
    '    - { clientId: acme, clientSecret: acme-secret, scopes: [orders:read] }',
    'rateLimit:',
    '  store: redis',
    `  redisKeyPrefix: "${prefix}"`,
    `  onStoreError: ${onStoreError}`,
    '  tiers:',
    '    public: { limit: 5, windowSeconds: 60 }',
    '    authenticated: { limit: 7, windowSeconds: 60 }',
    '  tokenEndpoint: { limit: 3, windowSeconds: 60 }',
    '',
  ].join('\n');
}

function apiService(url: string): string {
  return [
    'name: api',
    `targets: [{ url: "${url}" }]`,
    'routes:',
    '  - { path: /api/open/*, auth: none }',
    '  - { path: /api/limited/*, auth: none, rateLimit: { limit: 3, windowSeconds: 60 } }',
    '  - { path: /api/fast/*, auth: none, rateLimit: { limit: 2, windowSeconds: 1 } }',
    '  - { path: /api/jwt/*, auth: jwt }',
    '  - { path: /api/jwt-free/*, auth: jwt, rateLimit: false }',
    '',
  ].join('\n');
}

async function calls(gw: TestGateway, n: number, path: string, headers = {}): Promise<Reply[]> {
  const out: Reply[] = [];
  for (let i = 0; i < n; i++) out.push(await call(gw, path, headers));
  return out;
}

const statuses = (rs: Reply[]) => rs.map((r) => r.status);
const remaining = (rs: Reply[]) => rs.map((r) => r.headers['x-ratelimit-remaining']);

interface ReadyBody {
  status: string;
  details: { rateLimitStore: Record<string, unknown> };
}

async function ready(gw: TestGateway): Promise<{ status: number; body: ReadyBody }> {
  const r = await call(gw, '/ready');
  return { status: r.status, body: JSON.parse(r.body) as ReadyBody };
}

/** Polls /ready until the gateway reports the store reachable (its connection is up). */
function storeUp(gw: TestGateway): Promise<true> {
  return poll(
    async () =>
      (await ready(gw)).body.details.rateLimitStore.reachable === true ? true : undefined,
    5000,
    'the rate-limit store to be reachable',
    20,
  );
}

/** A token from the gateway's own /oauth/token (so the JWT guard reads its revocation). */
async function issuedToken(gw: TestGateway): Promise<string> {
  const r = await tokenCall(
    gw,
    { grant_type: 'client_credentials' },
    { Authorization: basicAuth('acme', 'acme-secret') },
  );
  expect(r.status).toBe(200);
  return (JSON.parse(r.body) as { access_token: string }).access_token;
}

function expectRefused(r: Reply, limit: number): void {
  expectGatewayError(r, 429, 'Too Many Requests', 'rate limit exceeded');
  expect(Number(r.headers['retry-after'])).toBeGreaterThanOrEqual(1);
  expect(r.headers['x-ratelimit-limit']).toBe(String(limit));
  expect(r.headers['x-ratelimit-remaining']).toBe('0');
}

describe('Rate limits, Redis store (e2e)', () => {
  let backend: TestBackend;

  beforeAll(async () => {
    backend = await startBackend();
  });

  afterAll(async () => {
    await backend?.close();
  });

  describe('on the shared Redis', () => {
    let redis: Redis;
    let prefix: string;
    const gateways: TestGateway[] = [];
    const start = async () => {
      const gw = await startTestGateway(
        { gateway: gatewayYaml(prefix), services: { api: apiService(backend.url) } },
        { REDIS_URL: SHARED_REDIS },
      );
      gateways.push(gw);
      await storeUp(gw);
      return gw;
    };

    beforeAll(() => {
      redis = new Redis(SHARED_REDIS, { lazyConnect: true });
      return redis.connect();
    });

    beforeEach(() => {
      prefix = uniquePrefix();
    });

    afterEach(async () => {
      for (const gw of gateways.splice(0)) await gw.close();
      await deleteUnder(redis, prefix);
    });

    afterAll(async () => {
      await redis?.quit();
    });

    it('answers limit + 1 calls with 429 and the same headers as the memory store', async () => {
      const gw = await start();
      await clearOfBoundary(MINUTE, 1500);
      const before = backend.received.length;
      const rs = await calls(gw, 6, '/api/open/x');
      expect(statuses(rs)).toEqual([200, 200, 200, 200, 200, 429]);
      expect(remaining(rs)).toEqual(['4', '3', '2', '1', '0', '0']);
      expect(backend.received.length - before).toBe(5);
      for (const [i, r] of rs.slice(0, 5).entries()) {
        const t = Number(r.headers['x-ratelimit-reset']);
        expect(resetAfterCount(r, MINUTE)).toContain(t);
        expect(limitHeaders(r)).toEqual({
          limit: '5',
          remaining: String(4 - i),
          reset: String(t),
          policy: '"public";q=5;w=60',
          rateLimit: `"public";r=${4 - i};t=${t}`,
        });
      }
      expectRefused(rs[5], 5);
      expect(retryAfterFull(rs[5], MINUTE, 5)).toContain(Number(rs[5].headers['retry-after']));
      expect(rs[5].headers['ratelimit']).toBe(
        `"public";r=0;t=${String(rs[5].headers['x-ratelimit-reset'])}`,
      );
    });

    it('checks a route rule and the tier in one step, counting neither when one refuses', async () => {
      const gw = await start();
      const rs = await calls(gw, 4, '/api/limited/x');
      expect(statuses(rs)).toEqual([200, 200, 200, 429]);
      expect(rs[0].headers['ratelimit-policy']).toBe('"route";q=3;w=60, "public";q=5;w=60');
      expect(rs[2].headers['ratelimit']).toMatch(/^"route";r=0;t=\d+, "public";r=2;t=\d+$/);
      expectRefused(rs[3], 3);
      expect(rs[3].headers['ratelimit']).toMatch(/^"route";r=0;t=\d+, "public";r=2;t=\d+$/);
      expect(remaining(await calls(gw, 3, '/api/open/x'))).toEqual(['1', '0', '0']);
      // The tier refused: the route's count did not move either.
      const r = await call(gw, '/api/limited/x');
      expect(r.headers['ratelimit']).toMatch(/^"route";r=0;t=\d+, "public";r=0;t=\d+$/);
    });

    it('enforces one limit across two instances sharing the Redis', async () => {
      const a = await start();
      const b = await start();
      const before = backend.received.length;
      const rs: Reply[] = [];
      for (let i = 0; i < 6; i++) rs.push(await call(i % 2 === 0 ? a : b, '/api/open/x'));
      expect(statuses(rs)).toEqual([200, 200, 200, 200, 200, 429]);
      expect(remaining(rs)).toEqual(['4', '3', '2', '1', '0', '0']);
      expect(backend.received.length - before).toBe(5);
      expectRefused(await call(a, '/api/open/x'), 5);

      // Concurrent calls on both instances: the check is atomic, exactly the limit passes.
      const auth = {
        Authorization: `Bearer ${jwt.sign({ sub: 'burst' }, SECRET, { algorithm: 'HS256', expiresIn: 300 })}`,
      };
      const burst = await Promise.all(
        Array.from({ length: 12 }, (_, i) => call(i % 2 === 0 ? a : b, '/api/jwt/x', auth)),
      );
      const passed = burst.filter((r) => r.status === 200);
      expect(passed).toHaveLength(7);
      expect(burst.filter((r) => r.status === 429)).toHaveLength(5);
      expect(passed.map((r) => Number(r.headers['x-ratelimit-remaining'])).sort()).toEqual([
        0, 1, 2, 3, 4, 5, 6,
      ]);

      // The token endpoint too.
      const basic = { Authorization: basicAuth('acme', 'acme-secret') };
      const grant = { grant_type: 'client_credentials' };
      const tokens = [
        await tokenCall(a, grant, basic),
        await tokenCall(b, grant, basic),
        await tokenCall(a, grant, basic),
        await tokenCall(b, grant, basic),
      ];
      expect(statuses(tokens)).toEqual([200, 200, 200, 429]);
      expectRefused(tokens[3], 3);
    });

    it('counts failed client authentications per address across two instances (client_auth)', async () => {
      const a = await start();
      const b = await start();
      const wrong = { Authorization: basicAuth('acme', 'wrong') };
      const grant = { grant_type: 'client_credentials' };
      const failures: Reply[] = [];
      for (let i = 0; i < 10; i++) failures.push(await tokenCall(i % 2 ? a : b, grant, wrong));
      expect(statuses(failures)).toEqual(Array(10).fill(401));
      // The dry-run check reads the shared count before any secret is checked: the right
      // secret is refused too, on both instances.
      const right = { Authorization: basicAuth('acme', 'acme-secret') };
      for (const gw of [a, b]) {
        const r = await tokenCall(gw, grant, right);
        expect(r.status).toBe(429);
        expect(r.headers['ratelimit-policy']).toBe('"client_auth";q=10;w=60');
      }
      const keys = await keysUnder(redis, prefix);
      expect(keys.filter((k) => k.includes('client_auth'))).toHaveLength(1);
    });
  });

  describe('keys in Redis', () => {
    let server: RedisProcess;
    let redis: Redis;
    let gw: TestGateway;
    const prefix = uniquePrefix();

    beforeAll(async () => {
      server = await RedisProcess.start();
      redis = new Redis(server.url, { lazyConnect: true });
      await redis.connect();
      gw = await startTestGateway(
        { gateway: gatewayYaml(prefix), services: { api: apiService(backend.url) } },
        { REDIS_URL: server.url },
      );
      await storeUp(gw);
    });

    afterAll(async () => {
      await gw?.close();
      await redis?.quit();
      await server?.kill();
    });

    it('keeps every key under the prefix with a TTL of at most two windows', async () => {
      await calls(gw, 2, '/api/limited/x');
      await call(gw, '/api/fast/x');
      await issuedToken(gw);

      // This redis-server is the test's own: every key in it is the gateway's.
      const all = (await redis.keys('*')).sort();
      expect(all.length).toBeGreaterThan(0);
      for (const k of all) expect(k.startsWith(prefix)).toBe(true);
      expect(await keysUnder(redis, prefix)).toEqual(all);

      const ttl = new Map<string, number>();
      for (const k of all) ttl.set(k, await redis.pttl(k));
      for (const [k, ms] of ttl) {
        if (!k.includes('fast')) continue;
        // A 1 s window: gone within 2 s.
        expect(ms).toBeGreaterThan(0);
        expect(ms).toBeLessThanOrEqual(2000);
      }
      for (const ms of ttl.values()) {
        expect(ms).toBeGreaterThan(0);
        expect(ms).toBeLessThanOrEqual(2 * MINUTE);
      }
      // tier, route, 1 s route, token endpoint.
      expect(all).toHaveLength(4);
    });

    it('stores a revoked token under the prefix, keyed by its jti, until it expires', async () => {
      const token = await issuedToken(gw);
      const auth = { Authorization: basicAuth('acme', 'acme-secret') };
      const form = new URLSearchParams({ token }).toString();
      const revoke = await call(
        gw,
        '/oauth/revoke',
        { ...auth, 'Content-Type': 'application/x-www-form-urlencoded' },
        'POST',
        form,
      );
      expect(revoke.status).toBe(200);
      const { jti, exp } = claimsOf(token) as { jti: string; exp: number };
      const keys = (await redis.keys('*revoked*')).filter((k) => k.includes(jti));
      expect(keys).toHaveLength(1);
      expect(keys[0].startsWith(prefix)).toBe(true);
      const ttl = await redis.pttl(keys[0]);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(exp * 1000 - Date.now() + 1000);
      const r = await call(gw, '/api/jwt/x', { Authorization: `Bearer ${token}` });
      expectGatewayError(r, 401, 'Unauthorized');
    });
  });

  describe('store outage', () => {
    let server: RedisProcess;
    let gw: TestGateway | undefined;

    const start = async (onStoreError: 'allow' | 'deny') => {
      gw = await startTestGateway(
        {
          gateway: gatewayYaml(uniquePrefix(), onStoreError),
          services: { api: apiService(backend.url) },
        },
        { REDIS_URL: server.url },
      );
      await storeUp(gw);
      return gw;
    };

    /** A JWT the gateway did not issue (no jti): no revocation read. */
    const foreignToken = () =>
      jwt.sign({ sub: 'outsider' }, SECRET, { algorithm: 'HS256', expiresIn: 300 });

    beforeEach(async () => {
      server = await RedisProcess.start();
    });

    afterEach(async () => {
      await gw?.close();
      gw = undefined;
      await server.kill();
    });

    it('with onStoreError: allow lets calls through fast, logs once, counts each, stays ready', async () => {
      const g = await start('allow');
      const issued = await issuedToken(g);
      const first = await call(g, '/api/open/x');
      expect(first.headers['x-ratelimit-remaining']).toBe('4');
      const errorsBefore = await counterValue(STORE_ERRORS, { store: 'redis' });
      const forwardedBefore = backend.received.length;

      await server.kill();
      const rs = await calls(g, 20, '/api/open/x');
      expect(statuses(rs)).toEqual(Array(20).fill(200));
      for (const r of rs) expect(r.ms).toBeLessThan(200);
      expect(backend.received.length - forwardedBefore).toBe(20);
      expect((await counterValue(STORE_ERRORS, { store: 'redis' })) - errorsBefore).toBe(20);
      const warned = logLines(g, UNREACHABLE);
      expect(warned).toHaveLength(1);
      expect(warned[0]).toMatchObject({ level: 40, store: 'redis', onStoreError: 'allow' });

      const down = await ready(g);
      expect(down.status).toBe(200);
      expect(down.body.status).toBe('ok');
      expect(down.body.details.rateLimitStore).toEqual({
        status: 'up',
        store: 'redis',
        reachable: false,
        onStoreError: 'allow',
        enabled: true,
      });

      // The revocation read follows the same rule: the gateway's token is taken as valid.
      const viaToken = await calls(g, 3, '/api/jwt-free/x', { Authorization: `Bearer ${issued}` });
      expect(statuses(viaToken)).toEqual([200, 200, 200]);
      for (const r of viaToken) expect(r.ms).toBeLessThan(200);
      expect(logLines(g, 'revocation store unreachable')).toHaveLength(1);

      await server.start();
      const back = await poll(
        async () => {
          const r = await call(g, '/api/open/x');
          return r.headers['x-ratelimit-remaining'] === undefined ? undefined : r;
        },
        5000,
        'calls to be counted again',
      );
      expect(back.status).toBe(200);
      // A fresh server: the count starts over.
      expect(back.headers['x-ratelimit-remaining']).toBe('4');
      expect(logLines(g, REACHABLE_AGAIN)).toHaveLength(1);
      expect(logLines(g, UNREACHABLE)).toHaveLength(1);
      const up = await ready(g);
      expect(up.status).toBe(200);
      expect(up.body.details.rateLimitStore).toMatchObject({ status: 'up', reachable: true });
    });

    it('decides within 200 ms against a store that hangs, and /ready follows with deny', async () => {
      const g = await start('deny');
      expect((await call(g, '/api/open/x')).status).toBe(200);
      server.pause();
      try {
        const rs = await calls(g, 5, '/api/open/x');
        for (const r of rs) {
          expectGatewayError(r, 503, 'Service Unavailable', 'rate-limit store unavailable');
          expect(r.ms).toBeLessThan(200);
        }
        expect(logLines(g, UNREACHABLE)).toHaveLength(1);
        // Every call is refused 503: the instance must not report itself ready.
        const down = await ready(g);
        expect({
          status: down.status,
          reachable: down.body.details.rateLimitStore.reachable,
        }).toEqual({ status: 503, reachable: false });
      } finally {
        server.resume();
      }
      const back = await poll(
        async () => {
          const r = await call(g, '/api/open/x');
          return r.status === 503 ? undefined : r;
        },
        5000,
        'calls to be decided by the store again',
      );
      // The store answers again. The scripts that timed out on the gateway's side during the
      // hang still ran once Redis resumed (a client timeout cannot unsend a command), so
      // they may have spent this tier's quota: 200 or 429, but decided, with the headers.
      expect([200, 429]).toContain(back.status);
      expect(back.headers['x-ratelimit-limit']).toBe('5');
      expect(logLines(g, REACHABLE_AGAIN)).toHaveLength(1);
    });

    it('with rateLimit.enabled: false an outage changes nothing for limits or /ready', async () => {
      gw = await startTestGateway(
        {
          gateway: gatewayYaml(uniquePrefix(), 'deny').replace(
            'rateLimit:\n',
            'rateLimit:\n  enabled: false\n',
          ),
          services: { api: apiService(backend.url) },
        },
        { REDIS_URL: server.url },
      );
      await storeUp(gw);
      await server.kill();
      const rs = await calls(gw, 3, '/api/open/x');
      expect(statuses(rs)).toEqual([200, 200, 200]);
      expect(logLines(gw, UNREACHABLE)).toHaveLength(0);
      const r = await ready(gw);
      expect(r.status).toBe(200);
      expect(r.body.details.rateLimitStore).toMatchObject({ status: 'up', enabled: false });
    });

    it('with onStoreError: deny answers 503 fast, fails /ready, and recovers on reconnection', async () => {
      const g = await start('deny');
      const issued = await issuedToken(g);
      expect((await call(g, '/api/open/x')).status).toBe(200);
      const errorsBefore = await counterValue(STORE_ERRORS, { store: 'redis' });
      const forwardedBefore = backend.received.length;

      await server.kill();
      const rs = await calls(g, 20, '/api/open/x');
      for (const r of rs) {
        expectGatewayError(r, 503, 'Service Unavailable', 'rate-limit store unavailable');
        expect(r.ms).toBeLessThan(200);
      }
      expect(backend.received.length - forwardedBefore).toBe(0);
      expect((await counterValue(STORE_ERRORS, { store: 'redis' })) - errorsBefore).toBe(20);
      const warned = logLines(g, UNREACHABLE);
      expect(warned).toHaveLength(1);
      expect(warned[0]).toMatchObject({ level: 40, store: 'redis', onStoreError: 'deny' });

      const down = await ready(g);
      expect(down.status).toBe(503);
      expect(down.body.status).toBe('error');
      expect(down.body.details.rateLimitStore).toEqual({
        status: 'down',
        store: 'redis',
        reachable: false,
        onStoreError: 'deny',
        enabled: true,
      });

      // The token endpoint is limited: same rule.
      const tokenDenied = await tokenCall(
        g,
        { grant_type: 'client_credentials' },
        { Authorization: basicAuth('acme', 'acme-secret') },
      );
      expectGatewayError(tokenDenied, 503, 'Service Unavailable');
      expect(tokenDenied.ms).toBeLessThan(200);

      // The revocation read on an unlimited jwt route: a gateway token cannot be checked.
      const revocationDenied = await call(g, '/api/jwt-free/x', {
        Authorization: `Bearer ${issued}`,
      });
      expectGatewayError(revocationDenied, 503, 'Service Unavailable');
      expect(revocationDenied.ms).toBeLessThan(200);
      // A token the gateway did not issue needs no revocation read.
      const foreign = await call(g, '/api/jwt-free/x', {
        Authorization: `Bearer ${foreignToken()}`,
      });
      expect(foreign.status).toBe(200);
      expect(backend.received.length - forwardedBefore).toBe(1);

      await server.start();
      const back = await poll(
        async () => {
          const r = await call(g, '/api/open/x');
          return r.status === 503 ? undefined : r;
        },
        5000,
        'calls to pass again',
      );
      expect(back.status).toBe(200);
      expect(limitHeaders(back)).toMatchObject({ limit: '5', remaining: '4' });
      expect(logLines(g, REACHABLE_AGAIN)).toHaveLength(1);
      const up = await ready(g);
      expect(up.status).toBe(200);
      expect(up.body.details.rateLimitStore).toMatchObject({ status: 'up', reachable: true });
      const revocationBack = await call(g, '/api/jwt-free/x', {
        Authorization: `Bearer ${issued}`,
      });
      expect(revocationBack.status).toBe(200);
    });
  });
});
