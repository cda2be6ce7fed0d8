import type { IncomingMessage, ServerResponse } from 'node:http';

import { Logger } from '@nestjs/common';

import { contextOf } from '../../common/request-context';
import type { ServiceSettings } from '../../config/config.schema';
import { endClientSpan, type GatewayTracer } from '../../tracing/gateway-tracing';
import type { Balancer } from './balancer';
import { RoundRobinBalancer } from './round-robin.balancer';
import type { ServiceBreaker } from './service-breaker';
import { SmoothWeightedBalancer } from './smooth-weighted.balancer';
import { UpstreamCall } from './upstream-call';
import { UpstreamFailure } from './upstream-failure';
import type { UpstreamTarget } from './upstream-target';
import { type BridgeHooks, bridgeWebSocket } from './websocket-bridge';

export interface ServiceRuntimeOptions {
  /** `server.requestTimeoutMs`, used when the service sets no `timeoutMs`. */
  readonly defaultTimeoutMs: number;
  readonly bodyLimit: number;
  readonly corsOwned: boolean;
  /** Tracing on: CLIENT spans per attempt. */
  readonly tracer?: GatewayTracer;
  /** The WebSocket gauge. */
  readonly websocket: BridgeHooks;
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'DELETE']);

const logger = new Logger('Upstreams');

/**
 * A backend service as one config snapshot sees it: its targets and breaker (both shared
 * across snapshots while unchanged), balancer and deadline. Built when the config loads;
 * `forward` is the per-request part.
 */
export class UpstreamService {
  readonly name: string;
  readonly timeoutMs: number;
  private readonly balancer: Balancer<UpstreamTarget>;
  private list: readonly UpstreamTarget[] = [];
  /** Some targets carry SRV priorities: only the lowest priority with a healthy one serves. */
  private prioritised = false;

  constructor(
    readonly settings: ServiceSettings,
    targets: readonly UpstreamTarget[],
    readonly breaker: ServiceBreaker,
    private readonly options: ServiceRuntimeOptions,
  ) {
    this.name = settings.name;
    this.timeoutMs = settings.timeoutMs ?? options.defaultTimeoutMs;
    // SRV weights make the service weighted (contract, Service discovery).
    const weighted =
      settings.loadBalancing === 'weighted' || settings.targets.some((t) => t.srv !== undefined);
    this.balancer = weighted
      ? new SmoothWeightedBalancer<UpstreamTarget>()
      : new RoundRobinBalancer<UpstreamTarget>();
    this.replaceTargets(targets);
  }

  get targets(): readonly UpstreamTarget[] {
    return this.list;
  }

  /** Discovery found another set: calls from now on pick among these. */
  replaceTargets(targets: readonly UpstreamTarget[]): void {
    this.list = targets;
    this.prioritised = targets.some((t) => t.priority !== targets[0]?.priority);
  }

  /**
   * Streams the call to a healthy target through the service's breaker. Settles once the
   * response head is on its way to the client (a 5xx included: the client gets it
   * unchanged) or with the gateway error to answer. One retry, on another healthy target,
   * for a bodiless idempotent call whose connection was refused or found stale.
   */
  forward(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const target = this.pick(undefined);
    if (!target) return Promise.reject(new UpstreamFailure('no-target', this.name));
    // The first attempt's promise is passed on as it is (no async frame per call); only a
    // failure goes through the retry rule.
    return this.breaker
      .run(() => this.attempt(req, res, target))
      .then(undefined, (err: unknown) => this.afterFailure(req, res, target, err));
  }

  /** A failed first attempt: answered (a 5xx went out), retried once, or its error. */
  private async afterFailure(
    req: IncomingMessage,
    res: ServerResponse,
    failed: UpstreamTarget,
    err: unknown,
  ): Promise<void> {
    const failure = toAnswer(err);
    if (!failure) return;
    if (!failure.meaning.retry || !canRetry(req)) throw failure;
    const target = this.pick(failed);
    // No target for the retry: the client gets the first attempt's 502.
    if (!target) throw failure;
    try {
      await this.breaker.run(() => this.attempt(req, res, target));
    } catch (retryErr) {
      const retryFailure = toAnswer(retryErr);
      if (retryFailure) throw retryFailure;
    }
  }

