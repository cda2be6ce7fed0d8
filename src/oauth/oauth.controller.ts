import {
  Controller,
  Get,
  Header,
  HttpCode,
  Post,
  Req,
  UseFilters,
  UseGuards,
} from '@nestjs/common';

import { Public } from '../auth/public.decorator';
import type { GatewayRequest } from '../common/request-context';
import { type CallerFacts, type Introspection, OAuthService } from './oauth.service';
import { OAuthErrorFilter } from './oauth-error.filter';
import { GatewaySigningKeys } from './signing-keys';
import type { IssuedToken } from './token.service';
import { TokenLimitGuard } from './token-limit.guard';

type FormRequest = GatewayRequest & { body?: unknown };

function facts(req: FormRequest): CallerFacts {
  return {
    headers: req.headers,
    body: req.body,
    requestId: req.gateway.id,
    clientIp: req.gateway.clientIp,
  };
}

/** The gateway's own OAuth 2.0 endpoints; clients authenticate inside each call. */
@Controller()
@Public()
@UseFilters(OAuthErrorFilter)
export class OAuthController {
  constructor(
    private readonly oauth: OAuthService,
    private readonly keys: GatewaySigningKeys,
  ) {}

  @Post('oauth/token')
  @UseGuards(TokenLimitGuard)
  @HttpCode(200)
  @Header('Cache-Control', 'no-store')
  @Header('Pragma', 'no-cache')
  token(@Req() req: FormRequest): Promise<IssuedToken> {
    return this.oauth.token(facts(req));
  }

  @Post('oauth/revoke')
  @HttpCode(200)
  async revoke(@Req() req: FormRequest): Promise<void> {
    await this.oauth.revoke(facts(req));
  }

  @Post('oauth/introspect')
  @HttpCode(200)
  @Header('Cache-Control', 'no-store')
  introspect(@Req() req: FormRequest): Promise<Introspection> {
    return this.oauth.introspect(facts(req));
  }

  @Get('.well-known/jwks.json')
  jwks(): { keys: unknown[] } {
    return { keys: [...this.keys.current.jwks] };
  }
}
