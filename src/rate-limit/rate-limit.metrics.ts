import { Counter, register } from 'prom-client';

function counter<L extends string>(
  name: string,
  help: string,
  labelNames: readonly L[],
): Counter<L> {
  // One registry per process: a second app instance (tests, a reload) reuses the metric.
  const existing = register.getSingleMetric(name) as Counter<L> | undefined;
  return existing ?? new Counter({ name, help, labelNames, registers: [register] });
}

export const storeErrors = () =>
  counter(
    'gateway_rate_limit_store_errors_total',
    'Rate-limit checks that failed because the store was unreachable',
    ['store'] as const,
  );

export const violations = () =>
  counter(
    'gateway_rate_limit_violations_total',
    'Calls answered 429, by the rule that refused them',
    ['tier', 'route'] as const,
  );
