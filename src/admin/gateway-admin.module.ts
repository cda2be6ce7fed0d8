import { Module } from '@nestjs/common';

import { RoutingModule } from '../routing/routing.module';
import { GatewayAdminController } from './gateway-admin.controller';
import { GatewayAdminService } from './gateway-admin.service';

@Module({
  imports: [RoutingModule],
  controllers: [GatewayAdminController],
  providers: [GatewayAdminService],
})
export class GatewayAdminModule {}
