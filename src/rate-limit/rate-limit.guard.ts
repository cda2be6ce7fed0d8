import type { ServerResponse } from 'node:http';

import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';

import { ipKey } from '../common/ip-key';
import type { GatewayRequest, RequestContext } from '../common/request-context';
import type { RateLimitSettings } from '../config/config.schema';
import { type AppliedRule, policyOf, RateLimiter, type RuleName } from './rate-limiter';

type TierName = 'public' | 'authenticated' | 'admin';

/** A rule as far as it is the same on every call: all but the tracker in its key. */
interface RuleTemplate {
  readonly name: RuleName;
  /** The store key up to the tracker: `<prefix>rl:<name>:`. */
  readonly keyPrefix: string;
  readonly limit: number;
  readonly windowMs: number;
  readonly windowSeconds: number;
}

/** What a route's checks share on every call, built on its first call in a snapshot. */
interface RoutePlan {
  /** The rate-limit settings it was built from (the route's own snapshot). */
  readonly settings: RateLimitSettings;
  /** The route's own rule, with its scope; undefined without one. */
  readonly own: (RuleTemplate & { readonly scope: 'ip' | 'user' | 'endpoint' }) | undefined;
  readonly tiers: Readonly<Record<TierName, RuleTemplate>>;
  /** `RateLimit-Policy` per tier (the route's rule first), the same on every call. */
  readonly policies: Readonly<Record<TierName, string>>;
}

/** A route of the table; its plan is kept as long as the route (one snapshot) lives. */
type RouteKey = NonNullable<RequestContext['match']>['route'];

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
  /**
   * Per route: the key prefixes, limits and policy header. Keyed by the route object (one
   * per route and snapshot, long-lived), so a reload's routes get new plans and the old
   * ones go with their routes.
   */
  private readonly plans = new WeakMap<RouteKey, RoutePlan>();

  constructor(private readonly limiter: RateLimiter) {}

  /**
   * `true` at once when nothing is limited; with the memory store the check itself runs
   * now too (a 429 is thrown), so Nest awaits no promise on the proxy path.
   */
  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    const req = context.getArgByIndex<GatewayRequest>(0);
    const ctx = req.gateway;
    const match = ctx.match;
    const settings = this.limiter.settingsFor(ctx);
    if (!match || match.route.data.settings.rateLimit === false || !settings.enabled) return true;
    const plan = this.planFor(match.route, settings);
    const identity = ctx.identity;
    // The tier's tracker: the subject once authenticated, else the client IP.
    const tier: TierName = !identity
      ? 'public'
      : identity.roles.includes('admin')
        ? 'admin'
        : 'authenticated';
    const who = identity ? `${identity.method}:${identity.subject}` : undefined;
    const ip = (): string => `ip:${ipKey(ctx.clientIp, settings.ipv6Prefix)}`;
    const rules: AppliedRule[] = [];
    const own = plan.own;
    if (own) {
      const tracker = own.scope === 'endpoint' ? 'all' : own.scope === 'user' && who ? who : ip();
      rules.push(applied(own, tracker));
    }
    rules.push(applied(plan.tiers[tier], who ?? ip()));
    const res = context.getArgByIndex<ServerResponse>(1);
    const pending = this.limiter.check(rules, ctx, res, true, plan.policies[tier]);
    return pending ? pending.then(() => true) : true;
  }

  private planFor(route: RouteKey, settings: RateLimitSettings): RoutePlan {
    const known = this.plans.get(route);
    if (known?.settings === settings) return known;
    const rule = route.data.settings.rateLimit;
    const template = (
      name: RuleName,
      keyName: string,
      limit: number,
      windowSeconds: number,
    ): RuleTemplate => ({
      name,
      // RateLimiter.key with the tracker left off.
      keyPrefix: this.limiter.key(keyName, '', settings),
      limit,
      windowMs: windowSeconds * 1000,
      windowSeconds,
    });
    const own = rule
      ? {
          ...template(
            'route',
            // Routes may share a pattern when their methods differ: the methods are in the key.
            `route:${route.data.service.name}:${route.pattern}:${(route.methods ?? ['*']).join(',')}`,
            rule.limit,
            rule.windowSeconds,
          ),
          scope: rule.scope,
        }
      : undefined;
    const tier = (name: TierName) =>
      template(name, name, settings.tiers[name].limit, settings.tiers[name].windowSeconds);
    const tiers = {
      public: tier('public'),
      authenticated: tier('authenticated'),
      admin: tier('admin'),
    };
    const policy = (name: TierName) => policyOf(own ? [own, tiers[name]] : [tiers[name]]);
    const plan: RoutePlan = {
      settings,
      own,
      tiers,
      policies: {
        public: policy('public'),
        authenticated: policy('authenticated'),
        admin: policy('admin'),
      },
    };
    this.plans.set(route, plan);
    return plan;
  }
}

function applied(t: RuleTemplate, tracker: string): AppliedRule {
  return {
    name: t.name,
    key: t.keyPrefix + tracker,
    limit: t.limit,
    windowMs: t.windowMs,
    windowSeconds: t.windowSeconds,
  };
}
