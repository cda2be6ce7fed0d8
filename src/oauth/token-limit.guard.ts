import type { ServerResponse } from 'node:http';

import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';

import type { GatewayRequest } from '../common/request-context';
import { RateLimiter } from '../rate-limit/rate-limiter';
import { type FormBody, presentedClientId } from './client-credentials';

/**
 * `rateLimit.tokenEndpoint` at /oauth/token, keyed by the client_id presented (Basic or
 * form), else the client IP; counted before client authentication, so guessing secrets
 * is limited too.
 */
@Injectable()
export class TokenLimitGuard implements CanActivate {
  constructor(private readonly limiter: RateLimiter) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const s = this.limiter.settings;
    if (!s.enabled) return true;
    const http = context.switchToHttp();
    const req = http.getRequest<GatewayRequest & { body?: unknown }>();
    const body = (req.body !== null && typeof req.body === 'object' ? req.body : {}) as FormBody;
    const form: Record<string, string> = {};
    if (typeof body.client_id === 'string') form.client_id = body.client_id;
    let id: string | undefined;
    try {
      id = presentedClientId(req.headers, form);
    } catch {
      id = undefined;
    }
    const w = s.tokenEndpoint;
    // The label of this endpoint's violations and access-log lines.
    req.gateway.routeLabel = '/oauth/token';
    const tracker = id ? `c:${id}` : `ip:${req.gateway.clientIp}`;
    await this.limiter.check(
      [
        {
          name: 'token',
          key: this.limiter.key('token', tracker),
          limit: w.limit,
          windowMs: w.windowSeconds * 1000,
          windowSeconds: w.windowSeconds,
        },
      ],
      req.gateway,
      http.getResponse<ServerResponse>(),
    );
    return true;
  }
}
