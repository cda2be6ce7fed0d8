import { spawnSync } from 'node:child_process';
import { existsSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import jwt from 'jsonwebtoken';

import { GatewayConfig } from '../src/config/gateway-config';
import { startBackend, type TestBackend } from './support/backend';
import { nowSeconds } from './support/keys';
import {
  counterOf,
  type Exposition,
  parseExposition,
  samplesOf,
  sumOf,
  valueOf,
} from './support/prom-text';
import { rawRequest, type RawResponse } from './support/raw-http';
import { refusingUrl } from './support/resilience-kit';
import { startTestGateway, type TestGateway } from './support/test-gateway';

const SECRET = 'metrics-spec-hs256-secret-5f1e9c7a3b';
const GOOD_KEY = 'metrics-good-key-8c2d';
const PROMTOOL = '/usr/bin/promtool';
const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

const REQUESTS = 'gateway_requests_total';
const DURATION = 'gateway_request_duration_seconds';
const UPSTREAM = 'gateway_upstream_duration_seconds';
const AUTH = 'gateway_auth_failures_total';

// Small body limit (413), a tight authenticated tier (a tier 429 for one subject), roomy
// public tier (the file makes many anonymous calls from one IP).
const GATEWAY_YAML = `
server:
  bodyLimit: 1kb
auth:
  jwt:
    secret: ${SECRET}
    issuer: api-gateway
    audience: api
  apiKeys:
    keys:
      - { name: metrics-bot, key: ${GOOD_KEY}, roles: [service] }
rateLimit:
  tiers:
    public: { limit: 100000, windowSeconds: 60 }
    authenticated: { limit: 2, windowSeconds: 60 }
`;

function mService(url: string): string {
  return `
name: m
targets: [{ url: "${url}" }]
routes:
  - { path: /api/m/*, methods: [GET, POST] }
  - { path: /api/m-jwt/*, auth: jwt }
  - { path: /api/m-key/*, auth: apiKey }
  - { path: /api/m-role/*, auth: any, roles: [ops] }
  - { path: /api/m-scope/*, auth: jwt, scopes: ["m:read"] }
  - { path: /api/m-limited/*, rateLimit: { limit: 1, windowSeconds: 60 } }
  - { path: /api/m-hist/* }
`;
}

const failService = (url: string) => `
name: mfail
targets: [{ url: "${url}" }]
circuitBreaker: { volumeThreshold: 2, errorThresholdPercentage: 50, resetTimeoutMs: 60000, rollingWindowMs: 60000 }
routes:
  - { path: /api/mfail/* }
`;

const downService = (url: string) => `
name: mdown
targets: [{ url: "${url}" }]
routes:
  - { path: /api/mdown/* }
`;

const slowService = (url: string) => `
name: mslow
targets: [{ url: "${url}" }]
timeoutMs: 150
routes:
  - { path: /api/mslow/* }
`;

function token(claims: Record<string, unknown>): string {
  const now = nowSeconds();
  return jwt.sign({ iss: 'api-gateway', aud: 'api', iat: now, exp: now + 300, ...claims }, SECRET, {
    algorithm: 'HS256',
  });
}

describe('Metrics (e2e)', () => {
  let echo: TestBackend;
  let failing: TestBackend;
  let hanging: TestBackend;
  let refusing: string;
  let gw: TestGateway;

  beforeAll(async () => {
    echo = await startBackend({ kind: 'echo' });
    failing = await startBackend({ kind: 'status', status: 500, body: 'boom' });
    hanging = await startBackend({ kind: 'hang' });
    refusing = await refusingUrl();
    gw = await startTestGateway({
      gateway: GATEWAY_YAML,
      services: {
        m: mService(echo.url),
        mfail: failService(failing.url),
        mdown: downService(refusing),
        mslow: slowService(hanging.url),
      },
    });
  });

  afterAll(async () => {
    await gw?.close();
    await echo?.close();
    await failing?.close();
    await hanging?.close();
  });

  const send = (
    path: string,
    o: { method?: string; headers?: Record<string, string>; body?: string } = {},
  ): Promise<RawResponse> =>
    rawRequest({ port: gw.port, path, method: o.method, headers: o.headers, body: o.body });

  async function scrape(): Promise<{ res: RawResponse; text: string; e: Exposition }> {
    const res = await send('/metrics');
    expect(res.status).toBe(200);
    const text = res.body.toString('utf8');
    return { res, text, e: parseExposition(text) };
  }

  const requests = (
    e: Exposition,
    method: string,
    route: string,
    service: string,
    status: number,
  ) => counterOf(e, REQUESTS, { method, route, service, status: String(status) });

  describe('GET /metrics', () => {
    it('is public and answers the Prometheus text format', async () => {
      const { res, e } = await scrape();
      // text/plain, version 0.0.4, UTF-8: the parameters in any order.
      const [type, ...params] = String(res.headers['content-type'])
        .split(';')
        .map((p) => p.trim());
      expect(type).toBe('text/plain');
      expect(params.sort()).toEqual(['charset=utf-8', 'version=0.0.4']);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.headers['x-request-id']).toEqual(expect.any(String));
      expect(res.headers['www-authenticate']).toBeUndefined();
      expect(e.types.get(REQUESTS)).toBe('counter');
      expect(e.types.get(DURATION)).toBe('histogram');
      expect(e.types.get(UPSTREAM)).toBe('histogram');
      expect(e.types.get('gateway_circuit_breaker_state')).toBe('gauge');
      expect(e.types.get('gateway_upstream_target_up')).toBe('gauge');
      expect(e.types.get(AUTH)).toBe('counter');
      expect(e.types.get('gateway_config_reloads_total')).toBe('counter');
      expect(e.types.get('gateway_rate_limit_violations_total')).toBe('counter');
      expect(e.types.get('gateway_rate_limit_store_errors_total')).toBe('counter');
    });

    it('includes the default process metrics, without the gauges named like counters', async () => {
      const { e } = await scrape();
      expect(e.types.get('process_cpu_user_seconds_total')).toBe('counter');
      expect(valueOf(e, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
      expect(e.types.get('nodejs_heap_size_total_bytes')).toBe('gauge');
      expect(valueOf(e, 'nodejs_heap_size_total_bytes')).toBeGreaterThan(0);
      for (const name of [
        'nodejs_active_handles_total',
        'nodejs_active_requests_total',
        'nodejs_active_resources_total',
      ]) {
        expect(e.types.has(name)).toBe(false);
        expect(samplesOf(e, name)).toEqual([]);
      }
    });

    it('does not count the gateway-owned endpoints', async () => {
      const before = (await scrape()).e;
      expect((await send('/health')).status).toBe(200);
      expect((await send('/ready')).status).toBe(200);
      expect((await send('/api/gateway/status')).status).toBe(200);
      expect((await send('/metrics')).status).toBe(200);
      expect((await send('/.well-known/jwks.json')).status).toBe(200);
      const after = (await scrape()).e;
      expect(sumOf(after, REQUESTS)).toBe(sumOf(before, REQUESTS));
      expect(sumOf(after, `${DURATION}_count`)).toBe(sumOf(before, `${DURATION}_count`));
      for (const route of ['/health', '/ready', '/metrics', '/api/gateway/status']) {
        expect(samplesOf(after, REQUESTS, { route })).toEqual([]);
      }
      expect(samplesOf(after, REQUESTS, { status: '200', route: 'none' })).toEqual([]);
    });
  });

  describe('gateway_requests_total and the duration histograms', () => {
    it('counts proxied calls by route pattern, never by raw path', async () => {
      const before = (await scrape()).e;
      const reached = echo.received.length;
      for (const path of ['/api/m/some-unique-raw-123', '/api/m/a/b?q=secret-query-77', '/api/m']) {
        expect((await send(path)).status).toBe(200);
      }
      expect((await send('/api/m/posted', { method: 'POST', body: 'hi' })).status).toBe(200);
      const { text, e } = await scrape();
      expect(echo.received.length - reached).toBe(4);
      expect(
        requests(e, 'GET', '/api/m/*', 'm', 200) - requests(before, 'GET', '/api/m/*', 'm', 200),
      ).toBe(3);
      expect(requests(e, 'POST', '/api/m/*', 'm', 200)).toBe(1);
      expect(text).not.toContain('some-unique-raw-123');
      expect(text).not.toContain('secret-query-77');
      expect(text).not.toContain('/api/m/posted');
      for (const s of samplesOf(e, REQUESTS)) {
        expect(Object.keys(s.labels).sort()).toEqual(['method', 'route', 'service', 'status']);
      }
    });

    it('counts unmatched calls as route "none", service "none" without the raw path', async () => {
      const before = (await scrape()).e;
      expect((await send('/nowhere/unique-raw-456')).status).toBe(404);
      expect((await send('/api/m/%zz-unique-raw-789')).status).toBe(400);
      const { text, e } = await scrape();
      expect(
        requests(e, 'GET', 'none', 'none', 404) - requests(before, 'GET', 'none', 'none', 404),
      ).toBe(1);
      expect(
        requests(e, 'GET', 'none', 'none', 400) - requests(before, 'GET', 'none', 'none', 400),
      ).toBe(1);
      expect(text).not.toContain('unique-raw-456');
      expect(text).not.toContain('unique-raw-789');
    });

    it('counts a 405 under the route whose path matched', async () => {
      const r = await send('/api/m/x', { method: 'DELETE' });
      expect(r.status).toBe(405);
      expect(r.headers.allow).toBe('GET, HEAD, POST');
      const { e } = await scrape();
      expect(samplesOf(e, REQUESTS, { method: 'DELETE' })).toEqual([
        {
          name: REQUESTS,
          labels: { method: 'DELETE', route: '/api/m/*', service: 'm', status: '405' },
          value: 1,
        },
      ]);
      expect(
        valueOf(e, `${DURATION}_count`, { method: 'DELETE', route: '/api/m/*', service: 'm' }),
      ).toBe(1);
    });

    it('counts a 413 (Content-Length over bodyLimit) under the route, nothing forwarded', async () => {
      const reached = echo.received.length;
      const r = await send('/api/m/x', { method: 'POST', body: 'x'.repeat(2048) });
      expect(r.status).toBe(413);
      const { e } = await scrape();
      expect(echo.received.length).toBe(reached);
      expect(samplesOf(e, REQUESTS, { status: '413' })).toEqual([
        {
          name: REQUESTS,
          labels: { method: 'POST', route: '/api/m/*', service: 'm', status: '413' },
          value: 1,
        },
      ]);
    });

    it('counts a 401 on a jwt route under the route', async () => {
      const r = await send('/api/m-jwt/x');
      expect(r.status).toBe(401);
      const { e } = await scrape();
      expect(requests(e, 'GET', '/api/m-jwt/*', 'm', 401)).toBe(1);
    });

    it('counts 429 from a route limit, and the violation by tier and route', async () => {
      expect((await send('/api/m-limited/a')).status).toBe(200);
      const r = await send('/api/m-limited/b');
      expect(r.status).toBe(429);
      expect(r.headers['retry-after']).toMatch(/^\d+$/);
      const { e } = await scrape();
      expect(requests(e, 'GET', '/api/m-limited/*', 'm', 200)).toBe(1);
      expect(requests(e, 'GET', '/api/m-limited/*', 'm', 429)).toBe(1);
      expect(
        valueOf(e, 'gateway_rate_limit_violations_total', {
          tier: 'route',
          route: '/api/m-limited/*',
        }),
      ).toBe(1);
      expect(
        samplesOf(e, 'gateway_rate_limit_violations_total', { route: '/api/m-limited/*' }),
      ).toHaveLength(1);
    });

    it('counts a tier violation under its tier', async () => {
      const auth = { Authorization: `Bearer ${token({ sub: 'tier-user-1' })}` };
      expect((await send('/api/m-jwt/1', { headers: auth })).status).toBe(200);
      expect((await send('/api/m-jwt/2', { headers: auth })).status).toBe(200);
      expect((await send('/api/m-jwt/3', { headers: auth })).status).toBe(429);
      const { e } = await scrape();
      expect(
        valueOf(e, 'gateway_rate_limit_violations_total', {
          tier: 'authenticated',
          route: '/api/m-jwt/*',
        }),
      ).toBe(1);
      expect(requests(e, 'GET', '/api/m-jwt/*', 'm', 429)).toBe(1);
    });

    it('counts 502 then 503 for a refused target, and marks it down', async () => {
      const host = new URL(refusing).host;
      const before = (await scrape()).e;
      expect(
        valueOf(before, 'gateway_upstream_target_up', { service: 'mdown', target: host }),
      ).toBe(1);
      expect((await send('/api/mdown/a')).status).toBe(502);
      expect((await send('/api/mdown/b')).status).toBe(503);
      const { e } = await scrape();
      expect(valueOf(e, 'gateway_upstream_target_up', { service: 'mdown', target: host })).toBe(0);
      expect(requests(e, 'GET', '/api/mdown/*', 'mdown', 502)).toBe(1);
      expect(requests(e, 'GET', '/api/mdown/*', 'mdown', 503)).toBe(1);
      expect(
        valueOf(e, `${DURATION}_count`, { method: 'GET', route: '/api/mdown/*', service: 'mdown' }),
      ).toBe(2);
      // Neither call reached a backend.
      expect(samplesOf(e, `${UPSTREAM}_count`, { service: 'mdown' })).toEqual([]);
    });

    it('shows the refused target up again once its 10 s rest is over, with no traffic', async () => {
      // Runs after the 502 above. Without healthCheck a refused target rests 10 s; the clock
      // is moved past that rather than slept through.
      const host = new URL(refusing).host;
      const down = (await scrape()).e;
      expect(valueOf(down, 'gateway_upstream_target_up', { service: 'mdown', target: host })).toBe(
        0,
      );
      const real = Date.now.bind(Date);
      const clock = jest.spyOn(Date, 'now').mockImplementation(() => real() + 10_500);
      try {
        const { e } = await scrape();
        expect(valueOf(e, 'gateway_upstream_target_up', { service: 'mdown', target: host })).toBe(
          1,
        );
      } finally {
        clock.mockRestore();
      }
    });

    it('counts 504 when the backend sends no head within timeoutMs', async () => {
      expect((await send('/api/mslow/a')).status).toBe(504);
      const { e } = await scrape();
      expect(requests(e, 'GET', '/api/mslow/*', 'mslow', 504)).toBe(1);
      const durations = valueOf(e, `${DURATION}_sum`, {
        method: 'GET',
        route: '/api/mslow/*',
        service: 'mslow',
      });
      expect(durations).toBeGreaterThanOrEqual(0.15);
    });

    it('has buckets from 1 ms to 10 s and a _count equal to the calls', async () => {
      const labels = { method: 'GET', route: '/api/m-hist/*', service: 'm' };
      for (let i = 0; i < 3; i++) expect((await send(`/api/m-hist/${i}`)).status).toBe(200);
      const { e } = await scrape();
      const buckets = samplesOf(e, `${DURATION}_bucket`, labels);
      expect(buckets.map((b) => b.labels.le)).toEqual([...BUCKETS.map(String), '+Inf']);
      expect(valueOf(e, `${DURATION}_count`, labels)).toBe(3);
      expect(buckets[buckets.length - 1].value).toBe(3);
      // Cumulative.
      for (let i = 1; i < buckets.length; i++) {
        expect(buckets[i].value).toBeGreaterThanOrEqual(buckets[i - 1].value);
      }
      const upstream = samplesOf(e, `${UPSTREAM}_bucket`, { service: 'm' });
      expect(upstream.map((b) => b.labels.le)).toEqual([...BUCKETS.map(String), '+Inf']);
    });

    it('counts upstream time only for calls that reached a backend', async () => {
      const { e } = await scrape();
      expect(valueOf(e, `${UPSTREAM}_count`, { service: 'm' })).toBe(echo.received.length);
      expect(echo.received.length).toBeGreaterThan(0);
    });
  });

  describe('gateway_circuit_breaker_state', () => {
    it('is 0 while closed and 2 once the breaker opens', async () => {
      const before = (await scrape()).e;
      expect(valueOf(before, 'gateway_circuit_breaker_state', { service: 'mfail' })).toBe(0);
      expect(valueOf(before, 'gateway_circuit_breaker_state', { service: 'm' })).toBe(0);
      expect((await send('/api/mfail/1')).status).toBe(500);
      expect((await send('/api/mfail/2')).status).toBe(500);
      const open = await send('/api/mfail/3');
      expect(open.status).toBe(503);
      expect(Number(open.headers['retry-after'])).toBeGreaterThanOrEqual(59);
      const { e } = await scrape();
      expect(valueOf(e, 'gateway_circuit_breaker_state', { service: 'mfail' })).toBe(2);
      expect(valueOf(e, 'gateway_circuit_breaker_state', { service: 'm' })).toBe(0);
      expect(requests(e, 'GET', '/api/mfail/*', 'mfail', 500)).toBe(2);
      expect(requests(e, 'GET', '/api/mfail/*', 'mfail', 503)).toBe(1);
      expect(failing.received).toHaveLength(2);
      expect(valueOf(e, `${UPSTREAM}_count`, { service: 'mfail' })).toBe(2);
    });
  });

  describe('gateway_auth_failures_total', () => {
    const now = nowSeconds();
    const cases: [string, string, Record<string, string>, number][] = [
      ['missing', '/api/m-jwt/x', {}, 401],
      ['invalid_token', '/api/m-jwt/x', { Authorization: 'Bearer not.a.token' }, 401],
      [
        'expired',
        '/api/m-jwt/x',
        { Authorization: `Bearer ${token({ sub: 'u1', iat: now - 600, exp: now - 300 })}` },
        401,
      ],
      ['invalid_api_key', '/api/m-key/x', { 'X-API-Key': 'not-the-key' }, 401],
      [
        'forbidden_role',
        '/api/m-role/x',
        { Authorization: `Bearer ${token({ sub: 'u2', roles: ['user'] })}` },
        403,
      ],
      [
        'insufficient_scope',
        '/api/m-scope/x',
        { Authorization: `Bearer ${token({ sub: 'u3', scope: 'm:write' })}` },
        403,
      ],
    ];

    it.each(cases)('counts reason %s once', async (reason, path, headers, status) => {
      const before = (await scrape()).e;
      const reached = echo.received.length;
      expect((await send(path, { headers })).status).toBe(status);
      const { e } = await scrape();
      expect(counterOf(e, AUTH, { reason }) - counterOf(before, AUTH, { reason })).toBe(1);
      expect(sumOf(e, AUTH) - sumOf(before, AUTH)).toBe(1);
      expect(echo.received.length).toBe(reached);
    });
  });

  describe('gateway_config_reloads_total', () => {
    it('counts an applied and a rejected reload', async () => {
      const reloads = (e: Exposition, result: string) =>
        counterOf(e, 'gateway_config_reloads_total', { result });
      const config = gw.app.get(GatewayConfig);
      const before = (await scrape()).e;
      expect(config.reload()).toMatchObject({ ok: true, changed: [] });
      const mid = (await scrape()).e;
      expect(reloads(mid, 'applied') - reloads(before, 'applied')).toBe(1);
      expect(reloads(mid, 'rejected') - reloads(before, 'rejected')).toBe(0);

      const file = join(gw.dir, 'services', 'broken.yaml');
      writeFileSync(file, 'name: broken\ntargets: []\nroutes: []\n');
      expect(config.reload()).toMatchObject({ ok: false });
      unlinkSync(file);
      const after = (await scrape()).e;
      expect(reloads(after, 'applied') - reloads(mid, 'applied')).toBe(0);
      expect(reloads(after, 'rejected') - reloads(mid, 'rejected')).toBe(1);
      expect(
        samplesOf(after, 'gateway_config_reloads_total')
          .map((s) => s.labels.result)
          .sort(),
      ).toEqual(['applied', 'rejected']);
    });
  });

  describe('promtool check metrics', () => {
    it('accepts the whole /metrics output without a complaint', async () => {
      if (!existsSync(PROMTOOL)) {
        throw new Error(
          `${PROMTOOL} not found: install promtool (Debian package "prometheus") to run this test`,
        );
      }
      const { text } = await scrape();
      const run = spawnSync(PROMTOOL, ['check', 'metrics'], { input: text, encoding: 'utf8' });
      expect(run.error).toBeUndefined();
      expect({ status: run.status, stdout: run.stdout, stderr: run.stderr }).toEqual({
        status: 0,
        stdout: '',
        stderr: '',
      });
    });
  });
});

describe('METRICS_PORT (e2e)', () => {
  let echo: TestBackend;
  let gw: TestGateway;

  beforeAll(async () => {
    echo = await startBackend({ kind: 'echo' });
    gw = await startTestGateway(
      {
        services: {
          mp: `name: mp\ntargets: [{ url: "${echo.url}" }]\nroutes: [{ path: /api/mp/* }]\n`,
        },
      },
      { METRICS_PORT: '0' },
    );
  });

  afterAll(async () => {
    await gw?.close();
    await echo?.close();
  });

  it('serves /metrics on its own port, with the calls made on the public one', async () => {
    expect(gw.metricsPort).toEqual(expect.any(Number));
    expect(gw.metricsPort).not.toBe(gw.port);
    expect((await rawRequest({ port: gw.port, path: '/api/mp/x' })).status).toBe(200);
    const res = await rawRequest({ port: gw.metricsPort!, path: '/metrics?x=1' });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(res.headers['cache-control']).toBe('no-store');
    const e = parseExposition(res.body.toString('utf8'));
    expect(
      counterOf(e, REQUESTS, { method: 'GET', route: '/api/mp/*', service: 'mp', status: '200' }),
    ).toBe(1);
    const head = await rawRequest({ port: gw.metricsPort!, path: '/metrics', method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.body.length).toBe(0);
  });

  it.each(['/metrics', '/METRICS', '/metrics/', '/metrics?format=text'])(
    'answers %s on the public port with the 404 body',
    async (path) => {
      const res = await rawRequest({ port: gw.port, path });
      expect(res.status).toBe(404);
      const body = JSON.parse(res.body.toString('utf8')) as Record<string, unknown>;
      expect(body).toMatchObject({ statusCode: 404, error: 'Not Found' });
      expect(res.body.toString('utf8')).not.toContain('gateway_requests_total');
    },
  );

  it('serves nothing else on the metrics port', async () => {
    for (const path of ['/health', '/ready', '/api/mp/x', '/metricsx', '/api/gateway/routes']) {
      const res = await rawRequest({ port: gw.metricsPort!, path });
      expect(res.status).toBe(404);
      expect(JSON.parse(res.body.toString('utf8'))).toMatchObject({ statusCode: 404 });
    }
    const post = await rawRequest({ port: gw.metricsPort!, path: '/metrics', method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
  });

  it('keeps the probes on the public port', async () => {
    expect((await rawRequest({ port: gw.port, path: '/health' })).status).toBe(200);
  });
});
