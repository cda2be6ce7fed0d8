import {
  Controller,
  Get,
  Header,
  NotFoundException,
  Res,
  ServiceUnavailableException,
} from '@nestjs/common';
import { ApiExcludeController, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { PrometheusController } from '@willsoto/nestjs-prometheus';
import type { Response } from 'express';
import { register } from 'prom-client';

import { Public } from '../common/access.decorators';
import { ApiGatewayErrors } from '../common/openapi';
import { GatewayConfig } from '../config/gateway-config';
import { parseRuntimeEnv } from '../config/runtime-env';
import { answerMetricsRequests, gatewayMetricsText } from './cluster-metrics';

/**
 * GET /metrics, Prometheus text format; public like the probes. With METRICS_PORT set it
 * is served only by that port's listener (metrics-listener.ts): here it is a 404, whatever
 * spelling Express matched (`/METRICS`, `/metrics/`).
 */
@Controller()
@Public()
@ApiExcludeController(false)
@ApiTags('health')
export class MetricsController extends PrometheusController {
  private readonly separate: boolean;

  constructor(config: GatewayConfig) {
    super();
    this.separate = parseRuntimeEnv({ ...config.env }).METRICS_PORT !== undefined;
    answerMetricsRequests();
  }

  @Get()
  @Header('Cache-Control', 'no-store')
  @ApiOperation({ summary: 'Prometheus text format (on METRICS_PORT instead when that is set)' })
  @ApiOkResponse({
    content: { 'text/plain; version=0.0.4; charset=utf-8': { schema: { type: 'string' } } },
  })
  @ApiGatewayErrors(404)
  override async index(@Res({ passthrough: true }) response: Response) {
    if (this.separate) throw new NotFoundException('no route');
    let text: string;
    try {
      text = await gatewayMetricsText();
    } catch {
      // GATEWAY_WORKERS > 1 and a worker did not answer: no partial sums (they would read
      // as counter resets); the scrape fails and is retried.
      throw new ServiceUnavailableException('metrics could not be collected');
    }
    response.header('Content-Type', register.contentType);
    return text;
  }
}
