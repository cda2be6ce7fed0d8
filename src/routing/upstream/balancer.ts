export interface BalancedTarget {
  readonly weight: number;
}

/**
 * Chooses one upstream target per call. `candidates` is the set that is healthy right now: it
 * may differ from one call to the next, so implementations must not assume a fixed list.
 */
export interface Balancer<T extends BalancedTarget> {
  pick(candidates: readonly T[]): T | undefined;
}
