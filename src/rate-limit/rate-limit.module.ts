import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';

import { RedisModule } from '../redis/redis.module';
import { RateLimitGuard } from './rate-limit.guard';
import { rateLimitMetricProviders } from './rate-limit.metrics';
import { RateLimitStoreIndicator } from './rate-limit-store.indicator';
import { RateLimiter } from './rate-limiter';

/**
 * Sliding-window rate limits: the limiter and its stores, the proxy's guard, and the
 * store's readiness indicator. The OAuth endpoints use the limiter directly.
 */
@Module({
  imports: [RedisModule, TerminusModule],
  providers: [RateLimiter, ...rateLimitMetricProviders, RateLimitGuard, RateLimitStoreIndicator],
  exports: [RateLimiter, RateLimitGuard, RateLimitStoreIndicator],
})
export class RateLimitModule {}
