import type { ThrottlerStorage } from '@nestjs/throttler';
import type { ThrottlerStorageRecord } from '@nestjs/throttler/dist/throttler-storage-record.interface';

import type { WindowDecision, WindowRule } from './sliding-window';

/**
 * A sliding-window store. Besides throttler's single-key `increment`, it checks several
 * rules in one atomic step (a tier and a route's own rule): all are counted only when all
 * allow the call, so calls answered 429 are never counted.
 */
export abstract class SlidingWindowStorage implements ThrottlerStorage {
  /** `memory` or `redis`, the label of the store-error metric. */
  abstract readonly kind: 'memory' | 'redis';

  /**
   * Checks the rules and, when all allow and `count` is true, counts one call on each.
   * `count: false` only looks: `allowed` then says whether one more call would pass.
   */
  abstract consume(rules: readonly WindowRule[], count?: boolean): Promise<WindowDecision[]>;

  async increment(key: string, ttl: number, limit: number): Promise<ThrottlerStorageRecord> {
    const [d] = await this.consume([{ key, limit, windowMs: ttl }]);
    return {
      totalHits: d.allowed ? limit - d.remaining : limit + 1,
      timeToExpire: d.resetSeconds,
      isBlocked: !d.allowed,
      timeToBlockExpire: d.retryAfterSeconds,
    };
  }
}

/** The store of the current config snapshot, behind one object (what throttler is given). */
export class CurrentWindowStorage extends SlidingWindowStorage {
  constructor(private readonly pick: () => SlidingWindowStorage) {
    super();
  }

  get kind(): 'memory' | 'redis' {
    return this.pick().kind;
  }

  consume(rules: readonly WindowRule[], count = true): Promise<WindowDecision[]> {
    return this.pick().consume(rules, count);
  }
}
