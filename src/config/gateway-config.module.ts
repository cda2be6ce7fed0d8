import { Global, Module } from '@nestjs/common';

import { GatewayConfig } from './gateway-config';
import { GatewayConfigModuleBase } from './gateway-config.module-definition';

/**
 * The ground floor: the current snapshot of the config folder, with reload on SIGHUP or on
 * request. (The runtime environment is parsed once by config/runtime-env.ts; nothing here
 * writes to process.env, which matters when an application imports the gateway.)
 */
@Global()
@Module({
  providers: [GatewayConfig],
  exports: [GatewayConfig],
})
export class GatewayConfigModule extends GatewayConfigModuleBase {}
