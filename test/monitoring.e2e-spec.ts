// monitoring/ against a real Prometheus (Debian's `prometheus`, the major version compose pins)
// scraping real gateways under traffic: every dashboard query and every alert expression
// (without its threshold) must return series carrying the labels its legend or its text uses,
// with the gateway's own label values (a static `service` label on the scrape target would
// turn them into `exported_service` and every panel would say "api-gateway"). Four cheap
// alerts are made to fire, with `for:` removed.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';

import { GatewayConfig } from '../src/config/gateway-config';
import { startBackend, type TestBackend } from './support/backend';
import { freePort } from './support/listen';
import { poll } from './support/poll';
import { rawRequest } from './support/raw-http';
import { refusingUrl } from './support/resilience-kit';
import { startTestGateway, type TestGateway } from './support/test-gateway';

const ROOT = resolve(__dirname, '..');
const PROMETHEUS = '/usr/bin/prometheus';
const SECRET = 'monitoring-spec-hs256-secret-2b7c9e4f1a';

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  annotations: Record<string, string>;
}
interface Panel {
  title: string;
  targets?: { expr?: string; legendFormat?: string }[];
  panels?: Panel[];
}
interface Series {
  metric: Record<string, string>;
  value: [number, string];
}

const alertFile = parseYaml(readFileSync(join(ROOT, 'monitoring/alerts.yml'), 'utf8')) as {
  groups: { name: string; rules: Rule[] }[];
};
const rules = alertFile.groups.flatMap((g) => g.rules);
const dashboard = JSON.parse(
  readFileSync(join(ROOT, 'monitoring/grafana/dashboards/gateway.json'), 'utf8'),
) as { panels: Panel[] };
const flat = (ps: Panel[]): Panel[] => ps.flatMap((p) => [p, ...flat(p.panels ?? [])]);
const queries = flat(dashboard.panels).flatMap((p) =>
  (p.targets ?? []).flatMap((t) =>
    t.expr ? [{ panel: p.title, expr: t.expr, legend: t.legendFormat ?? '' }] : [],
  ),
);
const shipped = parseYaml(readFileSync(join(ROOT, 'monitoring/prometheus.yml'), 'utf8')) as {
  scrape_configs: {
    job_name: string;
    metrics_path?: string;
    static_configs: { targets: string[]; labels?: Record<string, string> }[];
  }[];
};

/** Grafana's variables as Grafana fills them in. */
const grafana = (expr: string) =>
  expr.replace(/\$__rate_interval|\$__interval/g, '1m').replace(/\$__range/g, '5m');
/** An alert's expression without its final comparison (`> 0.05`, `== 2`). */
const withoutThreshold = (expr: string) =>
  expr.trim().replace(/\s*(==|!=|>=|<=|>|<)\s*[0-9.eE+-]+$/, '');
const labelsIn = (text: string, re: RegExp) => [...text.matchAll(re)].map((m) => m[1]);

