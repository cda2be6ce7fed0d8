import type { WindowDecision, WindowRule } from './sliding-window';

/**
 * A sliding-window store: it checks several rules in one atomic step (a tier and a route's
 * own rule): all are counted only when all allow the call, so calls answered 429 are never
 * counted.
 */
export abstract class SlidingWindowStorage {
  /** `memory` or `redis`, the label of the store-error metric. */
  abstract readonly kind: 'memory' | 'redis';

  /**
   * Checks the rules and, when all allow and `count` is true, counts one call on each.
   * `count: false` only looks: `allowed` then says whether one more call would pass.
   */
  abstract consume(rules: readonly WindowRule[], count?: boolean): Promise<WindowDecision[]>;
}
