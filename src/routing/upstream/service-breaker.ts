import { Logger } from '@nestjs/common';
import CircuitBreaker from 'opossum';

import type { CircuitBreakerSettings } from '../../config/config.schema';
import { UpstreamFailure } from './upstream-failure';

export type BreakerState = 'closed' | 'half-open' | 'open';

/** Gauge values of `gateway_circuit_breaker_state`. */
export const BREAKER_STATE_VALUE: Readonly<Record<BreakerState, number>> = {
  closed: 0,
  'half-open': 1,
  open: 2,
};

type Action<A extends unknown[], R> = (...args: A) => Promise<R>;

/**
 * One opossum breaker per service. opossum's own timeout is off (the proxy owns the
 * deadline, from dispatch to the response head); failures are counted per attempt.
 */
export class ServiceBreaker {
  private readonly logger = new Logger('CircuitBreaker');
  private readonly breaker: CircuitBreaker;
  private openedAt = 0;
  private stateListeners: ((state: BreakerState) => void)[] = [];

  constructor(
    readonly service: string,
    readonly settings: CircuitBreakerSettings,
    /**
     * Errors that are nobody's failure (client went away, body too large, stale socket):
     * counted as successes while closed, but a half-open probe that ends this way proved
     * nothing, so it counts as a failure and the breaker stays open.
     */
    isNeutral: (err: unknown) => boolean,
  ) {
    this.breaker = new CircuitBreaker((run: () => Promise<unknown>) => run(), {
      timeout: false,
      errorThresholdPercentage: settings.errorThresholdPercentage,
      rollingCountTimeout: settings.rollingWindowMs,
      rollingCountBuckets: 10,
      resetTimeout: settings.resetTimeoutMs,
      volumeThreshold: settings.volumeThreshold,
      rollingPercentilesEnabled: false,
      enableSnapshots: false,
      errorFilter: (err: unknown) => isNeutral(err) && !this.breaker.halfOpen,
    });
    this.breaker.on('open', () => {
      this.openedAt = Date.now();
      this.changed('open');
    });
    this.breaker.on('halfOpen', () => this.changed('half-open'));
    this.breaker.on('close', () => this.changed('closed'));
  }

  get state(): BreakerState {
    if (this.breaker.opened) return 'open';
    return this.breaker.halfOpen ? 'half-open' : 'closed';
  }

  /** Failures / calls in the rolling window, 0 when there were none. */
  get errorRate(): number {
    const s = this.breaker.stats;
    return s.fires === 0 ? 0 : s.failures / s.fires;
  }

  onStateChange(listener: (state: BreakerState) => void): void {
    this.stateListeners.push(listener);
  }

  /** Runs one attempt through the breaker; an open breaker rejects with a 503 at once. */
  run<R>(attempt: Action<[], R>): Promise<R> {
    // Only a breaker that is not closed when called refuses (EOPENBREAKER, open or a
    // half-open one whose probe is out): the closed one's promise is passed on as it is,
    // without a promise layer per call to translate a refusal that cannot come.
    const closed = this.breaker.closed;
    const call = this.breaker.fire(attempt) as Promise<R>;
    return closed ? call : call.catch(this.refusal);
  }

  /** opossum's refusal as the gateway's 503; any other error as it came. */
  private readonly refusal = (err: unknown): never => {
    if ((err as { code?: string }).code === 'EOPENBREAKER') {
      throw UpstreamFailure.circuitOpen(this.service, this.retryAfterSeconds());
    }
    throw err;
  };

  /** Whole seconds until the half-open probe (at least 1). */
  retryAfterSeconds(): number {
    const left = this.openedAt + this.settings.resetTimeoutMs - Date.now();
    return Math.max(1, Math.ceil(left / 1000));
  }

  close(): void {
    this.breaker.shutdown();
  }

  private changed(state: BreakerState): void {
    this.logger.log({ msg: `circuit ${state}`, service: this.service, state });
    for (const l of this.stateListeners) l(state);
  }
}
