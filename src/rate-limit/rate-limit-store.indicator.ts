import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';

import { RedisConnection } from '../redis/redis-connection';
import { RateLimiter } from './rate-limiter';

/**
 * The rate-limit store in /ready: down fails readiness only with `onStoreError: deny`
 * (calls would get 503); with `allow` it is reported and the gateway stays ready.
 */
@Injectable()
export class RateLimitStoreIndicator {
  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly limiter: RateLimiter,
    private readonly redis: RedisConnection,
  ) {}

  async check() {
    const s = this.limiter.settings;
    const session = this.indicators.check('rateLimitStore');
    const store = this.limiter.store.kind;
    // Connected is not enough: a Redis that stops answering fails the checks too.
    const reachable = store === 'memory' || (this.redis.ready && (await this.limiter.probeStore()));
    const details = { store, reachable, onStoreError: s.onStoreError, enabled: s.enabled };
    if (reachable || s.onStoreError === 'allow' || !s.enabled) return session.up(details);
    return session.down(details);
  }
}
