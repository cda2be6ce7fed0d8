import { Controller, Get, HttpCode, Post, Query, UseInterceptors } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiOkResponse,
  ApiOperation,
  ApiQuery,
  ApiSecurity,
  ApiTags,
} from '@nestjs/swagger';

import { Public, RequireRoles } from '../common/access.decorators';
import { GatewayException } from '../common/gateway.exception';
import { ApiGatewayErrors, schemaRef } from '../common/openapi';
import { GatewayAdminService } from './gateway-admin.service';
import { WorkerIdHeader } from './worker-id.interceptor';

/** The admin API under /api/gateway: status is public, the rest needs role admin. */
@ApiTags('gateway')
@Controller('api/gateway')
@UseInterceptors(WorkerIdHeader)
export class GatewayAdminController {
  constructor(private readonly admin: GatewayAdminService) {}

  @Get('status')
  @Public()
  @ApiOperation({ summary: 'Version, uptime, config revision and counts (public)' })
  @ApiOkResponse({ schema: schemaRef('GatewayStatus') })
  status() {
    return this.admin.status();
  }

  @Get('services')
  @RequireRoles('admin')
  @ApiBearerAuth()
  @ApiSecurity('apiKey')
  @ApiOperation({ summary: 'Each service: targets, health, circuit state, recent error rate' })
  @ApiOkResponse({ schema: { type: 'array', items: schemaRef('ServiceState') } })
  @ApiGatewayErrors(401, 403, 503)
  services() {
    return this.admin.services();
  }

  @Get('routes')
  @RequireRoles('admin')
  @ApiBearerAuth()
  @ApiSecurity('apiKey')
  @ApiOperation({ summary: 'The route table in match order' })
  @ApiOkResponse({ schema: { type: 'array', items: schemaRef('RouteEntry') } })
  @ApiGatewayErrors(401, 403, 503)
  routes() {
    return this.admin.routeTable();
  }

  @Get('routes/explain')
  @RequireRoles('admin')
  @ApiBearerAuth()
  @ApiSecurity('apiKey')
  @ApiQuery({ name: 'method', example: 'GET' })
  @ApiQuery({ name: 'path', example: '/api/service1/orders' })
  @ApiOperation({ summary: 'How the gateway would route a call, and why' })
  @ApiOkResponse({ schema: schemaRef('Explanation') })
  @ApiGatewayErrors(400, 401, 403, 503)
  explain(@Query('method') method?: unknown, @Query('path') path?: unknown) {
    if (typeof method !== 'string' || typeof path !== 'string' || !method || !path) {
      throw new GatewayException(400, 'method and path are required, once each');
    }
    return this.admin.explain(method, path);
  }

  @Post('reload')
  @HttpCode(200)
  @RequireRoles('admin')
  @ApiBearerAuth()
  @ApiSecurity('apiKey')
  @ApiOperation({ summary: 'Re-read the config folder: all or nothing (422 with the problems)' })
  @ApiOkResponse({ schema: schemaRef('ReloadResult') })
  @ApiGatewayErrors(401, 403, 422, 503)
  async reload() {
    const r = await this.admin.reloadAll();
    if (!r.ok) throw new ConfigRejectedException(r.problems);
    return { revision: r.revision, changed: r.changed };
  }
}

/** 422 with the contract body plus `problems`. */
export class ConfigRejectedException extends GatewayException {
  constructor(problems: readonly string[]) {
    super(
      422,
      'the new configuration is invalid; the running one stays in force',
      undefined,
      problems,
    );
  }
}
