import { Injectable, type OnModuleDestroy } from '@nestjs/common';

import {
  describe,
  fits,
  roll,
  type WindowCounts,
  type WindowDecision,
  type WindowRule,
} from './sliding-window';
import { SlidingWindowStorage } from './sliding-window.storage';

interface Entry extends WindowCounts {
  readonly windowMs: number;
}

/** How often expired windows are dropped: one timer for the store, never one per hit. */
const SWEEP_MS = 30_000;

/** One process's counters: O(1) per check, expired keys evicted. */
@Injectable()
export class MemoryWindowStorage extends SlidingWindowStorage implements OnModuleDestroy {
  readonly kind = 'memory';
  private readonly entries = new Map<string, Entry>();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly clock: () => number = Date.now) {
    super();
    this.timer = setInterval(() => this.sweep(), SWEEP_MS);
    this.timer.unref();
  }

  get size(): number {
    return this.entries.size;
  }

  consume(rules: readonly WindowRule[], count = true): Promise<WindowDecision[]> {
    const now = this.clock();
    const rolled = rules.map((r) => roll(this.entries.get(r.key), now, r.windowMs));
    const fitting = rules.every((r, i) => fits(rolled[i], r.limit, now, r.windowMs));
    if (!count) {
      // A look only: nothing stored, not even for a key that is new.
      return Promise.resolve(rules.map((r, i) => describe(rolled[i], r, now, false, fitting)));
    }
    const allowed = fitting;
    return Promise.resolve(
      rules.map((r, i) => {
        let c = rolled[i];
        if (allowed) c = { ...c, current: c.current + 1 };
        if (allowed || this.entries.has(r.key))
          this.entries.set(r.key, { ...c, windowMs: r.windowMs });
        return describe(c, r, now, allowed);
      }),
    );
  }

  /** Drops every key whose counts have aged out completely. */
  sweep(now = this.clock()): void {
    for (const [key, e] of this.entries) {
      if (e.index < Math.floor(now / e.windowMs) - 1) this.entries.delete(key);
    }
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }
}
