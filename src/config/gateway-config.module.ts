import { Global, Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';

import { GatewayConfig } from './gateway-config';
import { GatewayConfigModuleBase } from './gateway-config.module-definition';
import { parseRuntimeEnv } from './runtime-env';

/**
 * The ground floor: the validated environment (through @nestjs/config) and the current
 * snapshot of the config folder, with reload on SIGHUP or on request.
 */
@Global()
@Module({
  imports: [ConfigModule.forRoot({ ignoreEnvFile: true, validate: parseRuntimeEnv, cache: true })],
  providers: [GatewayConfig],
  exports: [GatewayConfig, ConfigModule],
})
export class GatewayConfigModule extends GatewayConfigModuleBase {}
