import { MemoryWindowStorage } from './memory-window.storage';
import type { WindowRule } from './sliding-window';

const W = 60_000;
/** The start of fixed window 1000 of 60 s. */
const START = 1000 * W;

describe('MemoryWindowStorage', () => {
  let now: number;
  let store: MemoryWindowStorage;
  const rule = (key: string, limit: number, windowMs = W): WindowRule => ({
    key,
    limit,
    windowMs,
  });
  /** One rule, `n` calls; the decisions in order. */
  const calls = async (r: WindowRule, n: number) => {
    const out = [];
    for (let i = 0; i < n; i++) out.push((await store.consume([r]))[0]);
    return out;
  };

  beforeEach(() => {
    now = START;
    store = new MemoryWindowStorage(() => now);
  });

  afterEach(() => store.onModuleDestroy());

  describe('consume', () => {
    it('counts a known key in its stored window, rolled in place: no object per call', () => {
      // A new window object per call outlived the young generation when many keys were in
      // use (one per client IP) and filled the old one with garbage (bench:soak).
      const entries = (store as unknown as { entries: { get(k: string): object | undefined } })
        .entries;
      const r = rule('ip', 100);
      store.consumeNow([r]);
      const first = entries.get('ip');
      expect(first).toBeDefined();
      store.consumeNow([r]);
      now += W; // the next window: rolled, still the same object
      store.consumeNow([r]);
      store.consumeNow([r], false);
      expect(entries.get('ip')).toBe(first);
      expect(first).toEqual({ index: 1001, previous: 2, current: 1, windowMs: W });
    });

    it('counts remaining down to 0, then refuses', async () => {
      const r = rule('a', 5);
      const got = await calls(r, 6);
      expect(got.map((d) => d.allowed)).toEqual([true, true, true, true, true, false]);
      expect(got.map((d) => d.remaining)).toEqual([4, 3, 2, 1, 0, 0]);
      expect(got[5]).toEqual({
        allowed: false,
        blocking: true,
        remaining: 0,
        // Five calls at the start of the window stay counted until the end of the next.
        resetSeconds: 120,
        // After the boundary: 5 × (1 − f) + 1 ≤ 5 at f = 0.2, 12 s into the next window.
        retryAfterSeconds: 72,
      });
    });

    it('keeps keys apart', async () => {
      await calls(rule('a', 2), 3);
      const [d] = await store.consume([rule('b', 2)]);
      expect(d).toMatchObject({ allowed: true, remaining: 1 });
    });

    it('does not count refused calls', async () => {
      const r = rule('a', 2);
      await calls(r, 2);
      const refused = await calls(r, 5);
      expect(refused.every((d) => !d.allowed)).toBe(true);
      // Half-way into the next window 2 × 0.5 + 0 + 1 = 2 fits; had the five refused calls
      // been counted (7 in the previous window) it would not.
      now = START + W + W / 2;
      const [d] = await store.consume([r]);
      expect(d).toMatchObject({ allowed: true, remaining: 0 });
    });

    it('does not create an entry for a refused call on a new key', async () => {
      await calls(rule('tier', 1), 1);
      expect(store.size).toBe(1);
      const [, d] = await store.consume([rule('tier', 1), rule('route-new', 5)]);
      expect(d).toMatchObject({ allowed: false, blocking: false, remaining: 5 });
      expect(store.size).toBe(1);
    });

    it('gives the reset and Retry-After of the chosen time', async () => {
      const r = rule('a', 4);
      now = START + 15_000;
      const first = await calls(r, 4);
      // Counted 15 s into the window: aged out 105 s later.
      expect(first.map((d) => d.resetSeconds)).toEqual([105, 105, 105, 105]);
      now = START + 40_500;
      const [refused] = await store.consume([r]);
      // After the boundary 4 × (1 − f) + 1 ≤ 4 at f = 0.25: 19.5 s + 15 s = 34.5 → 35.
      expect(refused).toMatchObject({ allowed: false, resetSeconds: 80, retryAfterSeconds: 35 });
      now = START + W + 15_000 - 1;
      expect((await store.consume([r]))[0].allowed).toBe(false);
      now = START + W + 15_000;
      const [passed] = await store.consume([r]);
      // 4 × 0.75 + 1 = 4: nothing left; the new call ages out at the end of the next window.
      expect(passed).toMatchObject({ allowed: true, remaining: 0, resetSeconds: 105 });
    });

    it('passes again once the window has gone by twice', async () => {
      const r = rule('a', 3);
      await calls(r, 3);
      now = START + 2 * W;
      const [d] = await store.consume([r]);
      expect(d).toMatchObject({ allowed: true, remaining: 2, resetSeconds: 120 });
    });
  });

  describe('several rules in one check', () => {
    it('counts every rule when all allow, and reports each', async () => {
      const got = await store.consume([rule('route', 3), rule('tier', 10)]);
      expect(got).toEqual([
        { allowed: true, blocking: false, remaining: 2, resetSeconds: 120, retryAfterSeconds: 1 },
        { allowed: true, blocking: false, remaining: 9, resetSeconds: 120, retryAfterSeconds: 1 },
      ]);
    });

    it('counts neither rule when one refuses', async () => {
      const route = rule('route', 1);
      const tier = rule('tier', 5);
      await store.consume([route, tier]);
      const refused = await store.consume([route, tier]);
      expect(refused.map((d) => [d.allowed, d.blocking, d.remaining])).toEqual([
        [false, true, 0],
        [false, false, 4],
      ]);
      // The tier has one call counted (the first), not two.
      const [alone] = await store.consume([tier]);
      expect(alone).toMatchObject({ allowed: true, remaining: 3 });
    });

    it('refuses when the second rule is the full one, and does not count the first', async () => {
      const route = rule('route', 5);
      const tier = rule('tier', 2);
      await calls(tier, 2);
      const refused = await store.consume([route, tier]);
      expect(refused.map((d) => [d.allowed, d.blocking])).toEqual([
        [false, false],
        [false, true],
      ]);
      const [alone] = await store.consume([route]);
      expect(alone.remaining).toBe(4);
    });

    it('keeps each rule on its own window length', async () => {
      const short = rule('short', 1, 1000);
      const long = rule('long', 3, W);
      await store.consume([short, long]);
      expect((await store.consume([short, long]))[0].blocking).toBe(true);
      now = START + 2000;
      const got = await store.consume([short, long]);
      expect(got.map((d) => [d.allowed, d.remaining])).toEqual([
        [true, 0],
        [true, 1],
      ]);
    });
  });

  describe('window boundary', () => {
    it('does not let a full window at the end of k and another at the start of k+1 through', async () => {
      const r = rule('a', 10);
      now = START + W - 1;
      const late = await calls(r, 10);
      expect(late.every((d) => d.allowed)).toBe(true);
      now = START + W;
      const early = await calls(r, 10);
      // A fixed window would pass all ten again: 20 calls within 1 ms.
      expect(early.filter((d) => d.allowed)).toHaveLength(0);
      expect(early[0]).toMatchObject({ blocking: true, retryAfterSeconds: 6 });
    });

    it('lets the calls back in as the previous window slides out', async () => {
      const r = rule('a', 10);
      now = START + W - 1;
      await calls(r, 10);
      // Half-way: 10 × 0.5 = 5 counted, 5 more fit.
      now = START + W + W / 2;
      const half = await calls(r, 10);
      expect(half.filter((d) => d.allowed)).toHaveLength(5);
    });
  });

  describe('eviction', () => {
    it('drops every key once two windows have passed', async () => {
      for (let i = 0; i < 100_000; i++) await store.consume([rule(`k${i}`, 5)]);
      expect(store.size).toBe(100_000);
      // One window on, the counts still weigh in the estimate: kept.
      now = START + W;
      store.sweep();
      expect(store.size).toBe(100_000);
      now = START + 2 * W;
      store.sweep();
      expect(store.size).toBe(0);
    });

    it('sweeps on its own timer, and stops once destroyed', async () => {
      jest.useFakeTimers();
      try {
        const timed = new MemoryWindowStorage(() => now);
        const other = new MemoryWindowStorage(() => now);
        await timed.consume([rule('a', 5)]);
        await other.consume([rule('a', 5)]);
        other.onModuleDestroy();
        now = START + 2 * W;
        jest.advanceTimersByTime(30_000);
        expect(timed.size).toBe(0);
        expect(other.size).toBe(1);
        timed.onModuleDestroy();
      } finally {
        jest.useRealTimers();
      }
    });

    it('holds at most maxEntries keys, evicting the least recently used', async () => {
      const small = new MemoryWindowStorage(() => now, 3);
      try {
        for (const k of ['a', 'b', 'c']) await small.consume([rule(k, 5)]);
        // `a` used again: `b` is now the least recently used.
        await small.consume([rule('a', 5)]);
        await small.consume([rule('d', 5)]);
        expect(small.size).toBe(3);
        expect(small.evicted).toBe(1);
        const [a] = await small.consume([rule('a', 5)]);
        expect(a.remaining).toBe(2);
        // `b` was forgotten: it starts again from 0 (eviction errs towards letting through).
        const [b] = await small.consume([rule('b', 5)]);
        expect(b.remaining).toBe(4);
        expect(small.size).toBe(3);
      } finally {
        small.onModuleDestroy();
      }
    });

    it('keeps a limited key that keeps calling while new keys push others out', async () => {
      const small = new MemoryWindowStorage(() => now, 100);
      try {
        const limited = rule('attacker', 2);
        await small.consume([limited]);
        await small.consume([limited]);
        for (let i = 0; i < 10_000; i++) {
          await small.consume([rule(`other-${i}`, 5)]);
          // A refused call touches its key: it never becomes the least recently used.
          if (i % 50 === 0) expect((await small.consume([limited]))[0].allowed).toBe(false);
        }
        expect(small.size).toBe(100);
        expect((await small.consume([limited]))[0].allowed).toBe(false);
      } finally {
        small.onModuleDestroy();
      }
    });

    it('keeps a key locked out at a look (count false, the OAuth failure budget) while others push', async () => {
      const small = new MemoryWindowStorage(() => now, 100);
      try {
        const budget = rule('client_auth:203.0.113.9', 2);
        await small.consume([budget]);
        await small.consume([budget]);
        for (let i = 0; i < 10_000; i++) {
          await small.consume([rule(`other-${i}`, 5)]);
          // Only looks: the locked-out client never reaches a counting call.
          if (i % 50 === 0) expect((await small.consume([budget], false))[0].allowed).toBe(false);
        }
        expect((await small.consume([budget], false))[0].allowed).toBe(false);
      } finally {
        small.onModuleDestroy();
      }
    });

    it('does not evict a key for a call on a key it already holds', async () => {
      const small = new MemoryWindowStorage(() => now, 2);
      try {
        await small.consume([rule('a', 5), rule('b', 5)]);
        for (let i = 0; i < 10; i++) await small.consume([rule('a', 50), rule('b', 50)]);
        expect(small.evicted).toBe(0);
        expect(small.size).toBe(2);
      } finally {
        small.onModuleDestroy();
      }
    });

    it('sweeps per rule window: a short window goes before a long one', async () => {
      await store.consume([rule('short', 5, 1000), rule('long', 5, W)]);
      now = START + 2000;
      store.sweep();
      expect(store.size).toBe(1);
      const [d] = await store.consume([rule('long', 5, W)]);
      expect(d.remaining).toBe(3);
    });
  });
});
