import type { ServerResponse } from 'node:http';

import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';

import { ipKey } from '../common/ip-key';
import type { GatewayRequest, RequestContext } from '../common/request-context';
import type { RateLimitSettings } from '../config/config.schema';
import { type AppliedRule, RateLimiter } from './rate-limiter';

/**
 * Third proxy guard (after authentication and authorisation, so it keys on the identity
 * and never counts calls refused anyway). The rules — the caller's tier and, on top, the
 * route's own rule — come from the matched route and the call's snapshot, and are checked
 * in one atomic step of the store (none is counted when one refuses).
 *
 * Not @nestjs/throttler's ThrottlerGuard: its flow increments each named throttler on its
 * own (a route rule would be counted when the tier refuses), keys and headers are its own,
 * and it has no dry-run check; the contract's rules cannot be expressed through it.
 */
@Injectable()
export class RateLimitGuard implements CanActivate {
  constructor(private readonly limiter: RateLimiter) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const http = context.switchToHttp();
    const req = http.getRequest<GatewayRequest>();
    const ctx = req.gateway;
    const route = ctx.match?.route.data.settings;
    const settings = this.limiter.settingsFor(ctx);
    if (!route || route.rateLimit === false || !settings.enabled) return true;
    await this.limiter.check(this.rulesFor(ctx, settings), ctx, http.getResponse<ServerResponse>());
    return true;
  }

  private rulesFor(ctx: RequestContext, settings: RateLimitSettings): AppliedRule[] {
    const match = ctx.match;
    const identity = ctx.identity;
    const ipTracker = () => `ip:${ipKey(ctx.clientIp, settings.ipv6Prefix)}`;
    const rules: AppliedRule[] = [];
    const own = match?.route.data.settings.rateLimit;
    if (match && own) {
      const tracker =
        own.scope === 'endpoint'
          ? 'all'
          : own.scope === 'user' && identity
            ? `${identity.method}:${identity.subject}`
            : ipTracker();
      rules.push({
        name: 'route',
        // Routes may share a pattern when their methods differ: the methods are in the key.
        key: this.limiter.key(
          `route:${match.route.data.service.name}:${match.route.pattern}:${(match.route.methods ?? ['*']).join(',')}`,
          tracker,
          settings,
        ),
        limit: own.limit,
        windowMs: own.windowSeconds * 1000,
        windowSeconds: own.windowSeconds,
      });
    }
    // The tier's tracker: the subject once authenticated, else the client IP.
    const tier = !identity
      ? 'public'
      : identity.roles.includes('admin')
        ? 'admin'
        : 'authenticated';
    const t = settings.tiers[tier];
    rules.push({
      name: tier,
      key: this.limiter.key(
        tier,
        identity ? `${identity.method}:${identity.subject}` : ipTracker(),
        settings,
      ),
      limit: t.limit,
      windowMs: t.windowSeconds * 1000,
      windowSeconds: t.windowSeconds,
    });
    return rules;
  }
}
