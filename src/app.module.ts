import type { DynamicModule } from '@nestjs/common';
import type { Logger } from 'pino';

import type { ConfigSnapshot } from './config/config-loader';
import type { Env } from './config/env-substitution';
import { GatewayModule } from './gateway.module';

export interface AppOptions {
  readonly snapshot: ConfigSnapshot;
  readonly env: Env;
  readonly logger: Logger;
}

/** What `npm start` runs: the gateway module on the config start-up already loaded. */
export const AppModule = {
  forRoot(options: AppOptions): DynamicModule {
    return GatewayModule.forRoot(options);
  },
};
