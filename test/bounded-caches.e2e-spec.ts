// Issue 13: a flat heap with 100,000 distinct client IPs and tokens. Every structure that
// grows with client input is driven with 100,000 distinct keys and its entry COUNT is held
// to its bound (class drives: quick enough for 100,000); then a smaller drive through the
// real gateway over HTTP shows that calls land in those same bounded structures. Counts
// are asserted, never times.
import { createSecretKey, type KeyObject } from 'node:crypto';
import { Agent } from 'node:http';

import argon2 from 'argon2';
import jwt from 'jsonwebtoken';

import { Authenticator } from '../src/auth/authenticator';
import type { Identity } from '../src/auth/identity';
import { JwksKeySet } from '../src/auth/jwks-key-set';
import {
  VERIFIED_TOKEN_CACHE_MAX_ENTRIES,
  VerifiedTokenCache,
} from '../src/auth/verified-token-cache';
import { ipKey } from '../src/common/ip-key';
import {
  ClientRegistry,
  type ConfigClientRegistry,
  HASHING_CONCURRENCY,
  HASHING_MAX_WAITING,
} from '../src/oauth/client-registry';
import { HashQueue, HashQueueFull } from '../src/oauth/hash-queue';
import {
  MEMORY_STORE_MAX_ENTRIES,
  MemoryWindowStorage,
} from '../src/rate-limit/memory-window.storage';
import { RateLimiter } from '../src/rate-limit/rate-limiter';
import type { WindowRule } from '../src/rate-limit/sliding-window';
import { startBackend, type TestBackend } from './support/backend';
import { type JwksServer, startJwksServer } from './support/jwks-server';
import { basicAuth, publicJwk, rsaPair } from './support/keys';
import { rawRequest } from './support/raw-http';
import { startTestGateway, type TestGateway } from './support/test-gateway';

const N = 100_000;
const SECRET = 'bounded-caches-hs256-secret-0123456789abcdef';
/** jsonwebtoken signs ~70× faster with a KeyObject than with the string (same HS256 MAC). */
const HMAC_KEY: KeyObject = createSecretKey(Buffer.from(SECRET, 'utf8'));
const DAY_MS = 86_400_000;

/** The i-th of 2^24 distinct IPv4 addresses (10.0.0.0/8). */
const ipv4 = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
/** The i-th distinct IPv6 /64 (2001:db8::/32), host part fixed. */
const ipv6Net = (i: number) => `2001:db8:${(i >> 16).toString(16)}:${(i & 0xffff).toString(16)}::1`;
/** The i-th host of one IPv6 /64. */
const ipv6Host = (i: number) =>
  `2001:db8:aa:bb:${(i >> 16).toString(16)}:${(i & 0xffff).toString(16)}:0:1`;

/** A real HS256 JWT for subject `sub`, valid for an hour. */
const hs256 = (sub: string) => jwt.sign({ sub }, HMAC_KEY, { algorithm: 'HS256', expiresIn: 3600 });

/** The two rules the rate-limit guard applies to an anonymous call on a per-IP route rule. */
const guardRules = (ip: string): WindowRule[] => [
  { key: `gw:rl:route:api:/api/open/*:*:ip:${ipKey(ip, 64)}`, limit: 1000, windowMs: DAY_MS },
  { key: `gw:rl:public:ip:${ipKey(ip, 64)}`, limit: 1000, windowMs: DAY_MS },
];

interface Sent {
  path: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
}

/** `n` calls, `concurrency` at a time on kept-alive sockets; the count of each status. */
async function drive(
  port: number,
  n: number,
  make: (i: number) => Sent,
  concurrency = 48,
): Promise<Record<number, number>> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const statuses: Record<number, number> = {};
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const s = make(next++);
      const r = await rawRequest({ port, agent, ...s });
      statuses[r.status] = (statuses[r.status] ?? 0) + 1;
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  } finally {
    agent.destroy();
  }
  return statuses;
}

const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();

