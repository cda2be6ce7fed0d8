import { join } from 'node:path';

import { Module } from '@nestjs/common';
import { GatewayModule } from 'nest-api-gateway';

import { TenantPlugin } from './tenant.plugin';
import { TenantDirectory } from './tenant-directory';

@Module({ providers: [TenantDirectory], exports: [TenantDirectory] })
export class TenantModule {}

@Module({
  imports: [
    GatewayModule.forRoot({
      configDir: process.env.GATEWAY_CONFIG_DIR ?? join(__dirname, '..', 'config'),
      plugins: [TenantPlugin],
      imports: [TenantModule],
    }),
  ],
})
export class AppModule {}
