import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { ThrottlerModule } from '@nestjs/throttler';

import { RedisModule } from '../redis/redis.module';
import { RateLimitGuard } from './rate-limit.guard';
import { RateLimitStoreIndicator } from './rate-limit-store.indicator';
import { RateLimiter } from './rate-limiter';
import { WindowStoreModule } from './window-store.module';

/**
 * Sliding-window rate limits on @nestjs/throttler: the proxy's guard, the limiter the
 * token endpoint uses, and the store's readiness indicator. One named throttler: the
 * guard's handleRequest builds the real rules (tier + route) per call.
 */
@Module({
  imports: [
    RedisModule,
    TerminusModule,
    WindowStoreModule,
    ThrottlerModule.forRootAsync({
      imports: [WindowStoreModule],
      inject: [RateLimiter],
      useFactory: (limiter: RateLimiter) => ({
        throttlers: [{ name: 'gateway', limit: 1, ttl: 1000 }],
        storage: limiter.storage,
      }),
    }),
  ],
  providers: [RateLimitGuard, RateLimitStoreIndicator],
  exports: [WindowStoreModule, RateLimitGuard, RateLimitStoreIndicator],
})
export class RateLimitModule {}
