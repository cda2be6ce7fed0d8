import type { ServerResponse } from 'node:http';

import { type ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import {
  InjectThrottlerOptions,
  InjectThrottlerStorage,
  ThrottlerGuard,
  type ThrottlerModuleOptions,
  type ThrottlerRequest,
  ThrottlerStorage,
} from '@nestjs/throttler';

import { ipKey } from '../common/ip-key';
import type { GatewayRequest } from '../common/request-context';
import type { RateLimitSettings } from '../config/config.schema';
import { type AppliedRule, RateLimiter } from './rate-limiter';

/**
 * Third proxy guard (after authentication and authorisation, so it keys on the identity
 * and never counts calls refused anyway). Extends throttler's guard through its hooks: one
 * named throttler makes the base canActivate call handleRequest once; the rules — the
 * caller's tier and, on top, the route's own rule — come from the compiled route.
 */
@Injectable()
export class RateLimitGuard extends ThrottlerGuard {
  constructor(
    @InjectThrottlerOptions() options: ThrottlerModuleOptions,
    @InjectThrottlerStorage() storage: ThrottlerStorage,
    reflector: Reflector,
    private readonly limiter: RateLimiter,
  ) {
    super(options, storage, reflector);
  }

  protected override shouldSkip(context: ExecutionContext): Promise<boolean> {
    const req = context.switchToHttp().getRequest<GatewayRequest>();
    const route = req.gateway.match?.route.data.settings;
    const enabled = this.limiter.settingsFor(req.gateway).enabled;
    return Promise.resolve(!route || route.rateLimit === false || !enabled);
  }

  protected override async handleRequest(props: ThrottlerRequest): Promise<boolean> {
    const { req, res } = this.getRequestResponse(props.context);
    const gw = req as GatewayRequest;
    const rules = await this.rulesFor(props.context, gw);
    await this.limiter.check(rules, gw.gateway, res as ServerResponse);
    return true;
  }

  /** The tier's tracker: the subject once authenticated, else the client IP. */
  protected override getTracker(req: Record<string, unknown>): Promise<string> {
    const ctx = (req as unknown as GatewayRequest).gateway;
    return Promise.resolve(
      ctx.identity
        ? `${ctx.identity.method}:${ctx.identity.subject}`
        : this.ipTracker(ctx.clientIp, this.limiter.settingsFor(ctx)),
    );
  }

  /** Per-IP trackers take the whole IPv4 address and the IPv6 prefix (rateLimit.ipv6Prefix). */
  private ipTracker(ip: string, settings: RateLimitSettings): string {
    return `ip:${ipKey(ip, settings.ipv6Prefix)}`;
  }

  protected override generateKey(
    _context: ExecutionContext,
    tracker: string,
    name: string,
  ): string {
    return this.limiter.key(name, tracker);
  }

  private async rulesFor(context: ExecutionContext, req: GatewayRequest): Promise<AppliedRule[]> {
    const ctx = req.gateway;
    const settings = this.limiter.settingsFor(ctx);
    const match = ctx.match;
    const rules: AppliedRule[] = [];
    const own = match?.route.data.settings.rateLimit;
    if (own) {
      const tracker =
        own.scope === 'endpoint'
          ? 'all'
          : own.scope === 'user' && ctx.identity
            ? `${ctx.identity.method}:${ctx.identity.subject}`
            : this.ipTracker(ctx.clientIp, settings);
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
    const identity = ctx.identity;
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
        await this.getTracker(req as unknown as Record<string, unknown>),
        settings,
      ),
      limit: t.limit,
      windowMs: t.windowSeconds * 1000,
      windowSeconds: t.windowSeconds,
    });
    return rules;
  }
}
