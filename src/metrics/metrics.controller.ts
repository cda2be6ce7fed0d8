import { Controller, Get, Header, NotFoundException, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { PrometheusController } from '@willsoto/nestjs-prometheus';
import type { Response } from 'express';

import { Public } from '../common/access.decorators';
import { GatewayConfig } from '../config/gateway-config';
import { parseRuntimeEnv } from '../config/runtime-env';

/**
 * GET /metrics, Prometheus text format; public like the probes. With METRICS_PORT set it
 * is served only by that port's listener (metrics-listener.ts): here it is a 404, whatever
 * spelling Express matched (`/METRICS`, `/metrics/`).
 */
@Controller()
@Public()
@ApiExcludeController(false)
export class MetricsController extends PrometheusController {
  private readonly separate: boolean;

  constructor(config: GatewayConfig) {
    super();
    this.separate = parseRuntimeEnv({ ...config.env }).METRICS_PORT !== undefined;
  }

  @Get()
  @Header('Cache-Control', 'no-store')
  override index(@Res({ passthrough: true }) response: Response) {
    if (this.separate) throw new NotFoundException('no route');
    return super.index(response);
  }
}
