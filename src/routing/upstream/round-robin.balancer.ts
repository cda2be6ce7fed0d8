import type { BalancedTarget, Balancer } from './balancer';

export class RoundRobinBalancer<T extends BalancedTarget> implements Balancer<T> {
  private next = 0;

  pick(candidates: readonly T[]): T | undefined {
    if (candidates.length === 0) return undefined;
    // Reduced on every pick, so the counter stays small and a shrunk candidate list still
    // yields a valid index.
    const index = this.next % candidates.length;
    this.next = index + 1;
    return candidates[index];
  }
}
