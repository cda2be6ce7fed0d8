import { makeCounterProvider } from '@willsoto/nestjs-prometheus';

export const STORE_ERRORS = 'gateway_rate_limit_store_errors_total';
export const VIOLATIONS = 'gateway_rate_limit_violations_total';

/** This module's two metrics, registered with prom-client's registry like the others. */
export const rateLimitMetricProviders = [
  makeCounterProvider({
    name: STORE_ERRORS,
    help: 'Rate-limit checks that failed because the store was unreachable',
    labelNames: ['store'],
  }),
  makeCounterProvider({
    name: VIOLATIONS,
    help: 'Calls answered 429, by the rule that refused them',
    labelNames: ['tier', 'route'],
  }),
];
