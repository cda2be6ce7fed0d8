import { type DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import type { Logger } from 'pino';

import { GatewayAdminModule } from './admin/gateway-admin.module';
import { AuthModule } from './auth/auth.module';
import { OwnEndpointsGuard } from './auth/own-endpoints.guard';
import { AllExceptionsFilter } from './common/all-exceptions.filter';
import type { ConfigSnapshot } from './config/config-loader';
import type { Env } from './config/env-substitution';
import { GatewayConfigModule } from './config/gateway-config.module';
import { HealthModule } from './health/health.module';
import { LoggingModule } from './logging/logging.module';
import { MetricsModule } from './metrics/metrics.module';
import { OAuthModule } from './oauth/oauth.module';
import { RoutingModule } from './routing/routing.module';

export interface AppOptions {
  readonly snapshot: ConfigSnapshot;
  readonly env: Env;
  readonly logger: Logger;
}

@Module({})
export class AppModule {
  static forRoot(options: AppOptions): DynamicModule {
    return {
      module: AppModule,
      imports: [
        GatewayConfigModule.forRoot({ initial: options.snapshot, env: options.env }),
        LoggingModule.forRoot(options.logger),
        MetricsModule,
        AuthModule,
        OAuthModule,
        RoutingModule,
        HealthModule,
        GatewayAdminModule,
      ],
      providers: [
        { provide: APP_FILTER, useClass: AllExceptionsFilter },
        { provide: APP_GUARD, useClass: OwnEndpointsGuard },
      ],
    };
  }
}
