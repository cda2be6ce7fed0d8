import type { ServerResponse } from 'node:http';

import { Injectable } from '@nestjs/common';

import type { GatewayRequest } from '../common/request-context';

/**
 * The proxied call's Nest handler. A provider, not a @Controller: it is wrapped once by
 * ExternalContextCreator (see gateway-entry.ts), which finds enhancers only on providers.
 * Guards, in this order, come with the identity and rate-limit capabilities:
 * authenticate, then authorise (needs the identity), then rate-limit (keys on it, and
 * must not count calls that were refused anyway).
 */
@Injectable()
export class ProxyController {
  async forward(req: GatewayRequest, res: ServerResponse): Promise<void> {
    const ctx = req.gateway;
    const match = ctx.match;
    if (!match) throw new Error('proxy called without a route match');
    req.url = match.route.upstreamPath(match) + (ctx.query ?? '');
    await match.route.data.service.forward(req, res);
  }
}
