import type { ServerResponse } from 'node:http';

import { Injectable } from '@nestjs/common';

import { ipKey } from '../common/ip-key';
import type { RequestContext } from '../common/request-context';
import { type AppliedRule, RateLimiter } from '../rate-limit/rate-limiter';

/**
 * The OAuth endpoints' two limits (contract, Security: OAuth client authentication).
 * `rateLimit.clientAuthFailures`: failed client authentications per client IP, one budget
 * across /oauth/token, /oauth/revoke and /oauth/introspect, checked before any secret is
 * (on even when `rateLimit.enabled` is false; `limit: 0` turns it off). A failure never
 * counts against the client whose id was presented. `rateLimit.tokenEndpoint`: the tokens
 * a registered client is issued, keyed by its client_id; nothing is kept for an id that
 * is not registered.
 */
@Injectable()
export class ClientAuthLimits {
  constructor(private readonly limiter: RateLimiter) {}

  private failureRule(ctx: RequestContext): AppliedRule | undefined {
    const s = this.limiter.settingsFor(ctx);
    const clientIp = ctx.clientIp;
    const w = s.clientAuthFailures;
    if (w.limit === 0) return undefined;
    return {
      name: 'client_auth',
      key: this.limiter.key('client_auth', ipKey(clientIp, s.ipv6Prefix), s),
      limit: w.limit,
      windowMs: w.windowSeconds * 1000,
      windowSeconds: w.windowSeconds,
    };
  }

  /** 429 when the address has used up its failures; counts nothing. */
  async assertMayAuthenticate(ctx: RequestContext, res: ServerResponse): Promise<void> {
    const rule = this.failureRule(ctx);
    if (rule) await this.limiter.check([rule], ctx, res, false);
  }

  async recordFailure(ctx: RequestContext): Promise<void> {
    const rule = this.failureRule(ctx);
    if (rule) await this.limiter.record(rule, ctx);
  }

  /** Counts one token for an authenticated, registered client; 429 past its limit. */
  async countIssue(clientId: string, ctx: RequestContext, res: ServerResponse): Promise<void> {
    const s = this.limiter.settingsFor(ctx);
    if (!s.enabled) return;
    const w = s.tokenEndpoint;
    await this.limiter.check(
      [
        {
          name: 'token',
          key: this.limiter.key('token', `c:${clientId}`, s),
          limit: w.limit,
          windowMs: w.windowSeconds * 1000,
          windowSeconds: w.windowSeconds,
        },
      ],
      ctx,
      res,
    );
  }
}
