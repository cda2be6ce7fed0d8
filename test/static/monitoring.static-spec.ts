// monitoring/: the Prometheus scrape config and alert rules, checked and unit-tested by
// promtool (Debian package `prometheus`), and the Grafana dashboard and provisioning, whose
// queries may name only the metrics the contract lists.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';

const ROOT = resolve(__dirname, '../..');
const read = (file: string): string => readFileSync(join(ROOT, file), 'utf8');

// ---------------------------------------------------------------------------------------------
// The contract's Metrics table. CI has shared/ beside the clone; read the table there when it
// is, so a metric added to the contract needs no change here.
const CONTRACT_METRICS_FALLBACK: Record<string, string> = {
  gateway_requests_total: 'counter',
  gateway_request_duration_seconds: 'histogram',
  gateway_upstream_duration_seconds: 'histogram',
  gateway_rate_limit_violations_total: 'counter',
  gateway_rate_limit_store_errors_total: 'counter',
  gateway_circuit_breaker_state: 'gauge',
  gateway_upstream_target_up: 'gauge',
  gateway_auth_failures_total: 'counter',
  gateway_config_reloads_total: 'counter',
  gateway_plugin_errors_total: 'counter',
  gateway_websocket_connections: 'gauge',
  gateway_requests_shed_total: 'counter',
  gateway_worker_restarts_total: 'counter',
  gateway_discovery_errors_total: 'counter',
};

function contractMetrics(): Record<string, string> {
  const file = join(ROOT, '..', 'shared', 'CONTRACT.md');
  if (!existsSync(file)) return CONTRACT_METRICS_FALLBACK;
  const text = readFileSync(file, 'utf8');
  const start = text.indexOf('| name | type | labels |');
  if (start === -1) throw new Error('CONTRACT.md: the Metrics table is missing');
  const out: Record<string, string> = {};
  for (const line of text.slice(start).split('\n').slice(2)) {
    if (!line.startsWith('|')) break;
    const m = /^\|\s*`([a-z_:][a-z0-9_:]*)`\s*\|\s*(\w+)\s*\|/.exec(line);
    if (m) out[m[1]] = m[2];
  }
  if (Object.keys(out).length === 0) throw new Error('CONTRACT.md: no metrics in the table');
  return out;
}

/** Every series name a query may use: the contract's metrics (a histogram's _bucket, _sum and
 * _count), Node's default process_* / nodejs_* metrics, and Prometheus's own `up`. */
function isKnownSeries(name: string, metrics: Record<string, string>): boolean {
  if (name === 'up' || /^(process|nodejs)_/.test(name)) return true;
  if (metrics[name] !== undefined) return true;
  const base = /^(.*)_(bucket|sum|count)$/.exec(name)?.[1];
  return base !== undefined && metrics[base] === 'histogram';
}

const PROMQL_KEYWORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'and',
  'or',
  'unless',
  'offset',
  'inf',
  'nan',
]);

/** The metric names a PromQL expression selects (not functions, labels or keywords). */
function seriesNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""') // string literals
    .replace(/\{[^}]*\}/g, ' ') // label matchers
    .replace(/\[[^\]]*\]/g, ' ') // range and subquery windows
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ') // label lists
    .replace(/\$\{?\w+\}?/g, ' '); // Grafana variables
  const names = new Set<string>();
  for (const m of bare.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const word = m[0];
    const after = bare.slice((m.index ?? 0) + word.length).trimStart();
    if (after.startsWith('(')) continue; // a function or aggregation
    if (PROMQL_KEYWORDS.has(word.toLowerCase())) continue;
    if (/[\d.]$/.test(bare.slice(0, m.index ?? 0))) continue; // the tail of 1e3, 5m, 0x1f
    names.add(word);
  }
  return [...names];
}

