import { Module } from '@nestjs/common';

import { RedisModule } from '../redis/redis.module';
import { rateLimitMetricProviders } from './rate-limit.metrics';
import { RateLimiter } from './rate-limiter';

/** The limiter and its stores, on their own so ThrottlerModule's async options can inject them. */
@Module({
  imports: [RedisModule],
  providers: [RateLimiter, ...rateLimitMetricProviders],
  exports: [RateLimiter],
})
export class WindowStoreModule {}
