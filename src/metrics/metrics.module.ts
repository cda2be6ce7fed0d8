import { Global, Module } from '@nestjs/common';
import {
  makeCounterProvider,
  makeGaugeProvider,
  makeHistogramProvider,
  PrometheusModule,
} from '@willsoto/nestjs-prometheus';

import { clusterWorkerId } from '../cluster/worker-channel';
import { ensureDefaultMetrics } from './default-metrics';
import { GatewayMetrics, targetScrapeReaders } from './gateway-metrics';
import {
  AUTH_FAILURES,
  BREAKER_STATE,
  CONFIG_RELOADS,
  DISCOVERY_ERRORS,
  LATENCY_BUCKETS,
  PLUGIN_ERRORS,
  REQUEST_DURATION,
  REQUESTS_SHED,
  REQUESTS_TOTAL,
  TARGET_UP,
  UPSTREAM_DURATION,
  WEBSOCKETS,
  WORKER_RESTARTS,
} from './metric-names';
import { MetricsController } from './metrics.controller';

ensureDefaultMetrics();

/** The metric handles GatewayMetrics injects (the rate-limit module registers its own two). */
export const gatewayMetricProviders = [
  makeCounterProvider({
    name: REQUESTS_TOTAL,
    help: 'Calls on the proxy path, by route pattern, service and status',
    labelNames: ['method', 'route', 'service', 'status'],
  }),
  makeHistogramProvider({
    name: REQUEST_DURATION,
    help: 'Time from the request to the end of the response, in seconds',
    labelNames: ['method', 'route', 'service'],
    buckets: LATENCY_BUCKETS,
  }),
  makeHistogramProvider({
    name: UPSTREAM_DURATION,
    help: 'Time from dispatch to the upstream response head, in seconds',
    labelNames: ['service'],
    buckets: LATENCY_BUCKETS,
  }),
  makeGaugeProvider({
    name: BREAKER_STATE,
    help: 'Circuit breaker state per service: 0 closed, 1 half-open, 2 open',
    labelNames: ['service'],
    // GATEWAY_WORKERS > 1: the worst worker's state (open anywhere reads open).
    aggregator: 'max',
  }),
  makeGaugeProvider({
    name: TARGET_UP,
    help: 'Upstream target health: 1 healthy, 0 down',
    labelNames: ['service', 'target'],
    // GATEWAY_WORKERS > 1: down as soon as one worker sees it down.
    aggregator: 'min',
    collect() {
      for (const read of targetScrapeReaders) read();
    },
  }),
  makeCounterProvider({
    name: AUTH_FAILURES,
    help: 'Authentication and authorisation failures by reason',
    labelNames: ['reason'],
  }),
  makeCounterProvider({
    name: PLUGIN_ERRORS,
    help: 'Plugin hooks that threw, rejected, missed the deadline or rejected with a bad status',
    labelNames: ['plugin'],
  }),
  makeCounterProvider({
    name: DISCOVERY_ERRORS,
    help: 'DNS resolutions of discovered targets that failed or returned nothing',
    labelNames: ['service'],
  }),
  makeCounterProvider({
    name: REQUESTS_SHED,
    help: 'Proxied calls answered 503 overloaded (server.maxConcurrentRequests in flight)',
  }),
  makeGaugeProvider({
    name: WEBSOCKETS,
    help: 'Open WebSocket connections relayed to a service',
    labelNames: ['service'],
  }),
  // With GATEWAY_WORKERS > 1 the primary counts restarts (cluster/primary.ts); a single
  // process shows 0, so the alert's expression works either way.
  ...(clusterWorkerId() === undefined
    ? [
        makeCounterProvider({
          name: WORKER_RESTARTS,
          help: 'Worker processes that died and were replaced (GATEWAY_WORKERS > 1)',
        }),
      ]
    : []),
  makeCounterProvider({
    name: CONFIG_RELOADS,
    help: 'Configuration reloads by result',
    labelNames: ['result'],
  }),
];

/** /metrics and the gateway's metrics (the rate-limit module registers its own two). */
@Global()
@Module({
  imports: [
    PrometheusModule.register({
      path: '/metrics',
      controller: MetricsController,
      defaultMetrics: { enabled: false },
    }),
  ],
  providers: [...gatewayMetricProviders, GatewayMetrics],
  exports: [GatewayMetrics],
})
export class MetricsModule {}