// ---------------------------------------------------------------------------------------------
function promtool(args: string[]): { status: number | null; output: string } {
  const r = spawnSync('promtool', args, { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') {
    throw new Error(
      'promtool is not installed: these checks need it on PATH ' +
        '(Debian/Ubuntu: apt-get install -y prometheus; or the promtool binary from a Prometheus release).',
    );
  }
  if (r.error) throw r.error;
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

function expectPromtoolOk(args: string[]): void {
  const r = promtool(args);
  if (r.status !== 0) throw new Error(`promtool ${args.join(' ')} failed:\n${r.output}`);
}

// ---------------------------------------------------------------------------------------------
interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RuleFile {
  groups: { name: string; rules: Rule[] }[];
}
interface Target {
  expr?: string;
  refId: string;
}
interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos?: { x: number; y: number; w: number; h: number };
  targets?: Target[];
  panels?: Panel[];
}
interface Dashboard {
  uid: string;
  title: string;
  refresh: string;
  schemaVersion: number;
  panels: Panel[];
  templating?: {
    list: { name: string; type: string; query?: string; current?: { value?: string } }[];
  };
}

function allPanels(panels: Panel[]): Panel[] {
  return panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
}

const metrics = contractMetrics();
const alerts = parseYaml(read('monitoring/alerts.yml')) as RuleFile;
const rules = alerts.groups.flatMap((g) => g.rules);
const dashboard = JSON.parse(read('monitoring/grafana/dashboards/gateway.json')) as Dashboard;
const panels = allPanels(dashboard.panels);
const exprs = panels.flatMap((p) =>
  (p.targets ?? []).flatMap((t) => (t.expr ? [{ panel: p.title, expr: t.expr }] : [])),
);

describe('Monitoring (e2e)', () => {
  it("keeps the fallback metric list equal to the contract's table (when it is beside the checkout)", () => {
    if (!existsSync(join(ROOT, '..', 'shared', 'CONTRACT.md'))) return;
    expect(CONTRACT_METRICS_FALLBACK).toEqual(metrics);
  });

  it('reads metric names out of PromQL', () => {
    expect(
      seriesNames(
        'histogram_quantile(0.99, sum by (le, route) (rate(gateway_request_duration_seconds_bucket{route!="none"}[$__rate_interval]))) > 1e3',
      ),
    ).toEqual(['gateway_request_duration_seconds_bucket']);
    expect(
      seriesNames('sum(rate(a_total{status=~"5.."}[5m])) / on (job) group_left sum(b_total) or up'),
    ).toEqual(['a_total', 'b_total', 'up']);
  });

  describe('Prometheus', () => {
    it('promtool accepts prometheus.yml', () => {
      expectPromtoolOk(['check', 'config', 'monitoring/prometheus.yml']);
    });

    it('labels the scrape target app, never like a gateway label (service, route, target)', () => {
      for (const file of ['monitoring/prometheus.yml', 'monitoring/prometheus.kubernetes.yml']) {
        const text = read(file);
        const config = parseYaml(text) as {
          scrape_configs: {
            job_name: string;
            static_configs?: { labels?: Record<string, string> }[];
            relabel_configs?: { target_label?: string }[];
          }[];
        };
        const job = config.scrape_configs.find((j) => j.job_name === 'api-gateway')!;
        const labels = [
          ...(job.static_configs ?? []).flatMap((s) => Object.keys(s.labels ?? {})),
          ...(job.relabel_configs ?? []).flatMap((r) => (r.target_label ? [r.target_label] : [])),
        ];
        expect({ file, labels }).toEqual({ file, labels: expect.arrayContaining(['app']) });
        for (const clash of ['service', 'route', 'target', 'method', 'status', 'tier', 'reason']) {
          expect({ file, clash: labels.includes(clash) }).toEqual({ file, clash: false });
        }
      }
    });

    it('sends alerts to the compose Alertmanager, whose one receiver is null (amtool accepts it)', () => {
      const config = parseYaml(read('monitoring/prometheus.yml')) as {
        alerting: { alertmanagers: { static_configs: { targets: string[] }[] }[] };
      };
      expect(config.alerting.alertmanagers[0].static_configs[0].targets).toEqual([
        'alertmanager:9093',
      ]);
      const am = parseYaml(read('monitoring/alertmanager.yml')) as {
        route: { receiver: string };
        receivers: { name: string; [k: string]: unknown }[];
      };
      expect(am.route.receiver).toBe('null');
      expect(am.receivers).toEqual([{ name: 'null' }]);
      const r = spawnSync('amtool', ['check-config', 'monitoring/alertmanager.yml'], {
        cwd: ROOT,
        encoding: 'utf8',
      });
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion -- spawnSync types error as Error
      if ((r.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
        throw new Error(
          'amtool is not installed (Debian: apt-get install -y prometheus-alertmanager)',
        );
      }
      expect({ status: r.status, out: r.stdout + r.stderr }).toEqual({
        status: 0,
        out: expect.stringContaining('SUCCESS'),
      });
    });

    it('scrapes every gateway pod on its metrics port in Kubernetes (kubernetes_sd_configs)', () => {
      const text = read('monitoring/prometheus.kubernetes.yml');
      const config = parseYaml(text) as {
        scrape_configs: {
          job_name: string;
          kubernetes_sd_configs?: { role: string; namespaces?: { names: string[] } }[];
          relabel_configs?: { source_labels?: string[]; regex?: string; action?: string }[];
        }[];
      };
      const job = config.scrape_configs.find((j) => j.job_name === 'api-gateway')!;
      expect(job.kubernetes_sd_configs).toEqual([
        { role: 'pod', namespaces: { names: ['api-gateway'] } },
      ]);
      const keep = (label: string) =>
        job.relabel_configs?.find((r) => r.action === 'keep' && r.source_labels?.[0] === label)
          ?.regex;
      expect(keep('__meta_kubernetes_pod_label_app_kubernetes_io_name')).toBe('api-gateway');
      expect(keep('__meta_kubernetes_pod_container_port_name')).toBe('metrics');
      // The deployment names its METRICS_PORT container port "metrics".
      const deployment = parseYaml(read('deploy/deployment.yaml')) as {
        spec: { template: { spec: { containers: { ports: { name: string }[] }[] } } };
      };
      expect(deployment.spec.template.spec.containers[0].ports.map((p) => p.name)).toContain(
        'metrics',
      );
      // Debian's promtool is built without the Kubernetes discovery: check everything else
      // of the file with that one block swapped for a static target.
      const dir = mkdtempSync(join(tmpdir(), 'gw-k8s-prom-'));
      try {
        const swapped = parseYaml(text) as { scrape_configs: Record<string, unknown>[] };
        for (const j of swapped.scrape_configs) {
          if (j.kubernetes_sd_configs) {
            delete j.kubernetes_sd_configs;
            j.static_configs = [{ targets: ['pod:9464'] }];
          }
        }
        writeFileSync(join(dir, 'prometheus.yml'), stringifyYaml(swapped));
        writeFileSync(join(dir, 'alerts.yml'), read('monitoring/alerts.yml'));
        expectPromtoolOk(['check', 'config', join(dir, 'prometheus.yml')]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('promtool accepts alerts.yml', () => {
      expectPromtoolOk(['check', 'rules', 'monitoring/alerts.yml']);
    });

    it('every alert fires on the series that should fire it, and not on healthy ones', () => {
      expectPromtoolOk(['test', 'rules', 'monitoring/alerts.test.yml']);
    });

    it('scrapes the compose gateway /metrics every 5 s and loads alerts.yml', () => {
      const config = parseYaml(read('monitoring/prometheus.yml')) as {
        rule_files: string[];
        scrape_configs: {
          job_name: string;
          scrape_interval?: string;
          metrics_path?: string;
          static_configs: { targets: string[] }[];
        }[];
      };
      expect(config.rule_files).toContain('alerts.yml');
      const job = config.scrape_configs.find((j) => j.job_name === 'api-gateway');
      expect(job?.scrape_interval).toBe('5s');
      expect(job?.metrics_path ?? '/metrics').toBe('/metrics');
      expect(job?.static_configs.flatMap((s) => s.targets)).toEqual(['gateway:8080']);
      const compose = parseYaml(read('docker-compose.yml')) as {
        services: Record<string, { volumes?: string[] }>;
      };
      expect(Object.keys(compose.services)).toContain('gateway');
      const mounts = compose.services.prometheus.volumes ?? [];
      expect(mounts).toContainEqual(expect.stringMatching(/^\.\/monitoring\/prometheus\.yml:/));
      expect(mounts).toContainEqual(expect.stringMatching(/^\.\/monitoring\/alerts\.yml:/));
    });

    it('alerts on 5xx rate, p99 latency, breakers, store errors, instances, targets, 429s, auth failures, reloads, shed calls and worker restarts', () => {
      const byName = new Map(rules.map((r) => [r.alert, r]));
      expect([...byName.keys()].sort()).toEqual([
        'GatewayAuthFailureSpike',
        'GatewayCircuitBreakerOpen',
        'GatewayConfigReloadRejected',
        'GatewayHighErrorRate',
        'GatewayHighLatencyP99',
        'GatewayInstanceDown',
        'GatewayRateLimitSpike',
        'GatewayRateLimitStoreErrors',
        'GatewayRequestsShed',
        'GatewayTargetDown',
        'GatewayWorkerRestarts',
      ]);
      expect(byName.get('GatewayHighErrorRate')?.for).toBe('5m');
      expect(byName.get('GatewayHighLatencyP99')?.for).toBe('10m');
      expect(byName.get('GatewayCircuitBreakerOpen')?.expr.trim()).toBe(
        'gateway_circuit_breaker_state == 2',
      );
      expect(byName.get('GatewayInstanceDown')?.expr.trim()).toBe('up{job="api-gateway"} == 0');
    });

    it('gives every alert a severity, a summary and a description', () => {
      for (const r of rules) {
        expect({ alert: r.alert, severity: r.labels?.severity }).toEqual({
          alert: r.alert,
          severity: expect.stringMatching(/^(critical|warning|info)$/),
        });
        expect(r.annotations?.summary).toEqual(expect.any(String));
        expect(r.annotations?.description).toEqual(expect.any(String));
      }
    });

    it('alerts only on metrics the contract lists', () => {
      for (const r of rules) {
        for (const name of seriesNames(r.expr)) {
          expect({ alert: r.alert, name, known: isKnownSeries(name, metrics) }).toEqual({
            alert: r.alert,
            name,
            known: true,
          });
        }
      }
    });
  });

  describe('Grafana', () => {
    it('is a dashboard "API Gateway" that refreshes every 5 s', () => {
      expect(dashboard.title).toBe('API Gateway');
      expect(dashboard.uid).toMatch(/^[a-zA-Z0-9_-]{1,40}$/);
      expect(dashboard.refresh).toBe('5s');
      expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
      const ids = panels.map((p) => p.id);
      expect(new Set(ids).size).toBe(ids.length);
      for (const p of panels)
        expect(p.gridPos).toEqual(expect.objectContaining({ w: expect.any(Number) }));
    });

    it('shows traffic, latency percentiles, errors, rate limits, breakers, top routes and targets', () => {
      const has = (re: RegExp) => exprs.some((e) => re.test(e.expr.replace(/\s+/g, ' ')));
      expect(has(/rate\(gateway_requests_total\[/)).toBe(true);
      for (const q of ['0.5', '0.95', '0.99']) {
        expect(
          has(
            new RegExp(
              `histogram_quantile\\(${q.replace('.', '\\.')}, .*gateway_request_duration_seconds_bucket`,
            ),
          ),
        ).toBe(true);
      }
      expect(
        has(
          /sum by \(route\) \(rate\(gateway_requests_total\{status=~"5\.\."\}.*\/ sum by \(route\)/,
        ),
      ).toBe(true);
      expect(has(/sum by \(tier\) \(rate\(gateway_rate_limit_violations_total/)).toBe(true);
      expect(has(/by \(service\) \(gateway_circuit_breaker_state\)/)).toBe(true);
      expect(has(/^topk\(10, sum by \(route\) \(rate\(gateway_requests_total\[5m\]\)\)\)$/)).toBe(
        true,
      );
      expect(has(/gateway_upstream_target_up/)).toBe(true);
    });

    it('queries only metrics the contract lists', () => {
      expect(exprs.length).toBeGreaterThan(0);
      for (const { panel, expr } of exprs) {
        const names = seriesNames(expr);
        expect({ panel, expr, some: names.length > 0 }).toEqual({ panel, expr, some: true });
        for (const name of names) {
          expect({ panel, name, known: isKnownSeries(name, metrics) }).toEqual({
            panel,
            name,
            known: true,
          });
        }
      }
    });

    it('has queries Prometheus can parse (promtool, as recording rules)', () => {
      const dir = mkdtempSync(join(tmpdir(), 'gw-dashboard-'));
      try {
        const file = join(dir, 'dashboard-queries.yml');
        const asRules = {
          groups: [
            {
              name: 'dashboard',
              rules: exprs.map((e, i) => ({
                record: `dashboard:query_${i}`,
                // Grafana's own variables, as Grafana would fill them in.
                expr: e.expr
                  .replace(/\$__rate_interval|\$__interval|\$__range/g, '1m')
                  .replace(/\$\{?\w+\}?/g, '.*'),
              })),
            },
          ],
        };
        writeFileSync(file, stringifyYaml(asRules));
        expectPromtoolOk(['check', 'rules', file]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('is provisioned with the Prometheus data source and the dashboards folder compose mounts', () => {
      const ds = parseYaml(read('monitoring/grafana/provisioning/datasources/prometheus.yml')) as {
        datasources: { type: string; uid?: string; url: string; isDefault?: boolean }[];
      };
      const prom = ds.datasources.find((d) => d.type === 'prometheus');
      expect(prom?.url).toBe('http://prometheus:9090');
      expect(prom?.isDefault).toBe(true);

      const providers = parseYaml(
        read('monitoring/grafana/provisioning/dashboards/gateway.yml'),
      ) as {
        providers: { type: string; options: { path: string } }[];
      };
      const compose = parseYaml(read('docker-compose.yml')) as {
        services: Record<string, { volumes?: string[]; ports?: string[] }>;
      };
      const grafana = compose.services.grafana;
      const mountOf = (host: string) =>
        (grafana.volumes ?? []).map((v) => v.split(':')).find(([h]) => h === host)?.[1];
      expect(mountOf('./monitoring/grafana/provisioning')).toBe('/etc/grafana/provisioning');
      expect(providers.providers.map((p) => p.options.path)).toEqual([
        mountOf('./monitoring/grafana/dashboards'),
      ]);
      expect(compose.services.prometheus.ports).toContain('9090:9090');

      // The dashboard's data-source variable defaults to the provisioned one.
      const variable = dashboard.templating?.list.find((v) => v.type === 'datasource');
      expect(variable?.query).toBe('prometheus');
      expect(variable?.current?.value).toBe(prom?.uid);
    });
  });
});
