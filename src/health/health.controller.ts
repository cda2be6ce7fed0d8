import { Controller, Get, Header, UseFilters } from '@nestjs/common';
import { HealthCheck, HealthCheckService } from '@nestjs/terminus';

import { Public } from '../common/access.decorators';
import { RateLimitStoreIndicator } from '../rate-limit/rate-limit-store.indicator';
import { EventLoopDelayIndicator } from './event-loop-delay.indicator';
import { HeapIndicator } from './heap.indicator';
import { ReadinessIndicator } from './readiness.indicator';
import { TerminusBodyFilter } from './terminus-body.filter';

@Controller()
@Public()
@UseFilters(TerminusBodyFilter)
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly heap: HeapIndicator,
    private readonly eventLoop: EventLoopDelayIndicator,
    private readonly readiness: ReadinessIndicator,
    private readonly store: RateLimitStoreIndicator,
  ) {}

  /** Liveness: 200 while the process can serve, whatever the backends do. */
  @Get('health')
  @Header('Cache-Control', 'no-store')
  @HealthCheck()
  live() {
    return this.health.check([() => this.heap.check(), () => this.eventLoop.check()]);
  }

  /** Readiness: 503 while starting or draining; upstream state is reported, never failing. */
  @Get('ready')
  @Header('Cache-Control', 'no-store')
  @HealthCheck()
  ready() {
    return this.health.check([
      () => this.readiness.gateway(),
      () => this.store.check(),
      () => this.readiness.upstreams(),
    ]);
  }
}
