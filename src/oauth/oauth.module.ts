import { Module } from '@nestjs/common';

import { RateLimitModule } from '../rate-limit/rate-limit.module';
import { RedisModule } from '../redis/redis.module';
import { ClientAuthLimits } from './client-auth-limits';
import { ClientRegistry, ConfigClientRegistry } from './client-registry';
import { OAuthController } from './oauth.controller';
import { OAuthService } from './oauth.service';
import { RevocationStore } from './revocation.store';
import { GatewaySigningKeys } from './signing-keys';
import { TokenService } from './token.service';

/** /oauth/token, revoke, introspect and the JWKS; the signing keys and revocations. */
@Module({
  imports: [RedisModule, RateLimitModule],
  controllers: [OAuthController],
  providers: [
    { provide: ClientRegistry, useClass: ConfigClientRegistry },
    GatewaySigningKeys,
    RevocationStore,
    TokenService,
    OAuthService,
    ClientAuthLimits,
  ],
  exports: [GatewaySigningKeys, RevocationStore, TokenService],
})
export class OAuthModule {}
