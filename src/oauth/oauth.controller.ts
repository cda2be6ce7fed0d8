import type { ServerResponse } from 'node:http';

import { Controller, Get, Header, HttpCode, Post, Req, Res, UseFilters } from '@nestjs/common';
import { ApiBasicAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';

import { Public } from '../common/access.decorators';
import { ApiGatewayErrors, ApiOAuthForm, schemaRef } from '../common/openapi';
import type { GatewayRequest } from '../common/request-context';
import { type CallerFacts, type Introspection, OAuthService } from './oauth.service';
import { OAuthErrorFilter } from './oauth-error.filter';
import { GatewaySigningKeys } from './signing-keys';
import type { IssuedToken } from './token.service';

type FormRequest = GatewayRequest & { body?: unknown };

function facts(req: FormRequest, res: ServerResponse): CallerFacts {
  return {
    headers: req.headers,
    body: req.body,
    requestId: req.gateway.id,
    clientIp: req.gateway.clientIp,
    ctx: req.gateway,
    res,
  };
}

/** The gateway's own OAuth 2.0 endpoints; clients authenticate inside each call. */
@ApiTags('oauth')
@Controller()
@Public()
@UseFilters(OAuthErrorFilter)
export class OAuthController {
  constructor(
    private readonly oauth: OAuthService,
    private readonly keys: GatewaySigningKeys,
  ) {}

  @Post('oauth/token')
  @HttpCode(200)
  @Header('Cache-Control', 'no-store')
  @Header('Pragma', 'no-cache')
  @ApiOperation({ summary: 'OAuth 2.0 client credentials (RFC 6749 §4.4)' })
  @ApiBasicAuth('clientBasic')
  @ApiOAuthForm('ClientCredentialsForm')
  @ApiOkResponse({ description: 'A token', schema: schemaRef('TokenResponse') })
  token(
    @Req() req: FormRequest,
    @Res({ passthrough: true }) res: ServerResponse,
  ): Promise<IssuedToken> {
    // The label of this endpoint's limit violations and access-log lines.
    req.gateway.routeLabel = '/oauth/token';
    return this.oauth.token(facts(req, res));
  }

  @Post('oauth/revoke')
  @HttpCode(200)
  @ApiOperation({ summary: 'Revoke a token this client was issued (RFC 7009)' })
  @ApiBasicAuth('clientBasic')
  @ApiOAuthForm('TokenForm')
  @ApiOkResponse({ description: 'Empty body, whatever the token (unless another client’s)' })
  @ApiGatewayErrors(503)
  async revoke(
    @Req() req: FormRequest,
    @Res({ passthrough: true }) res: ServerResponse,
  ): Promise<void> {
    req.gateway.routeLabel = '/oauth/revoke';
    await this.oauth.revoke(facts(req, res));
  }

  @Post('oauth/introspect')
  @HttpCode(200)
  @Header('Cache-Control', 'no-store')
  @ApiOperation({ summary: 'Is this token active? (RFC 7662)' })
  @ApiBasicAuth('clientBasic')
  @ApiOAuthForm('TokenForm')
  @ApiOkResponse({
    description: 'The token’s claims, or active false',
    schema: schemaRef('Introspection'),
  })
  @ApiGatewayErrors(503)
  introspect(
    @Req() req: FormRequest,
    @Res({ passthrough: true }) res: ServerResponse,
  ): Promise<Introspection> {
    req.gateway.routeLabel = '/oauth/introspect';
    return this.oauth.introspect(facts(req, res));
  }

  @Get('.well-known/jwks.json')
  @ApiOperation({ summary: 'The public keys that verify the gateway’s RS256 tokens' })
  @ApiOkResponse({ schema: schemaRef('Jwks') })
  jwks(): { keys: unknown[] } {
    return { keys: [...this.keys.current.jwks] };
  }
}
