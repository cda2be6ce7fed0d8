import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';

import { GatewayException } from '../common/gateway.exception';
import type { GatewayRequest } from '../common/request-context';
import { AuthFailure } from './auth-failure';
import { Authenticator } from './authenticator';

/** Second proxy guard: the route's roles (any of) and scopes (all of). 403 otherwise. */
@Injectable()
export class AuthorizeGuard implements CanActivate {
  constructor(private readonly authenticator: Authenticator) {}

  canActivate(context: ExecutionContext): boolean {
    const req = context.getArgByIndex<GatewayRequest>(0);
    const route = req.gateway.match?.route.data.settings;
    const identity = req.gateway.identity;
    if (!route || !identity) return true;
    if (route.roles.length > 0 && !route.roles.some((r) => identity.roles.includes(r))) {
      this.authenticator.refuse(
        req,
        new AuthFailure('forbidden_role', 'a required role is missing'),
      );
      throw new GatewayException(403, 'a required role is missing');
    }
    if (route.scopes.length > 0) {
      const have = identity.scopes ?? [];
      // API-key callers have no scopes, so they never pass a non-empty list.
      if (!route.scopes.every((s) => have.includes(s))) {
        this.authenticator.refuse(
          req,
          new AuthFailure('insufficient_scope', 'a required scope is missing'),
        );
        throw new GatewayException(403, 'a required scope is missing', {
          'WWW-Authenticate': `Bearer error="insufficient_scope", scope="${route.scopes.join(' ')}"`,
        });
      }
    }
    return true;
  }
}
