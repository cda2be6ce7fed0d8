import type { ServerResponse } from 'node:http';

import { Injectable, UseGuards } from '@nestjs/common';

import { AuthenticateGuard } from '../auth/authenticate.guard';
import { AuthorizeGuard } from '../auth/authorize.guard';
import { ProxyPipeline } from '../common/access.decorators';
import type { GatewayRequest } from '../common/request-context';
import { RateLimitGuard } from '../rate-limit/rate-limit.guard';
import type { GatewayRouteMatch } from './gateway-routes';
import { PluginSteps } from './plugin-steps';

/**
 * The proxied call's Nest handler. A provider, not a @Controller: it is wrapped once by
 * ExternalContextCreator (see gateway-entry.ts), which finds enhancers only on providers.
 */
@Injectable()
export class ProxyController {
  constructor(private readonly plugins: PluginSteps) {}

  /**
   * Guards in this order: authenticate (who is calling), authorise (needs the identity),
   * then rate-limit (keys on the identity, and must not count calls refused anyway).
   */
  @ProxyPipeline()
  @UseGuards(AuthenticateGuard, AuthorizeGuard, RateLimitGuard)
  forward(req: GatewayRequest, res: ServerResponse): Promise<void> {
    // Not an async function: without request hooks the service's promise is the handler's
    // (Nest's handler wrapper awaits it), one promise layer less per call.
    const match = req.gateway.match;
    if (!match) throw new Error('proxy called without a route match');
    const plugins = match.route.data.plugins;
    if (plugins.request.length > 0) {
      return this.plugins.request(req, plugins).then(() => send(req, res, match));
    }
    return send(req, res, match);
  }
}

function send(req: GatewayRequest, res: ServerResponse, match: GatewayRouteMatch): Promise<void> {
  req.url = match.route.upstreamPath(match) + (req.gateway.query ?? '');
  return match.route.data.service.forward(req, res);
}
