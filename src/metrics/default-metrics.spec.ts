import { register } from 'prom-client';

import { ensureDefaultMetrics } from './default-metrics';

const MISNAMED = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

describe('ensureDefaultMetrics', () => {
  afterAll(() => register.clear());

  it('registers the Node.js process metrics on the default registry', () => {
    ensureDefaultMetrics();
    expect(register.getSingleMetric('process_cpu_user_seconds_total')).toBeDefined();
    expect(register.getSingleMetric('nodejs_heap_size_total_bytes')).toBeDefined();
    expect(register.getSingleMetric('nodejs_eventloop_lag_seconds')).toBeDefined();
  });

  it('drops the gauges prom-client names like counters', async () => {
    ensureDefaultMetrics();
    for (const name of MISNAMED) expect(register.getSingleMetric(name)).toBeUndefined();
    const text = await register.metrics();
    for (const name of MISNAMED) expect(text).not.toContain(name);
    // The same figures stay available under their gauge names.
    expect(register.getSingleMetric('nodejs_active_handles')).toBeDefined();
  });

  it('is idempotent: a second app in the process reuses the metrics', () => {
    ensureDefaultMetrics();
    const before = register.getMetricsAsArray().length;
    expect(() => ensureDefaultMetrics()).not.toThrow();
    expect(register.getMetricsAsArray()).toHaveLength(before);
  });
});
