import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';

import type { GatewayRequest } from '../common/request-context';
import { AuthFailure } from './auth-failure';
import { Authenticator, type AuthMode } from './authenticator';
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

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    const req = context.getArgByIndex<GatewayRequest>(0);
    const auth = req.gateway.match?.route.data.settings.auth ?? 'none';
    // A plain `true`: Nest awaits nothing for a boolean.
    if (auth === 'none') return true;
    // A token verified before (the cache) is checked without a promise; otherwise passport.
    const known = this.authenticator.knownIdentity(req, auth);
    if (known) return this.admit(req, auth, known);
    return this.authenticator
      .authenticate(context, auth)
      .then((identity) => this.admit(req, auth, identity));
  }

  private admit(req: GatewayRequest, auth: AuthMode, identity: Identity): true {
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
