import type { BalancedTarget, Balancer } from './balancer';

/**
 * nginx's smooth weighted round-robin: over any window a target is picked in proportion to its
 * weight, and picks of a heavy target are spread out instead of bunched (5:1:1 gives
 * a a b a c a a, not a a a a a b c).
 */
export class SmoothWeightedBalancer<T extends BalancedTarget> implements Balancer<T> {
  // Keyed by the target object rather than by position, because the healthy set changes between
  // calls; weak so that targets dropped by a config reload are not kept alive.
  private readonly current = new WeakMap<T, number>();

  pick(candidates: readonly T[]): T | undefined {
    let best: T | undefined;
    let bestCurrent = -Infinity;
    let total = 0;
    for (let i = 0; i < candidates.length; i++) {
      const target = candidates[i];
      const current = (this.current.get(target) ?? 0) + target.weight;
      this.current.set(target, current);
      total += target.weight;
      // Strictly greater: ties go to the earlier candidate, as in nginx.
      if (current > bestCurrent) {
        best = target;
        bestCurrent = current;
      }
    }
    if (best !== undefined) this.current.set(best, bestCurrent - total);
    return best;
  }
}
