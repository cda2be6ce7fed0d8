import { Controller, Get, Header, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { PrometheusController } from '@willsoto/nestjs-prometheus';
import type { Response } from 'express';

import { Public } from '../common/access.decorators';

/** GET /metrics, Prometheus text format; public like the probes. */
@Controller()
@Public()
@ApiExcludeController(false)
export class MetricsController extends PrometheusController {
  @Get()
  @Header('Cache-Control', 'no-store')
  override index(@Res({ passthrough: true }) response: Response) {
    return super.index(response);
  }
}
