import { Module } from '@nestjs/common';

import { AuthModule } from '../auth/auth.module';
import { RateLimitModule } from '../rate-limit/rate-limit.module';
import { GatewayEntry } from './gateway-entry';
import { GatewayRoutes } from './gateway-routes';
import { PluginSteps } from './plugin-steps';
import { ProxyController } from './proxy.controller';
import { ServerLifecycle } from './server-lifecycle';
import { ServiceRegistry } from './upstream/service-registry';

/** Where a call goes and how it gets there: route table, upstreams, the proxy pipeline. */
@Module({
  imports: [AuthModule, RateLimitModule],
  providers: [
    ServiceRegistry,
    GatewayRoutes,
    PluginSteps,
    ProxyController,
    GatewayEntry,
    ServerLifecycle,
  ],
  exports: [GatewayRoutes, ServiceRegistry, GatewayEntry, ServerLifecycle],
})
export class RoutingModule {}
