import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';

import { RateLimitModule } from '../rate-limit/rate-limit.module';
import { RoutingModule } from '../routing/routing.module';
import { EventLoopDelayIndicator } from './event-loop-delay.indicator';
import { HealthController } from './health.controller';
import { HeapIndicator } from './heap.indicator';
import { ReadinessIndicator } from './readiness.indicator';

/** /health (liveness) and /ready (readiness) on Terminus. */
@Module({
  imports: [TerminusModule.forRoot({ logger: false }), RoutingModule, RateLimitModule],
  controllers: [HealthController],
  providers: [HeapIndicator, EventLoopDelayIndicator, ReadinessIndicator],
})
export class HealthModule {}