  /** Healthy targets; without an allocation while all are healthy. */
  healthyTargets(): readonly UpstreamTarget[] {
    const all = this.list;
    let healthy = all;
    for (const t of all) {
      if (!t.health.healthy) {
        healthy = all.filter((x) => x.health.healthy);
        break;
      }
    }
    if (!this.prioritised || healthy.length === 0) return healthy;
    let best = Infinity;
    for (const t of healthy) best = Math.min(best, t.priority);
    return healthy.filter((t) => t.priority === best);
  }

  private pick(failed: UpstreamTarget | undefined): UpstreamTarget | undefined {
    const healthy = this.healthyTargets();
    if (!failed) return this.balancer.pick(healthy);
    // A retry goes to another target when there is one; a stale socket's target is still
    // healthy and may be the only one.
    const others = healthy.filter((t) => t !== failed);
    return this.balancer.pick(others.length > 0 ? others : healthy);
  }

  /** One attempt; settles when the response head arrives, rejects with its failure. */
  private attempt(
    req: IncomingMessage,
    res: ServerResponse,
    target: UpstreamTarget,
  ): Promise<void> {
    const ctx = contextOf(req);
    if (ctx) ctx.target = target.label;
    if (ctx?.upgrade) {
      return bridgeWebSocket(
        req,
        res,
        target,
        this.name,
        this.timeoutMs,
        this.options.websocket,
      ).catch((err: unknown) => {
        if (err instanceof UpstreamFailure && err.meaning.targetDown) target.health.markDown();
        throw err;
      });
    }
    const chunked =
      req.headers['content-length'] === undefined && req.headers['transfer-encoding'] !== undefined;
    const traced =
      ctx?.traceContext && this.options.tracer
        ? this.options.tracer.startClient(ctx.traceContext, req.method ?? 'GET', target)
        : undefined;
    return new Promise<void>((resolve, reject) => {
      const call = new UpstreamCall(
        req,
        res,
        {
          service: this.name,
          basePath: target.basePath,
          timeoutMs: this.timeoutMs,
          streamIdleTimeoutMs: this.settings.streamIdleTimeoutMs,
          chunkedBodyLimit: chunked ? this.options.bodyLimit : undefined,
          corsOwned: this.options.corsOwned,
          traceHeaders: traced?.headers as Record<string, string> | undefined,
        },
        (outcome) => {
          if (traced) {
            if (outcome.kind === 'answered') endClientSpan(traced.span, outcome.status);
            else endClientSpan(traced.span, undefined, outcome.failure.kind);
          }
          if (outcome.kind === 'answered') {
            if (outcome.status < 500) return resolve();
            // The client gets the 5xx unchanged; the breaker counts it.
            return reject(new UpstreamFailure('server-error', this.name, String(outcome.status)));
          }
          if (outcome.failure.meaning.targetDown) target.health.markDown();
          reject(outcome.failure);
        },
      );
      target.proxy(req, res, call);
    });
  }
}

/**
 * An attempt's error still to be answered, or undefined when it already was (the backend's
 * 5xx went to the client, or the client is gone). Anything but an UpstreamFailure is thrown.
 */
function toAnswer(err: unknown): UpstreamFailure | undefined {
  if (!(err instanceof UpstreamFailure)) throw err;
  if (err.meaning.status === 'answered') return undefined;
  if (err.kind === 'dispatch') {
    logger.error({ msg: 'upstream request could not be dispatched', err: err.reason });
  }
  return err;
}

function canRetry(req: IncomingMessage): boolean {
  if (!IDEMPOTENT.has(req.method ?? '')) return false;
  const h = req.headers;
  return h['transfer-encoding'] === undefined && (h['content-length'] ?? '0') === '0';
}
