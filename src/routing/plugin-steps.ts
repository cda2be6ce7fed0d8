// Where the plugin phases meet the request path: the response hold (installed at match),
// the access phase (in the entry, before any credential is read) and the request phase
// (after the guards, before forwarding). Failures become the contract's answers here.
import type { IncomingMessage, ServerResponse } from 'node:http';

import { Injectable, Logger } from '@nestjs/common';

import { sendError } from '../common/error-response';
import { GatewayException } from '../common/gateway.exception';
import type { GatewayRequest, RequestContext } from '../common/request-context';
import { GatewayMetrics } from '../metrics/gateway-metrics';
import { responseHeaderEditor } from '../plugins/header-editor';
import { ProxiedCall } from '../plugins/plugin-call';
import { PluginFailure, PluginRejection } from '../plugins/plugin-errors';
import { holdResponseHead, type RoutePlugins, runHooks } from '../plugins/route-plugins';

@Injectable()
export class PluginSteps {
  private readonly logger = new Logger('Plugins');

  constructor(private readonly metrics: GatewayMetrics) {}

  /** Response hooks see the head of every answer of the matched route, ours included. */
  holdResponse(req: IncomingMessage, res: ServerResponse, plugins: RoutePlugins): void {
    if (plugins.response.length === 0) return;
    const ctx = (req as GatewayRequest).gateway;
    holdResponseHead(
      res,
      plugins.response,
      () => ProxiedCall.of(req),
      () => ({ status: res.statusCode, headers: responseHeaderEditor(res) }),
      (err) => this.answer(res, ctx, err),
    );
  }

  /** The access phase; undefined when every hook settled at once without refusing. */
  access(req: IncomingMessage, res: ServerResponse, plugins: RoutePlugins, next: () => void): void {
    const ctx = (req as GatewayRequest).gateway;
    let pending: Promise<void> | undefined;
    try {
      pending = runHooks(plugins.access, [ProxiedCall.of(req)]);
    } catch (err) {
      return this.answer(res, ctx, err as PluginRejection | PluginFailure);
    }
    if (!pending) return next();
    pending.then(next, (err: PluginRejection | PluginFailure) => this.answer(res, ctx, err));
  }

  /** The request phase: throws the GatewayException the exception filter answers. */
  async request(req: IncomingMessage, plugins: RoutePlugins): Promise<void> {
    if (plugins.request.length === 0) return;
    try {
      await runHooks(plugins.request, [ProxiedCall.of(req)]);
    } catch (err) {
      const e = this.outcome(
        (req as GatewayRequest).gateway,
        err as PluginRejection | PluginFailure,
      );
      throw new GatewayException(e.status, e.message, e.headers, e.problems);
    }
  }

  private answer(res: ServerResponse, ctx: RequestContext, err: PluginRejection | PluginFailure) {
    const e = this.outcome(ctx, err);
    sendError(res, e.status, e.message, ctx.id, e.headers, e.problems);
  }

  private outcome(ctx: RequestContext, err: PluginRejection | PluginFailure) {
    if (err instanceof PluginRejection) {
      return {
        status: err.status,
        message: err.message,
        headers: err.headers,
        problems: err.problems,
      };
    }
    this.metrics.pluginError(err.plugin);
    this.logger.error({
      msg: err.status === 504 ? 'plugin hook timed out' : 'plugin hook failed',
      plugin: err.plugin,
      requestId: ctx.id,
      err: err.cause,
    });
    return {
      status: err.status,
      message: err.status === 504 ? 'plugin did not answer in time' : 'Internal server error',
      headers: undefined,
      problems: undefined,
    };
  }
}
