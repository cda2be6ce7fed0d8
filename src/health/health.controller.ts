import { Controller, Get, Header, UseFilters } from '@nestjs/common';
import { ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService } from '@nestjs/terminus';

import { Public } from '../common/access.decorators';
import { schemaRef } from '../common/openapi';
import { RateLimitStoreIndicator } from '../rate-limit/rate-limit-store.indicator';
import { EventLoopDelayIndicator } from './event-loop-delay.indicator';
import { HeapIndicator } from './heap.indicator';
import { ReadinessIndicator } from './readiness.indicator';
import { TerminusBodyFilter } from './terminus-body.filter';

@ApiTags('health')
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
  @HealthCheck({ swaggerDocumentation: false })
  @ApiOperation({ summary: 'Liveness: never depends on backends' })
  @ApiResponse({
    status: 200,
    description: 'The process can serve',
    schema: schemaRef('HealthBody'),
  })
  @ApiResponse({ status: 503, description: 'It cannot', schema: schemaRef('HealthBody') })
  live() {
    return this.health.check([() => this.heap.check(), () => this.eventLoop.check()]);
  }

  /** Readiness: 503 while starting or draining; upstream state is reported, never failing. */
  @Get('ready')
  @Header('Cache-Control', 'no-store')
  @HealthCheck({ swaggerDocumentation: false })
  @ApiOperation({
    summary: 'Readiness: 503 while starting or draining; details list the upstreams',
  })
  @ApiResponse({ status: 200, description: 'Ready for traffic', schema: schemaRef('HealthBody') })
  @ApiResponse({
    status: 503,
    description: 'Starting, draining, or the rate-limit store is down with onStoreError: deny',
    schema: schemaRef('HealthBody'),
  })
  ready() {
    return this.health.check([
      () => this.readiness.gateway(),
      () => this.store.check(),
      () => this.readiness.upstreams(),
    ]);
  }
}
