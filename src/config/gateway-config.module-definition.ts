import { ConfigurableModuleBuilder } from '@nestjs/common';

import type { GatewayConfigOptions } from './gateway-config.constants';

export const {
  ConfigurableModuleClass: GatewayConfigModuleBase,
  MODULE_OPTIONS_TOKEN: GATEWAY_CONFIG_OPTIONS,
} = new ConfigurableModuleBuilder<GatewayConfigOptions>().setClassMethodName('forRoot').build();
