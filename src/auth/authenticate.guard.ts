import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';

import type { GatewayRequest } from '../common/request-context';
import { AuthFailure } from './auth-failure';
import { Authenticator } from './authenticator';
import type { Identity } from './identity';

const HEADER_TEXT = /^[\x20-\x7e]+$/;
const TOKEN = /^[\x21-\x2b\x2d-\x7e]+$/;

function forwardable(i: Identity): boolean {
  return (
    HEADER_TEXT.test(i.subject) &&
    i.roles.every((r) => TOKEN.test(r)) &&
    (i.scopes ?? []).every((s) => TOKEN.test(s))
  );
}

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
    // These become header values: refuse what cannot be sent rather than fail upstream.
    if (!forwardable(identity)) {
      throw this.authenticator.fail(
        req,
        auth,
        new AuthFailure(
          'invalid_token',
          'the credentials carry an identity that cannot be forwarded',
        ),
      );
    }
    h['x-user-id'] = identity.subject;
    if (identity.roles.length > 0) h['x-user-roles'] = identity.roles.join(',');
    if (identity.scopes !== undefined && identity.scopes.length > 0) {
      h['x-user-scopes'] = identity.scopes.join(' ');
    }
    return true;
  }
}
