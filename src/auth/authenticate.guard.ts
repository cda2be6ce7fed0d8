import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';

import type { GatewayRequest } from '../common/request-context';
import { Authenticator } from './authenticator';

/**
 * First proxy guard: authenticates per the matched route's `auth`. An `auth: none` route
 * does no auth work at all: no credentials are read, no X-User-* is sent.
 */
@Injectable()
export class AuthenticateGuard implements CanActivate {
  constructor(private readonly authenticator: Authenticator) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const req = context.switchToHttp().getRequest<GatewayRequest>();
    const auth = req.gateway.match?.route.data.settings.auth ?? 'none';
    if (auth === 'none') return true;
    const identity = await this.authenticator.authenticate(context, auth);
    const h = req.headers;
    h['x-user-id'] = identity.subject;
    if (identity.roles.length > 0) h['x-user-roles'] = identity.roles.join(',');
    if (identity.scopes !== undefined && identity.scopes.length > 0) {
      h['x-user-scopes'] = identity.scopes.join(' ');
    }
    return true;
  }
}