describe('Monitoring with a real Prometheus (e2e)', () => {
  let echo: TestBackend;
  let failing: TestBackend;
  let gw: TestGateway;
  let gwRedis: TestGateway;
  let prometheus: ChildProcess | undefined;
  let promPort: number;
  let deadPort: number;
  let dir: string;
  let promLog = '';

  const SERVICES = ['pa', 'pfail', 'pdown', 'pb'];
  const ROUTES = ['/api/pa/*', '/api/pa-jwt/*', '/api/pa-limited/*', '/api/pfail/*'];
  const ROUTES_ALL = [...ROUTES, '/api/pdown/*', '/api/pb/*', 'none'];

  async function query(expr: string): Promise<Series[]> {
    const res = await rawRequest({
      port: promPort,
      path: `/api/v1/query?query=${encodeURIComponent(expr)}`,
    });
    const body = JSON.parse(res.body.toString('utf8')) as {
      status: string;
      error?: string;
      data?: { result: Series[] };
    };
    if (body.status !== 'success') throw new Error(`${expr}: ${body.error}`);
    return body.data!.result;
  }

  async function firing(): Promise<{ labels: Record<string, string>; state: string }[]> {
    const res = await rawRequest({ port: promPort, path: '/api/v1/alerts' });
    const body = JSON.parse(res.body.toString('utf8')) as {
      data: { alerts: { labels: Record<string, string>; state: string }[] };
    };
    return body.data.alerts.filter((a) => a.state === 'firing');
  }

  beforeAll(async () => {
    if (!existsSync(PROMETHEUS)) {
      throw new Error(`${PROMETHEUS} not found: install Debian's "prometheus" package`);
    }
    echo = await startBackend({ kind: 'echo' });
    failing = await startBackend({ kind: 'status', status: 500, body: 'boom' });
    const refused = await refusingUrl();
    gw = await startTestGateway({
      gateway: `auth:\n  jwt:\n    secret: ${SECRET}\n`,
      services: {
        pa: `
name: pa
targets: [{ url: "${echo.url}" }]
routes:
  - { path: /api/pa/* }
  - { path: /api/pa-jwt/*, auth: jwt }
  - { path: /api/pa-limited/*, rateLimit: { limit: 1, windowSeconds: 60 } }
`,
        pfail: `
name: pfail
targets: [{ url: "${failing.url}" }]
circuitBreaker: { volumeThreshold: 2, errorThresholdPercentage: 50, resetTimeoutMs: 60000, rollingWindowMs: 60000 }
routes: [{ path: /api/pfail/* }]
`,
        pdown: `name: pdown\ntargets: [{ url: "${refused}" }]\nroutes: [{ path: /api/pdown/* }]\n`,
      },
    });
    // A second instance whose Redis store is down: rate-limit store errors (calls let through).
    deadPort = await freePort();
    gwRedis = await startTestGateway(
      {
        gateway: `auth:\n  jwt:\n    secret: ${SECRET}\nrateLimit:\n  store: redis\n`,
        services: {
          pb: `name: pb\ntargets: [{ url: "${echo.url}" }]\nroutes: [{ path: /api/pb/* }]\n`,
        },
      },
      { REDIS_URL: `redis://127.0.0.1:${deadPort}` },
    );

    // The shipped scrape job (its labels included), pointed at the two gateways and at a port
    // nothing listens on; the shipped alerts with `for:` removed so they fire at once.
    dir = mkdtempSync(join(tmpdir(), 'gw-prom-'));
    const job = shipped.scrape_configs.find((j) => j.job_name === 'api-gateway')!;
    const config = {
      global: { scrape_interval: '1s', scrape_timeout: '900ms', evaluation_interval: '1s' },
      rule_files: ['alerts.yml'],
      scrape_configs: [
        {
          ...job,
          scrape_interval: '1s',
          scrape_timeout: '900ms',
          static_configs: [
            {
              targets: [
                `127.0.0.1:${gw.port}`,
                `127.0.0.1:${gwRedis.port}`,
                `127.0.0.1:${deadPort}`,
              ],
              labels: job.static_configs[0].labels,
            },
          ],
        },
      ],
    };
    writeFileSync(join(dir, 'prometheus.yml'), stringifyYaml(config));
    const fast = {
      groups: alertFile.groups.map((g) => ({
        ...g,
        rules: g.rules.map(({ for: _for, ...r }) => r),
      })),
    };
    writeFileSync(join(dir, 'alerts.yml'), stringifyYaml(fast));
    promPort = await freePort();
    prometheus = spawn(
      PROMETHEUS,
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${promPort}`,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    prometheus.stderr!.on('data', (b: Buffer) => {
      promLog = (promLog + b.toString()).slice(-4000);
    });
    await poll(
      async () => {
        const r = await rawRequest({ port: promPort, path: '/-/ready' }).catch(() => undefined);
        return r?.status === 200 ? true : undefined;
      },
      20_000,
      'Prometheus ready',
      100,
    ).catch((e: Error) => {
      throw new Error(`${e.message}\n${promLog}`);
    });

    // Traffic over a few scrapes: 200s, 401s, 429s, 5xx until the breaker opens, a refused
    // target, store errors, a rejected reload.
    // Prometheus hands its targets to the scrapers a few seconds after start; the first
    // scrape must see the reload counter at 0 (an increase needs a sample before it).
    await poll(
      async () => ((await query('up{job="api-gateway"} == 1')).length === 2 ? true : undefined),
      20_000,
      'the first scrape of both gateways',
      200,
    );
    const end = Date.now() + 4000;
    let rejected = false;
    while (Date.now() < end) {
      if (!rejected && Date.now() > end - 2000) {
        rejected = true;
        const bad = join(gw.dir, 'services', 'broken.yaml');
        writeFileSync(bad, 'name: broken\ntargets: []\nroutes: []\n');
        expect(gw.app.get(GatewayConfig).reload()).toMatchObject({ ok: false });
        unlinkSync(bad);
      }
      await Promise.all([
        rawRequest({ port: gw.port, path: '/api/pa/x' }),
        rawRequest({ port: gw.port, path: '/api/pa-jwt/x' }),
        rawRequest({ port: gw.port, path: '/api/pa-limited/x' }),
        rawRequest({ port: gw.port, path: '/api/pfail/x' }),
        rawRequest({ port: gw.port, path: '/api/pdown/x' }),
        rawRequest({ port: gw.port, path: '/nowhere' }),
        rawRequest({ port: gwRedis.port, path: '/api/pb/x' }),
      ]);
      await new Promise((r) => setTimeout(r, 50));
    }
    // Two scrapes after the traffic, so every rate has its samples.
    await poll(
      async () =>
        (await query('count(count_over_time(up{job="api-gateway"}[1m]) >= 5)'))[0]?.value[1] === '3'
          ? true
          : undefined,
      20_000,
      'five scrapes of the three targets',
      200,
    );
  }, 60_000);

  afterAll(async () => {
    prometheus?.kill('SIGKILL');
    await gw?.close();
    await gwRedis?.close();
    await echo?.close();
    await failing?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('keeps the gateway labels: no exported_* label on any gateway series', async () => {
    const series = await query('{__name__=~"gateway_.+", job="api-gateway"}');
    expect(series.length).toBeGreaterThan(20);
    const keys = new Set(series.flatMap((s) => Object.keys(s.metric)));
    expect([...keys].filter((k) => k.startsWith('exported_'))).toEqual([]);
    const services = new Set(series.flatMap((s) => (s.metric.service ? [s.metric.service] : [])));
    expect([...services].sort()).toEqual(expect.arrayContaining(SERVICES.sort()));
    expect([...services].filter((s) => ![...SERVICES, 'none'].includes(s))).toEqual([]);
  });

  it.each(queries.map((q) => [q.panel, q.expr, q.legend] as const))(
    'panel "%s": %s returns series with its legend labels',
    async (_panel, expr, legend) => {
      const series = await query(grafana(expr));
      expect(series.length).toBeGreaterThan(0);
      const wanted = labelsIn(legend, /\{\{\s*(\w+)\s*\}\}/g);
      for (const s of series) {
        for (const label of wanted) expect(s.metric).toHaveProperty(label);
        if (s.metric.service) expect([...SERVICES, 'none']).toContain(s.metric.service);
        if (s.metric.route) expect(ROUTES_ALL).toContain(s.metric.route);
        expect(Object.keys(s.metric).filter((k) => k.startsWith('exported_'))).toEqual([]);
      }
      // A per-route or per-service panel shows the gateway's routes and services.
      if (wanted.includes('service')) {
        expect(series.some((s) => SERVICES.includes(s.metric.service))).toBe(true);
      }
      if (wanted.includes('route')) {
        expect(series.some((s) => ROUTES.includes(s.metric.route))).toBe(true);
      }
    },
  );

  it.each(rules.map((r) => [r.alert, withoutThreshold(r.expr), r] as const))(
    'alert %s: %s returns series with the labels its text uses',
    async (_name, expr, rule) => {
      expect(expr).not.toBe(rule.expr.trim()); // a threshold was there to remove
      const series = await query(expr);
      expect(series.length).toBeGreaterThan(0);
      const text = Object.values(rule.annotations).join('\n');
      const used = labelsIn(text, /\$labels\.(\w+)/g);
      for (const s of series) {
        for (const label of used) expect(s.metric).toHaveProperty(label);
        if (s.metric.service) expect([...SERVICES, 'none']).toContain(s.metric.service);
      }
    },
  );

  it('fires GatewayInstanceDown, GatewayCircuitBreakerOpen, GatewayTargetDown and GatewayConfigReloadRejected', async () => {
    const want = (a: { labels: Record<string, string> }[]) => {
      const has = (name: string, labels: Record<string, string>) =>
        a.some(
          (x) =>
            x.labels.alertname === name &&
            Object.entries(labels).every(([k, v]) => x.labels[k] === v),
        );
      return (
        has('GatewayInstanceDown', { instance: `127.0.0.1:${deadPort}` }) &&
        has('GatewayCircuitBreakerOpen', { service: 'pfail', instance: `127.0.0.1:${gw.port}` }) &&
        has('GatewayTargetDown', { service: 'pdown' }) &&
        has('GatewayConfigReloadRejected', { instance: `127.0.0.1:${gw.port}` })
      );
    };
    const alerts = await poll(
      async () => {
        // A refused target is tried again after its 10 s rest: keep calling it.
        await rawRequest({ port: gw.port, path: '/api/pdown/x' });
        const a = await firing();
        return want(a) ? a : undefined;
      },
      15_000,
      'the four alerts firing',
      250,
    ).catch(async (e: Error) => {
      const now = (await firing()).map((a) => a.labels);
      throw new Error(`${e.message}; firing: ${JSON.stringify(now)}`);
    });
    // The healthy instance is not reported down, and no alert names the scrape job's own
    // label value as a service.
    expect(
      alerts.filter(
        (a) =>
          a.labels.alertname === 'GatewayInstanceDown' &&
          a.labels.instance !== `127.0.0.1:${deadPort}`,
      ),
    ).toEqual([]);
    expect(alerts.filter((a) => a.labels.service === 'api-gateway')).toEqual([]);
  });
});