describe('Bounded caches and windows: 100,000 distinct client IPs and tokens', () => {
  describe('each structure driven with 100,000 distinct keys', () => {
    it('rate-limit memory store: 100,000 client IPs on a tier and a per-IP route rule (a day long) stay within its bound', async () => {
      const now = 1_000 * DAY_MS;
      const store = new MemoryWindowStorage(() => now);
      try {
        expect(store.maxEntries).toBe(MEMORY_STORE_MAX_ENTRIES);
        let max = 0;
        let refused = 0;
        for (let i = 0; i < N; i++) {
          const [route, tier] = await store.consume(guardRules(ipv4(i)));
          if (!route.allowed || !tier.allowed) refused++;
          max = Math.max(max, store.size);
        }
        expect(refused).toBe(0);
        // 200,000 keys offered in one window: expiry alone would keep every one.
        expect(max).toBeLessThanOrEqual(MEMORY_STORE_MAX_ENTRIES);
        expect(store.size).toBe(MEMORY_STORE_MAX_ENTRIES);
        expect(store.evicted).toBe(2 * N - MEMORY_STORE_MAX_ENTRIES);
        // The most recent clients are still counted (their second call has 998 left).
        const [, last] = await store.consume(guardRules(ipv4(N - 1)));
        expect(last.remaining).toBe(998);
      } finally {
        store.onModuleDestroy();
      }
    });

    it('rate-limit memory store: a limited client is not reset by 100,000 other clients while it keeps calling', async () => {
      let now = 1_000 * DAY_MS;
      const store = new MemoryWindowStorage(() => now, 1_000);
      try {
        const attacker: WindowRule = {
          key: 'gw:rl:public:ip:192.0.2.1',
          limit: 3,
          windowMs: 60_000,
        };
        for (let i = 0; i < 3; i++) expect((await store.consume([attacker]))[0].allowed).toBe(true);
        let refused = 0;
        let max = 0;
        for (let i = 0; i < N; i++) {
          await store.consume([{ key: `gw:rl:public:ip:${ipv4(i)}`, limit: 3, windowMs: 60_000 }]);
          if (i % 500 === 0) refused += (await store.consume([attacker]))[0].allowed ? 0 : 1;
          max = Math.max(max, store.size);
        }
        expect(refused).toBe(N / 500);
        expect(max).toBe(1_000);
        now += 30_000; // the sweep drops nothing yet: every window is less than one old
        store.sweep();
        expect((await store.consume([attacker]))[0].allowed).toBe(false);
      } finally {
        store.onModuleDestroy();
      }
    });

    it('ip keys: 100,000 addresses of one IPv6 /64 are one key; 100,000 /64s are 100,000 (the store above bounds them)', () => {
      const hosts = new Set<string>();
      const nets = new Set<string>();
      for (let i = 0; i < N; i++) {
        hosts.add(ipKey(ipv6Host(i), 64));
        nets.add(ipKey(ipv6Net(i), 64));
      }
      expect(hosts.size).toBe(1);
      expect(nets.size).toBe(N);
      // ipv6Prefix 48 folds the /64s 2001:db8:0:0-ffff::/64 into one key.
      const wide = new Set<string>();
      for (let i = 0; i < 65_536; i += 7) wide.add(ipKey(ipv6Net(i), 48));
      expect(wide.size).toBe(1);
    });

    it('verified-token cache: 100,000 real HS256 tokens leave at most its bound', () => {
      const cache = new VerifiedTokenCache();
      expect(cache.maxEntries).toBe(VERIFIED_TOKEN_CACHE_MAX_ENTRIES);
      const now = Date.now();
      let max = 0;
      let last = '';
      for (let i = 0; i < N; i++) {
        last = hs256(`user-${i}`);
        const identity: Identity = {
          subject: `user-${i}`,
          roles: [],
          scopes: undefined,
          method: 'jwt',
          token: { exp: Math.floor(now / 1000) + 3600 },
        };
        cache.set(last, identity, now);
        max = Math.max(max, cache.size);
      }
      expect(max).toBeLessThanOrEqual(VERIFIED_TOKEN_CACHE_MAX_ENTRIES);
      expect(cache.size).toBe(VERIFIED_TOKEN_CACHE_MAX_ENTRIES);
      expect(cache.get(last, now)?.subject).toBe(`user-${N - 1}`);
    });

    describe('JWKS key set', () => {
      const pair = rsaPair();
      let server: JwksServer;
      beforeAll(async () => {
        // 1,000 published keys (one key's material under 1,000 kids: parsing is what counts).
        const jwk = publicJwk(pair, 'k');
        server = await startJwksServer(
          Array.from({ length: 1_000 }, (_, i) => ({ ...jwk, kid: `kid-${i}` })),
        );
      });
      afterAll(() => server.close());

      it('keeps at most 100 keys of a document, and 100,000 unknown kids add none and fetch once', async () => {
        let now = 1_000_000;
        const set = new JwksKeySet(server.uri, { now: () => now });
        expect(await set.get('kid-0')).toBeDefined();
        expect(set.size).toBe(100);
        expect(await set.get('kid-500')).toBeUndefined();
        const before = server.fetches;
        let found = 0;
        for (let i = 0; i < N; i++) {
          if (await set.get(`made-up-${i}`)) found++;
          if (i % 10_000 === 0) now += 1; // time moves, but less than the 10 s between fetches
        }
        expect(found).toBe(0);
        expect(server.fetches - before).toBe(0);
        expect(set.size).toBe(100);
      });
    });

    it('hash queue: of 100,000 hash checks arriving at once, at most HASHING_MAX_WAITING wait; the rest are refused at once', async () => {
      const q = new HashQueue(HASHING_CONCURRENCY, HASHING_MAX_WAITING);
      let release!: () => void;
      const gate = new Promise<boolean>((r) => (release = () => r(true)));
      let refused = 0;
      let max = 0;
      const runs: Promise<unknown>[] = [];
      for (let i = 0; i < N; i++) {
        runs.push(
          q
            .run(() => gate)
            .catch((e: unknown) => {
              if (e instanceof HashQueueFull) refused++;
            }),
        );
        max = Math.max(max, q.pending);
      }
      expect(max).toBe(HASHING_MAX_WAITING);
      await new Promise((r) => setImmediate(r));
      expect(refused).toBe(N - HASHING_CONCURRENCY - HASHING_MAX_WAITING);
      release();
      await Promise.all(runs);
      expect(q.pending).toBe(0);
    });
  });

  describe('through the real gateway (HTTP)', () => {
    let backend: TestBackend;
    let jwks: JwksServer;
    let gw: TestGateway;
    let store: MemoryWindowStorage;
    const rsa = rsaPair();

    beforeAll(async () => {
      backend = await startBackend({ kind: 'status', status: 204 });
      jwks = await startJwksServer([publicJwk(rsa, 'published')]);
      gw = await startTestGateway(
        {
          gateway: [
            'server:',
            '  trustProxy: [127.0.0.1/32]',
            'auth:',
            '  jwt:',
            '    algorithms: [HS256, RS256]',
            `    secret: ${SECRET}`,
            `    jwksUri: ${jwks.uri}`,
            'oauth:',
            '  clients:',
            '    - { clientId: app, clientSecret: app-secret, scopes: [read] }',
            'rateLimit:',
            '  tiers:',
            '    public: { limit: 1000000, windowSeconds: 3600 }',
            '    authenticated: { limit: 1000000, windowSeconds: 3600 }',
            '  clientAuthFailures: { limit: 5, windowSeconds: 3600 }',
            '',
          ].join('\n'),
          services: {
            api: [
              'name: api',
              `targets: [{ url: "${backend.url}" }]`,
              'routes:',
              '  - { path: /api/open/*, auth: none, rateLimit: { limit: 1000000, windowSeconds: 3600 } }',
              '  - { path: /api/jwt/*, auth: jwt }',
              // Refused after authentication (the token is verified and cached), before the backend.
              '  - { path: /api/admin/*, auth: jwt, roles: [admin] }',
              '',
            ].join('\n'),
          },
        },
        { LOG_LEVEL: 'warn' },
      );
      store = gw.app.get(RateLimiter).memory;
    });

    afterAll(async () => {
      await gw?.close();
      await jwks?.close();
      await backend?.close();
    });

    it("2,000 client IPs (X-Forwarded-For from a trusted proxy): a tier key and a route key each, in the limiter's bounded memory store", async () => {
      expect(store).toBeInstanceOf(MemoryWindowStorage);
      expect(store.maxEntries).toBe(MEMORY_STORE_MAX_ENTRIES);
      const before = store.size;
      const statuses = await drive(gw.port, 2_000, (i) => ({
        path: '/api/open/x',
        headers: { 'X-Forwarded-For': ipv4(i) },
      }));
      expect(statuses).toEqual({ 204: 2_000 });
      expect(store.size - before).toBe(4_000);
    });

    it('2,000 addresses of one IPv6 /64: one tier key and one route key', async () => {
      const before = store.size;
      const statuses = await drive(gw.port, 2_000, (i) => ({
        path: '/api/open/x',
        headers: { 'X-Forwarded-For': ipv6Host(i) },
      }));
      expect(statuses).toEqual({ 204: 2_000 });
      expect(store.size - before).toBe(2);
    });

    it('11,000 distinct HS256 tokens: the verified-token cache stays at its bound of 10,000', async () => {
      const auth = gw.app.get(Authenticator);
      const before = store.size;
      const tokens = Array.from({ length: VERIFIED_TOKEN_CACHE_MAX_ENTRIES + 1_000 }, (_, i) =>
        hs256(`http-user-${i}`),
      );
      let max = 0;
      // The first 2,000 are proxied (and counted); the rest are verified, cached, then 403.
      const statuses = await drive(gw.port, tokens.length, (i) => {
        max = Math.max(max, auth.verifiedTokenCount);
        return {
          path: i < 2_000 ? '/api/jwt/x' : '/api/admin/x',
          headers: { Authorization: `Bearer ${tokens[i]}` },
        };
      });
      expect(statuses).toEqual({ 204: 2_000, 403: tokens.length - 2_000 });
      expect(max).toBeLessThanOrEqual(VERIFIED_TOKEN_CACHE_MAX_ENTRIES);
      expect(auth.verifiedTokenCount).toBe(VERIFIED_TOKEN_CACHE_MAX_ENTRIES);
      // The authenticated tier keys on the identity: one key per subject, in the same store
      // (a 403 is never counted).
      expect(store.size - before).toBe(2_000);
    });

    it('500 RS256 tokens with made-up kids: all 401, at most one JWKS fetch', async () => {
      const before = jwks.fetches;
      const tokens = Array.from({ length: 500 }, (_, i) =>
        jwt.sign({ sub: `rs-${i}` }, rsa.privatePem, {
          algorithm: 'RS256',
          keyid: `made-up-${i}`,
          expiresIn: 3600,
        }),
      );
      const statuses = await drive(gw.port, tokens.length, (i) => ({
        path: '/api/jwt/x',
        headers: { Authorization: `Bearer ${tokens[i]}` },
      }));
      expect(statuses).toEqual({ 401: tokens.length });
      expect(jwks.fetches - before).toBeLessThanOrEqual(1);
    });

    it('2,000 failed client authentications from 2,000 IPs: one client_auth key each, in the same store', async () => {
      const before = store.size;
      const statuses = await drive(gw.port, 2_000, (i) => ({
        path: '/oauth/token',
        method: 'POST',
        headers: {
          'Content-Type': 'application/x-www-form-urlencoded',
          Authorization: basicAuth(i % 2 ? 'app' : `nobody-${i}`, `wrong-${i}`),
          'X-Forwarded-For': ipv4(0x200000 + i),
        },
        body: form({ grant_type: 'client_credentials' }),
      }));
      expect(statuses).toEqual({ 401: 2_000 });
      // Unknown client ids leave nothing of their own (rateLimit.tokenEndpoint is per client).
      expect(store.size - before).toBe(2_000);
    });
  });

  describe('hashed secrets through the real gateway (HTTP)', () => {
    let gw: TestGateway;
    let registry: ConfigClientRegistry;
    const secret = 'owner-secret-0123456789';

    beforeAll(async () => {
      // A cheap argon2id (about 20 ms a check) so a flood outruns two checks at a time.
      const hash = await argon2.hash(secret, {
        type: argon2.argon2id,
        memoryCost: 19_456,
        timeCost: 2,
        parallelism: 1,
      });
      gw = await startTestGateway(
        {
          gateway: [
            'server:',
            '  trustProxy: [127.0.0.1/32]',
            'oauth:',
            '  clients:',
            `    - { clientId: owner, secretHash: "${hash}", scopes: [a] }`,
            '',
          ].join('\n'),
        },
        { LOG_LEVEL: 'warn' },
      );
      registry = gw.app.get<ClientRegistry, ConfigClientRegistry>(ClientRegistry);
    });

    afterAll(() => gw?.close());

    it('400 wrong secrets at once from 400 IPs: at most HASHING_MAX_WAITING checks wait, the rest are 503 overloaded at once', async () => {
      let maxPending = 0;
      const sampler = setInterval(() => {
        maxPending = Math.max(maxPending, registry.pendingHashChecks);
      }, 1);
      const replies = await Promise.all(
        Array.from({ length: 400 }, (_, i) =>
          rawRequest({
            port: gw.port,
            method: 'POST',
            path: '/oauth/token',
            headers: {
              'Content-Type': 'application/x-www-form-urlencoded',
              Authorization: basicAuth(i % 2 ? 'owner' : `nobody-${i}`, `guess-${i}`),
              'X-Forwarded-For': ipv4(0x300000 + i),
            },
            body: form({ grant_type: 'client_credentials' }),
          }).then((r) => {
            maxPending = Math.max(maxPending, registry.pendingHashChecks);
            return r;
          }),
        ),
      );
      clearInterval(sampler);
      const count = (s: number) => replies.filter((r) => r.status === s).length;
      expect(count(401) + count(503)).toBe(400);
      expect(count(503)).toBeGreaterThan(0);
      expect(count(401)).toBeGreaterThanOrEqual(HASHING_MAX_WAITING);
      expect(maxPending).toBeLessThanOrEqual(HASHING_MAX_WAITING);
      const shed = replies.find((r) => r.status === 503);
      expect(shed?.headers['retry-after']).toBe('1');
      expect(JSON.parse(shed?.body.toString() ?? '{}')).toMatchObject({ message: 'overloaded' });
      // Once the queue has drained the owner authenticates (a 503 counted as no failure).
      expect(registry.pendingHashChecks).toBe(0);
      const ok = await rawRequest({
        port: gw.port,
        method: 'POST',
        path: '/oauth/token',
        headers: {
          'Content-Type': 'application/x-www-form-urlencoded',
          Authorization: basicAuth('owner', secret),
          'X-Forwarded-For': ipv4(0x300000),
        },
        body: form({ grant_type: 'client_credentials' }),
      });
      expect(ok.status).toBe(200);
    });
  });
});
