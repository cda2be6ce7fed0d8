import { Module } from '@nestjs/common';
import { PassportModule } from '@nestjs/passport';

import { OAuthModule } from '../oauth/oauth.module';
import { ApiKeyStrategy } from './api-key.strategy';
import { AuthenticateGuard } from './authenticate.guard';
import { Authenticator } from './authenticator';
import { AuthorizeGuard } from './authorize.guard';
import { JwtStrategy } from './jwt.strategy';
import { JwtKeyResolver } from './jwt-key-resolver';
import { OwnEndpointsGuard } from './own-endpoints.guard';

/** Passport strategies (JWT, API key), the proxy's auth guards and the own-endpoint guard. */
@Module({
  imports: [PassportModule, OAuthModule],
  providers: [
    JwtKeyResolver,
    JwtStrategy,
    ApiKeyStrategy,
    Authenticator,
    AuthenticateGuard,
    AuthorizeGuard,
    OwnEndpointsGuard,
  ],
  exports: [Authenticator, AuthenticateGuard, AuthorizeGuard, OwnEndpointsGuard],
})
export class AuthModule {}
