import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Test } from '@nestjs/testing';
import { AggregatorRegistry, register } from 'prom-client';

import type { RequestContext } from '../common/request-context';
import { loadConfig } from '../config/config-loader';
import { GatewayConfig } from '../config/gateway-config';
import { GATEWAY_CONFIG_OPTIONS } from '../config/gateway-config.module-definition';
import { GatewayMetrics } from './gateway-metrics';
import {
  AUTH_FAILURES,
  BREAKER_STATE,
  CONFIG_RELOADS,
  REQUEST_DURATION,
  REQUESTS_TOTAL,
  TARGET_UP,
  UPSTREAM_DURATION,
} from './metric-names';
import { gatewayMetricProviders } from './metrics.module';

const SERVICE = 'name: s\ntargets: [{ url: "http://127.0.0.1:1" }]\nroutes:\n  - { path: /s/* }\n';

describe('GatewayMetrics', () => {
  let metrics: GatewayMetrics;
  let config: GatewayConfig;
  let dir: string;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gw-metrics-'));
    mkdirSync(join(dir, 'services'));
    writeFileSync(join(dir, 'services', 's.yaml'), SERVICE);
    const loaded = loadConfig(dir, {});
    if (!loaded.ok) throw new Error(loaded.problems.join('\n'));

    // The module's own metric providers, in this test file's default registry (jest gives
    // every file its own prom-client), emptied before each test.
    register.clear();
    const moduleRef = await Test.createTestingModule({
      providers: [
        { provide: GATEWAY_CONFIG_OPTIONS, useValue: { initial: loaded.snapshot, env: {} } },
        GatewayConfig,
        GatewayMetrics,
        ...gatewayMetricProviders,
      ],
    }).compile();
    metrics = moduleRef.get(GatewayMetrics);
    config = moduleRef.get(GatewayConfig);
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  /** Every value of a metric as `labels -> value` (sorted label pairs joined). */
  async function values(name: string): Promise<Record<string, number>> {
    const metric = register.getSingleMetric(name);
    if (!metric) throw new Error(`no metric ${name}`);
    const out: Record<string, number> = {};
    for (const v of (await metric.get()).values) {
      const labels = Object.entries(v.labels)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, val]) => `${k}=${String(val)}`);
      const key = ['metricName' in v ? String(v.metricName) : name, ...labels].join(' ');
      out[key] = v.value;
    }
    return out;
  }

  function ctx(over: Partial<RequestContext> = {}): RequestContext {
    return {
      id: 'r1',
      startedAt: process.hrtime.bigint(),
      clientIp: '127.0.0.1',
      routeLabel: '/s/*',
      serviceLabel: 's',
      ...over,
    };
  }
  const req = (method: string) => ({ method }) as IncomingMessage;
  const res = (statusCode: number) => ({ statusCode }) as ServerResponse;

  describe('recordRequest', () => {
    it('counts each call by method, route pattern, service and status', async () => {
      metrics.recordRequest(req('GET'), res(200), ctx());
      metrics.recordRequest(req('GET'), res(200), ctx());
      metrics.recordRequest(req('GET'), res(503), ctx());
      metrics.recordRequest(req('POST'), res(200), ctx());
      metrics.recordRequest(
        req('GET'),
        res(404),
        ctx({ routeLabel: 'none', serviceLabel: 'none' }),
      );
      expect(await values(REQUESTS_TOTAL)).toEqual({
        [`${REQUESTS_TOTAL} method=GET route=/s/* service=s status=200`]: 2,
        [`${REQUESTS_TOTAL} method=GET route=/s/* service=s status=503`]: 1,
        [`${REQUESTS_TOTAL} method=POST route=/s/* service=s status=200`]: 1,
        [`${REQUESTS_TOTAL} method=GET route=none service=none status=404`]: 1,
      });
    });

    it('labels a method HTTP/1.1 would refuse (HTTP/2 takes any token) as _OTHER: one series', async () => {
      for (let i = 0; i < 50; i++) metrics.recordRequest(req(`MADEUP${i}`), res(200), ctx());
      metrics.recordRequest(req('PATCH'), res(200), ctx());
      expect(await values(REQUESTS_TOTAL)).toEqual({
        [`${REQUESTS_TOTAL} method=_OTHER route=/s/* service=s status=200`]: 50,
        [`${REQUESTS_TOTAL} method=PATCH route=/s/* service=s status=200`]: 1,
      });
    });

    it('skips the gateway-owned endpoints', async () => {
      metrics.recordRequest(req('GET'), res(200), ctx({ ownEndpoint: true }));
      expect(await values(REQUESTS_TOTAL)).toEqual({});
      expect(await values(REQUEST_DURATION)).toEqual({});
      expect(await values(UPSTREAM_DURATION)).toEqual({});
    });

    it('observes the time since the entry saw the request, in seconds', async () => {
      const startedAt = process.hrtime.bigint() - 50_000_000n; // 50 ms ago
      metrics.recordRequest(req('GET'), res(200), ctx({ startedAt }));
      const v = await values(REQUEST_DURATION);
      const labels = 'method=GET route=/s/* service=s';
      expect(v[`${REQUEST_DURATION}_count ${labels}`]).toBe(1);
      expect(v[`${REQUEST_DURATION}_sum ${labels}`]).toBeGreaterThanOrEqual(0.05);
      expect(v[`${REQUEST_DURATION}_sum ${labels}`]).toBeLessThan(1);
      expect(v[`${REQUEST_DURATION}_bucket le=0.025 ${labels}`]).toBe(0);
      expect(v[`${REQUEST_DURATION}_bucket le=0.1 ${labels}`]).toBe(1);
    });

    it('observes upstream time (ms to s) only for calls that reached a backend', async () => {
      metrics.recordRequest(req('GET'), res(502), ctx());
      metrics.recordRequest(req('GET'), res(200), ctx({ upstreamMs: 7 }));
      metrics.recordRequest(req('GET'), res(200), ctx({ upstreamMs: 3 }));
      const v = await values(UPSTREAM_DURATION);
      expect(v[`${UPSTREAM_DURATION}_count service=s`]).toBe(2);
      expect(v[`${UPSTREAM_DURATION}_sum service=s`]).toBeCloseTo(0.01, 6);
      expect(v[`${UPSTREAM_DURATION}_bucket le=0.005 service=s`]).toBe(1);
    });
  });

  describe('gauges and counters', () => {
    it('sets the breaker state and target health, and counts auth failures by reason', async () => {
      metrics.breakerState('s', 2);
      metrics.targetHealth('s', '127.0.0.1:1', false);
      metrics.targetHealth('s', '127.0.0.1:2', true);
      metrics.authFailure('expired');
      metrics.authFailure('expired');
      metrics.authFailure('missing');
      expect(await values(BREAKER_STATE)).toEqual({ [`${BREAKER_STATE} service=s`]: 2 });
      expect(await values(TARGET_UP)).toEqual({
        [`${TARGET_UP} service=s target=127.0.0.1:1`]: 0,
        [`${TARGET_UP} service=s target=127.0.0.1:2`]: 1,
      });
      expect(await values(AUTH_FAILURES)).toEqual({
        [`${AUTH_FAILURES} reason=expired`]: 2,
        [`${AUTH_FAILURES} reason=missing`]: 1,
      });
    });

    it('counts config reloads by result', async () => {
      expect(config.reload().ok).toBe(true);
      writeFileSync(join(dir, 'services', 's.yaml'), 'name: s\n');
      expect(config.reload().ok).toBe(false);
      expect(config.reload().ok).toBe(false);
      expect(await values(CONFIG_RELOADS)).toEqual({
        [`${CONFIG_RELOADS} result=applied`]: 1,
        [`${CONFIG_RELOADS} result=rejected`]: 2,
      });
    });
  });

  describe('across workers (GATEWAY_WORKERS > 1, AggregatorRegistry)', () => {
    it('sums counters, takes the worst breaker state and the lowest target health', async () => {
      // Two workers' registries as the primary receives them.
      metrics.breakerState('s', 0);
      metrics.targetHealth('s', '127.0.0.1:1', true);
      metrics.recordRequest(req('GET'), res(200), ctx());
      // Copied as the IPC channel copies it (prom-client hands out its live value objects).
      const first: unknown = JSON.parse(JSON.stringify(await register.getMetricsAsJSON()));
      metrics.breakerState('s', 2);
      metrics.targetHealth('s', '127.0.0.1:1', false);
      metrics.recordRequest(req('GET'), res(200), ctx());
      const second = await register.getMetricsAsJSON();
      const merged = AggregatorRegistry.aggregate([first as object[], second]);
      const value = async (name: string) => (await merged.getSingleMetric(name)?.get())?.values;
      expect(await value(BREAKER_STATE)).toEqual([{ labels: { service: 's' }, value: 2 }]);
      expect(await value(TARGET_UP)).toEqual([
        { labels: { service: 's', target: '127.0.0.1:1' }, value: 0 },
      ]);
      expect(await value(REQUESTS_TOTAL)).toEqual([
        { labels: { method: 'GET', route: '/s/*', service: 's', status: '200' }, value: 3 },
      ]);
    });
  });
});
