import { type IncomingMessage, METHODS, type ServerResponse } from 'node:http';

import { Injectable } from '@nestjs/common';
import { InjectMetric } from '@willsoto/nestjs-prometheus';
import type { Counter, Gauge, Histogram } from 'prom-client';

import type { RequestContext } from '../common/request-context';
import { GatewayConfig } from '../config/gateway-config';
import {
  AUTH_FAILURES,
  BREAKER_STATE,
  CONFIG_RELOADS,
  DISCOVERY_ERRORS,
  PLUGIN_ERRORS,
  REQUEST_DURATION,
  REQUESTS_SHED,
  REQUESTS_TOTAL,
  TARGET_UP,
  UPSTREAM_DURATION,
  WEBSOCKETS,
} from './metric-names';

type Labels<T extends string> = Record<T, string>;

/**
 * What the target gauge's `collect` option (prom-client's scrape hook, see metrics.module)
 * runs on every scrape. Process-wide like prom-client's default registry the gauge lives in.
 */
export const targetScrapeReaders = new Set<() => void>();

interface RouteChildren {
  readonly duration: ReturnType<Histogram<string>['labels']>;
  readonly byStatus: Map<number, ReturnType<Counter<string>['labels']>>;
  readonly method: string;
  readonly route: string;
  readonly service: string;
}

/**
 * The gateway's metric handles. Label children are bound once per route and method (and
 * status), never built from a fresh label object per request.
 */
@Injectable()
export class GatewayMetrics {
  /**
   * By route label, then service, then method: lookups of the strings the call already
   * holds (their hashes are cached), never a key string built per call.
   */
  private readonly children = new Map<string, Map<string, Map<string, RouteChildren>>>();
  private readonly upstreamChildren = new Map<string, ReturnType<Histogram<string>['labels']>>();

  constructor(
    @InjectMetric(REQUESTS_TOTAL) private readonly requests: Counter<string>,
    @InjectMetric(REQUEST_DURATION) private readonly duration: Histogram<string>,
    @InjectMetric(UPSTREAM_DURATION) private readonly upstream: Histogram<string>,
    @InjectMetric(BREAKER_STATE) private readonly breaker: Gauge<string>,
    @InjectMetric(TARGET_UP) private readonly targetUp: Gauge<string>,
    @InjectMetric(AUTH_FAILURES) private readonly authFailures: Counter<string>,
    @InjectMetric(CONFIG_RELOADS) reloads: Counter<string>,
    @InjectMetric(PLUGIN_ERRORS) private readonly pluginErrors: Counter<string>,
    @InjectMetric(DISCOVERY_ERRORS) private readonly discoveryErrors: Counter<string>,
    @InjectMetric(WEBSOCKETS) private readonly websockets: Gauge<string>,
    @InjectMetric(REQUESTS_SHED) private readonly shedCalls: Counter<string>,
    config: GatewayConfig,
  ) {
    // Both results exist from the start at 0: an alert on increase() then sees the first
    // rejected reload (a series born at 1 shows no increase).
    const applied = reloads.labels({ result: 'applied' });
    const rejected = reloads.labels({ result: 'rejected' });
    applied.inc(0);
    rejected.inc(0);
    config.onReload((r) => (r.ok ? applied : rejected).inc());
  }

  discoveryError(service: string): void {
    this.discoveryErrors.inc({ service });
  }

  shed(): void {
    this.shedCalls.inc();
  }

  websocketOpened(service: string): void {
    this.websockets.inc({ service });
  }

  websocketClosed(service: string): void {
    this.websockets.dec({ service });
  }

  pluginError(plugin: string): void {
    this.pluginErrors.inc({ plugin });
  }

  /** The `finish` hook's part: every proxied call, those the gateway answered included. */
  recordRequest(req: IncomingMessage, res: ServerResponse, ctx: RequestContext): void {
    if (ctx.ownEndpoint) return;
    const method = methodLabel(req.method);
    const c = this.routeChildren(method, ctx.routeLabel, ctx.serviceLabel);
    const status = res.statusCode;
    let counter = c.byStatus.get(status);
    if (!counter) {
      counter = this.requests.labels({
        method: c.method,
        route: c.route,
        service: c.service,
        status: String(status),
      });
      c.byStatus.set(status, counter);
    }
    counter.inc();
    c.duration.observe(Number(process.hrtime.bigint() - ctx.startedAt) / 1e9);
    if (ctx.upstreamMs !== undefined) {
      let u = this.upstreamChildren.get(ctx.serviceLabel);
      if (!u) {
        u = this.upstream.labels({ service: ctx.serviceLabel });
        this.upstreamChildren.set(ctx.serviceLabel, u);
      }
      u.observe(ctx.upstreamMs / 1000);
    }
  }

  private routeChildren(method: string, route: string, service: string): RouteChildren {
    let services = this.children.get(route);
    if (!services) {
      services = new Map();
      this.children.set(route, services);
    }
    let methods = services.get(service);
    if (!methods) {
      methods = new Map();
      services.set(service, methods);
    }
    let c = methods.get(method);
    if (!c) {
      const l: Labels<'method' | 'route' | 'service'> = { method, route, service };
      c = { duration: this.duration.labels(l), byStatus: new Map(), ...l };
      methods.set(method, c);
    }
    return c;
  }

  breakerState(service: string, value: number): void {
    this.breaker.set({ service }, value);
  }

  /** A reload removed the target or the service: its series go, rather than go stale. */
  forgetTarget(service: string, target: string): void {
    this.targetUp.remove({ service, target });
  }

  forgetService(service: string): void {
    this.breaker.remove({ service });
  }

  targetHealth(service: string, target: string, up: boolean): void {
    this.targetUp.set({ service, target }, up ? 1 : 0);
  }

  /**
   * Reads every target's health when /metrics is scraped (the gauge's collect hook), so a
   * passive rest that ended without traffic shows as up. Returns the unsubscribe.
   */
  refreshTargetsOnScrape(read: () => void): () => void {
    targetScrapeReaders.add(read);
    return () => targetScrapeReaders.delete(read);
  }

  authFailure(reason: string): void {
    this.authFailures.inc({ reason });
  }
}

/** Methods Node's HTTP/1.1 parser accepts: the only ones a `method` label may carry. */
const KNOWN_METHODS = new Set(METHODS);

/**
 * HTTP/2 takes any token as `:method` (HTTP/1.1's parser refuses unknown ones): a client
 * sending made-up methods would otherwise mint a series each. OpenTelemetry's convention
 * for the same case is `_OTHER`.
 */
export function methodLabel(method: string | undefined): string {
  if (method === undefined) return 'GET';
  return KNOWN_METHODS.has(method) ? method : '_OTHER';
}
