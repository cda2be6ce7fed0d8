import type { IncomingMessage, ServerResponse } from 'node:http';

import { contextOf } from '../../common/request-context';
import { NoHealthyTargetError } from '../../common/upstream-errors';
import type { ServiceSettings } from '../../config/config.schema';
import type { Balancer } from './balancer';
import { RoundRobinBalancer } from './round-robin.balancer';
import { SmoothWeightedBalancer } from './smooth-weighted.balancer';
import { type CallOutcome, UpstreamCall } from './upstream-call';
import { attachCall, type UpstreamTarget } from './upstream-target';

export interface ServiceRuntimeOptions {
  /** `server.requestTimeoutMs`, used when the service sets no `timeoutMs`. */
  readonly defaultTimeoutMs: number;
  readonly bodyLimit: number;
  readonly corsOwned: boolean;
}

/**
 * A backend service as one config snapshot sees it: its targets (shared across snapshots),
 * balancer and deadline. Built when the config loads; `forward` is the per-request part.
 */
export class UpstreamService {
  readonly name: string;
  readonly timeoutMs: number;
  private readonly balancer: Balancer<UpstreamTarget>;

  constructor(
    readonly settings: ServiceSettings,
    readonly targets: readonly UpstreamTarget[],
    private readonly options: ServiceRuntimeOptions,
  ) {
    this.name = settings.name;
    this.timeoutMs = settings.timeoutMs ?? options.defaultTimeoutMs;
    this.balancer =
      settings.loadBalancing === 'weighted'
        ? new SmoothWeightedBalancer<UpstreamTarget>()
        : new RoundRobinBalancer<UpstreamTarget>();
  }

  /** Streams the call to one target; settles on the response head or on failure. */
  forward(req: IncomingMessage, res: ServerResponse): Promise<CallOutcome> {
    const target = this.balancer.pick(this.targets);
    if (!target) return Promise.reject(new NoHealthyTargetError(this.name));
    const ctx = contextOf(req);
    if (ctx) ctx.target = target.label;
    const chunked = req.headers['content-length'] === undefined && req.headers['transfer-encoding'];
    return new Promise<CallOutcome>((resolve, reject) => {
      const call = new UpstreamCall(
        req,
        res,
        {
          service: this.name,
          timeoutMs: this.timeoutMs,
          chunkedBodyLimit: chunked ? this.options.bodyLimit : undefined,
          corsOwned: this.options.corsOwned,
        },
        resolve,
        reject,
      );
      attachCall(req, call);
      void target.proxy(req, res);
    });
  }
}
