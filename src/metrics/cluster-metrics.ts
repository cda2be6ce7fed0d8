// /metrics with GATEWAY_WORKERS > 1: any worker answers for all of them. The worker asks
// the primary, the primary asks every worker for its registry as JSON and aggregates
// (prom-client's AggregatorRegistry: counters and histograms summed, each gauge by its own
// `aggregator`). With one worker it is this process's registry.
import { register } from 'prom-client';

import { answerPrimary, askPrimary, clusterWorkerId } from '../cluster/worker-channel';

const TIMEOUT_MS = 10_000;

/** The Prometheus text for the whole gateway (every worker). */
export function gatewayMetricsText(): Promise<string> {
  if (clusterWorkerId() === undefined) return register.metrics();
  return askPrimary<string>('metrics', undefined, TIMEOUT_MS);
}

/** A worker hands its own registry to the primary when asked (no-op without a primary). */
export function answerMetricsRequests(): void {
  answerPrimary('metrics', () => register.getMetricsAsJSON());
}
