import { Injectable, type OnModuleDestroy } from '@nestjs/common';

import { LruMap } from '../common/lru-map';
import { describe, fits, roll, type WindowDecision, type WindowRule } from './sliding-window';
import { SlidingWindowStorage } from './sliding-window.storage';

/**
 * One key's window, changed in place on every call. A fresh object per call (the old
 * `{ ...counts, current: current + 1 }`) lived until the key's next call, so with many
 * distinct keys (one per client IP) nearly every one outlived the young generation and was
 * promoted: the old generation filled with dead windows and the heap reached three times its
 * live size between full collections (`npm run bench:soak`: peak RSS 312 MB, live heap 67).
 */
interface Entry {
  index: number;
  previous: number;
  current: number;
  windowMs: number;
}

/** How often expired windows are dropped: one timer for the store, never one per hit. */
const SWEEP_MS = 30_000;

/**
 * The most keys (client IPs or IPv6 prefixes, identities, route rules) the store holds: about
 * 21 MB of heap at some 210 bytes a key (measured). Expiry alone does not bound it: a rule's
 * window may be a day, and one IPv6 /48 holds 65,536 /64 keys.
 */
export const MEMORY_STORE_MAX_ENTRIES = 100_000;

/**
 * One process's counters: O(1) per check, expired keys swept, at most `maxEntries` keys.
 *
 * Past `maxEntries` the least recently used key is evicted (a counted or refused call is a
 * use; a look without counting is not). An evicted key starts again from 0,
 * so eviction only ever errs towards letting calls through, never towards refusing them.
 * Trade-off: a client can get its own window forgotten only by making `maxEntries` other
 * keys newer than its last call, i.e. `maxEntries` calls from as many distinct client keys
 * (addresses, /64s, identities), each of which passed its own full limit anyway; the reset
 * buys it one window's limit back. A limited client that keeps calling keeps its window (a
 * refused call touches it), and an endpoint-wide key stays hot while the endpoint is used.
 * Not chosen: refusing new keys once full (every new client locked out) or not counting
 * them (a free pass to whoever fills the store). Exact counts for any number of clients:
 * `store: redis`.
 */
@Injectable()
export class MemoryWindowStorage extends SlidingWindowStorage implements OnModuleDestroy {
  readonly kind = 'memory';
  private readonly entries: LruMap<string, Entry>;
  private readonly timer: NodeJS.Timeout;
  private evictedCount = 0;

  constructor(
    private readonly clock: () => number = Date.now,
    readonly maxEntries = MEMORY_STORE_MAX_ENTRIES,
  ) {
    super();
    this.entries = new LruMap(maxEntries);
    this.timer = setInterval(() => this.sweep(), SWEEP_MS);
    this.timer.unref();
  }

  get size(): number {
    return this.entries.size;
  }

  /** Keys evicted because the store was full (not those swept once expired). */
  get evicted(): number {
    return this.evictedCount;
  }

  consume(rules: readonly WindowRule[], count = true): Promise<WindowDecision[]> {
    return Promise.resolve(this.consumeNow(rules, count));
  }

  /** consume() without the promise: the memory store answers at once (the proxy guard). */
  consumeNow(rules: readonly WindowRule[], count = true): WindowDecision[] {
    const now = this.clock();
    const stored = rules.map((r) => this.rolled(r, now));
    const rolled = rules.map((r, i) => stored[i] ?? roll(undefined, now, r.windowMs));
    const fitting = rules.every((r, i) => fits(rolled[i], r.limit, now, r.windowMs));
    if (!count) {
      // A look only: nothing stored, not even for a key that is new. A look that refuses
      // marks the full keys as used: a client locked out at a look (the OAuth failure
      // budget) never reaches a counting call, and must not age out of the store through
      // everyone else's traffic and come back with a fresh budget.
      if (!fitting) {
        rules.forEach((r, i) => {
          const e = stored[i];
          if (e) this.entries.set(r.key, e);
        });
      }
      return rules.map((r, i) => describe(rolled[i], r, now, false, fitting));
    }
    const allowed = fitting;
    return rules.map((r, i) => {
      const e = stored[i];
      if (e) {
        if (allowed) e.current += 1;
        this.entries.set(r.key, e); // marks it as used
        return describe(e, r, now, allowed);
      }
      if (!allowed) return describe(rolled[i], r, now, false);
      const fresh: Entry = { ...rolled[i], current: 1, windowMs: r.windowMs };
      if (this.entries.set(r.key, fresh)) this.evictedCount++;
      return describe(fresh, r, now, true);
    });
  }

  /** The key's stored window rolled forward to `now` in place, or undefined for a new key. */
  private rolled(r: WindowRule, now: number): Entry | undefined {
    const e = this.entries.get(r.key);
    if (!e) return undefined;
    const index = Math.floor(now / r.windowMs);
    if (e.index < index - 1) {
      e.previous = 0;
      e.current = 0;
      e.index = index;
    } else if (e.index === index - 1) {
      e.previous = e.current;
      e.current = 0;
      e.index = index;
    }
    e.windowMs = r.windowMs;
    return e;
  }

  /** Drops every key whose counts have aged out completely. */
  sweep(now = this.clock()): void {
    for (const [key, e] of this.entries.entries()) {
      if (e.index < Math.floor(now / e.windowMs) - 1) this.entries.delete(key);
    }
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }
}
