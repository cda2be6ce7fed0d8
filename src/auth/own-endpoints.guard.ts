import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';

import { IS_PROXY_PIPELINE, IS_PUBLIC, REQUIRED_ROLES } from '../common/access.decorators';
import { GatewayException } from '../common/gateway.exception';
import type { GatewayRequest } from '../common/request-context';
import { AuthFailure } from './auth-failure';
import { Authenticator } from './authenticator';

/**
 * The one global guard: the gateway's own endpoints are closed by default (authentication
 * by JWT or API key), `@Public()` opens one, `@RequireRoles()` narrows it. Global guards
 * also run on the proxy path, where this returns at once: the proxy's guards are its own.
 */
@Injectable()
export class OwnEndpointsGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly authenticator: Authenticator,
  ) {}

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    // Proxied calls carry their route match (own endpoints never do): no metadata lookup on
    // the hot path, and a plain `true` (Nest awaits nothing for a boolean). The marker stays
    // the rule for anything else wrapped like the proxy.
    if (context.getArgByIndex<GatewayRequest>(0).gateway?.match) return true;
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(IS_PROXY_PIPELINE, targets)) return true;
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, targets)) return true;
    return this.authorise(context, targets);
  }

  private async authorise(
    context: ExecutionContext,
    targets: Parameters<Reflector['getAllAndOverride']>[1],
  ): Promise<boolean> {
    const identity = await this.authenticator.authenticate(context, 'any');
    const roles = this.reflector.getAllAndOverride<string[] | undefined>(REQUIRED_ROLES, targets);
    if (roles && roles.length > 0 && !roles.some((r) => identity.roles.includes(r))) {
      const req = context.switchToHttp().getRequest<GatewayRequest>();
      this.authenticator.refuse(
        req,
        new AuthFailure('forbidden_role', 'a required role is missing'),
      );
      throw new GatewayException(403, 'a required role is missing');
    }
    return true;
  }
}
