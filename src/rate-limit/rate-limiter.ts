import type { ServerResponse } from 'node:http';

import { Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { InjectMetric } from '@willsoto/nestjs-prometheus';
import type { Counter } from 'prom-client';

import { GatewayException } from '../common/gateway.exception';
import type { RequestContext } from '../common/request-context';
import type { RateLimitSettings } from '../config/config.schema';
import { GatewayConfig, snapshotFor } from '../config/gateway-config';
import { RedisConnection } from '../redis/redis-connection';
import { MemoryWindowStorage } from './memory-window.storage';
import { STORE_ERRORS, VIOLATIONS } from './rate-limit.metrics';
import { RedisWindowStorage } from './redis-window.storage';
import type { WindowDecision, WindowRule } from './sliding-window';
import type { SlidingWindowStorage } from './sliding-window.storage';

/** Names of the rules, as in `RateLimit-Policy` and the violations metric's `tier` label. */
export type RuleName = 'public' | 'authenticated' | 'admin' | 'route' | 'token' | 'client_auth';

export interface AppliedRule extends WindowRule {
  readonly name: RuleName;
  readonly windowSeconds: number;
}

/**
 * Checks a call against its rules (atomically, in the configured store), writes the
 * contract's headers, and refuses with 429 — or decides per `onStoreError` when the store
 * is unreachable (logged once per outage, counted, visible in /ready).
 */
@Injectable()
export class RateLimiter implements OnModuleDestroy {
  private readonly logger = new Logger('RateLimit');
  readonly memory = new MemoryWindowStorage();
  private readonly redis: RedisWindowStorage | undefined;
  private outage = false;

  constructor(
    private readonly config: GatewayConfig,
    connection: RedisConnection,
    @InjectMetric(STORE_ERRORS) private readonly errors: Counter<string>,
    @InjectMetric(VIOLATIONS) private readonly refused: Counter<string>,
  ) {
    this.redis = connection.client ? new RedisWindowStorage(connection.client) : undefined;
  }

  /** The settings of the call's snapshot (the current one outside a call). */
  settingsFor(ctx?: RequestContext): RateLimitSettings {
    return snapshotFor(ctx, this.config).gateway.rateLimit;
  }

  get settings(): RateLimitSettings {
    return this.settingsFor();
  }

  /** The store of a snapshot's settings (config validation ensures Redis exists for it). */
  storeFor(settings: RateLimitSettings): SlidingWindowStorage {
    return settings.store === 'redis' && this.redis ? this.redis : this.memory;
  }

  get store(): SlidingWindowStorage {
    return this.storeFor(this.settings);
  }

  /**
   * For /ready: a pod taken out of rotation gets no calls that could end an outage, so the
   * store is asked directly (one PING, same 100 ms timeout) while an outage is on.
   */
  async probeStore(): Promise<boolean> {
    const store = this.store;
    if (!this.outage || !this.redis || store !== this.redis) return !this.outage;
    if (!(await this.redis.ping())) return false;
    this.outage = false;
    this.logger.log({ msg: 'rate-limit store reachable again', store: store.kind });
    return true;
  }

  key(name: string, tracker: string, settings: RateLimitSettings = this.settings): string {
    return `${settings.redisKeyPrefix}rl:${name}:${tracker}`;
  }

  /**
   * Counts the call on every rule (when all allow it) and refuses with 429 when one does
   * not. `count: false` only checks: the call is refused if one more would not fit. With
   * the memory store it all happens now (nothing is returned, or the 429 is thrown), so the
   * proxy guard awaits no promise; with Redis it is the store's promise.
   */
  check(
    rules: readonly AppliedRule[],
    ctx: RequestContext,
    res: ServerResponse,
    count = true,
    /** The rules' `RateLimit-Policy` value, when the caller has it ready. */
    policy?: string,
  ): Promise<void> | undefined {
    const settings = this.settingsFor(ctx);
    const store = this.storeFor(settings);
    if (store !== this.memory) {
      return store.consume(rules, count).then(
        (decisions) => this.answered(store, rules, decisions, ctx, res, count, policy),
        (err: unknown) => this.storeFailed(store, settings, err),
      );
    }
    let decisions: WindowDecision[];
    try {
      decisions = this.memory.consumeNow(rules, count);
    } catch (err) {
      this.storeFailed(store, settings, err);
      return undefined;
    }
    this.answered(store, rules, decisions, ctx, res, count, policy);
    return undefined;
  }

  /** The store answered: the outage (if any) is over; headers, and the 429 if refused. */
  private answered(
    store: SlidingWindowStorage,
    rules: readonly AppliedRule[],
    decisions: readonly WindowDecision[],
    ctx: RequestContext,
    res: ServerResponse,
    count: boolean,
    policy: string | undefined,
  ): void {
    if (this.outage) {
      this.outage = false;
      this.logger.log({ msg: 'rate-limit store reachable again', store: store.kind });
    }
    this.decide(rules, decisions, ctx, res, count, policy);
  }

  /** The store failed: counted, logged once per outage, and `onStoreError` decides. */
  private storeFailed(
    store: SlidingWindowStorage,
    settings: RateLimitSettings,
    err: unknown,
  ): void {
    this.errors.inc({ store: store.kind });
    const deny = settings.onStoreError === 'deny';
    if (!this.outage) {
      this.outage = true;
      const reason = err instanceof Error ? err.message : 'unknown';
      this.logger.warn({
        msg: 'rate-limit store unreachable',
        store: store.kind,
        onStoreError: deny ? 'deny' : 'allow',
        reason,
      });
    }
    if (deny) throw new GatewayException(503, 'rate-limit store unavailable');
  }

  /** The contract's headers for the store's answer, and the 429 when a rule refused. */
  private decide(
    rules: readonly AppliedRule[],
    decisions: readonly WindowDecision[],
    ctx: RequestContext,
    res: ServerResponse,
    count: boolean,
    policy?: string,
  ): void {
    // A look only (count false) says nothing worth a header unless it refuses.
    if (count || !decisions[0]?.allowed) writeHeaders(res, rules, decisions, policy);
    if (decisions[0]?.allowed) return;
    let retryAfter = 1;
    rules.forEach((r, i) => {
      const d = decisions[i];
      if (!d.blocking) return;
      retryAfter = Math.max(retryAfter, d.retryAfterSeconds);
      this.refused.inc({ tier: r.name, route: ctx.routeLabel });
    });
    throw new GatewayException(429, 'rate limit exceeded', { 'Retry-After': retryAfter });
  }

  /** Counts one event on `rule` (a failed client authentication), never refusing. */
  async record(rule: AppliedRule, ctx?: RequestContext): Promise<void> {
    const store = this.storeFor(this.settingsFor(ctx));
    try {
      await store.consume([rule]);
    } catch {
      // check() reports outages; a lost failure count is what onStoreError allow accepts.
      this.errors.inc({ store: store.kind });
    }
  }

  onModuleDestroy(): void {
    this.memory.onModuleDestroy();
  }
}

/** The `RateLimit-Policy` value of a check's rules: the same on every call of a route. */
export function policyOf(
  rules: readonly Pick<AppliedRule, 'name' | 'limit' | 'windowSeconds'>[],
): string {
  return rules.map((r) => `"${r.name}";q=${r.limit};w=${r.windowSeconds}`).join(', ');
}

function writeHeaders(
  res: ServerResponse,
  rules: readonly AppliedRule[],
  decisions: readonly WindowDecision[],
  policy = policyOf(rules),
): void {
  let tightest = 0;
  for (let i = 1; i < decisions.length; i++) {
    if (decisions[i].remaining < decisions[tightest].remaining) tightest = i;
  }
  const d = decisions[tightest];
  res.setHeader('X-RateLimit-Limit', rules[tightest].limit);
  res.setHeader('X-RateLimit-Remaining', d.remaining);
  res.setHeader('X-RateLimit-Reset', d.resetSeconds);
  res.setHeader('RateLimit-Policy', policy);
  let state = '';
  for (let i = 0; i < rules.length; i++) {
    const r = decisions[i];
    state += `${i === 0 ? '' : ', '}"${rules[i].name}";r=${r.remaining};t=${r.resetSeconds}`;
  }
  res.setHeader('RateLimit', state);
}
