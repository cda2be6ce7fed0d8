import type { IncomingMessage, ServerResponse } from 'node:http';

import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from 'pino';

import type { RequestContext } from '../common/request-context';
import { clip } from './audit-log';
import { GATEWAY_PINO } from './logging.constants';

const QUIET = new Set(['/health', '/ready', '/metrics']);

/**
 * One line per request, written when the response is done (or the client went away),
 * with fields picked by hand: enough to trace the routing decision, nothing secret.
 */
@Injectable()
export class AccessLog {
  private readonly log: Logger;

  constructor(@Inject(GATEWAY_PINO) root: Logger) {
    this.log = root.child({ context: 'access' });
  }

  record(req: IncomingMessage, res: ServerResponse, ctx: RequestContext): void {
    const durationMs = Number(process.hrtime.bigint() - ctx.startedAt) / 1e6;
    const path = ctx.match ? undefined : pathOf(req);
    const line: Record<string, unknown> = {
      requestId: ctx.id,
      method: req.method,
      route: ctx.routeLabel,
      service: ctx.serviceLabel,
      target: ctx.target,
      status: res.statusCode,
      durationMs: Math.round(durationMs * 100) / 100,
      upstreamMs: ctx.upstreamMs === undefined ? undefined : Math.round(ctx.upstreamMs * 100) / 100,
      clientIp: ctx.clientIp,
      aborted: res.writableFinished ? undefined : true,
      // Own endpoints have no route pattern; their path is fixed and safe to log.
      path,
    };
    // Tracing on: the call's SERVER span, to find its trace from the log line. Added after
    // the literal (same field order) rather than spread into it: no object per call.
    if (ctx.span) {
      const sc = ctx.span.spanContext();
      line.traceId = sc.traceId;
      line.spanId = sc.spanId;
    }
    if (path !== undefined && QUIET.has(path)) this.log.debug(line, 'request');
    else this.log.info(line, 'request');
  }
}

function pathOf(req: IncomingMessage): string | undefined {
  // Only gateway-owned paths are logged raw: they are a fixed, small set. Unmatched proxied
  // paths (route "none") are attacker-controlled and unbounded, so they are left out.
  const url = req.url ?? '';
  const q = url.indexOf('?');
  const p = q === -1 ? url : url.slice(0, q);
  return /^\/(health|ready|metrics|oauth|\.well-known|api\/gateway)(\/|$)/.test(p)
    ? clip(p)
    : undefined;
}
