import {
  describe as describeWindow,
  estimate,
  fits,
  roll,
  type WindowCounts,
} from './sliding-window';

const W = 60_000;
/** The start of fixed window 1000 (any index works: the arithmetic is relative). */
const K = 1000;
const at = (index: number, elapsedMs: number) => index * W + elapsedMs;
const counts = (previous: number, current: number, index = K): WindowCounts => ({
  index,
  previous,
  current,
});

describe('sliding window arithmetic', () => {
  describe('roll', () => {
    it('starts empty counts in the window the time falls in', () => {
      expect(roll(undefined, at(K, 5_000), W)).toEqual({ index: K, previous: 0, current: 0 });
    });

    it('keeps counts of the same window unchanged', () => {
      expect(roll(counts(3, 4), at(K, 59_999), W)).toEqual(counts(3, 4));
    });

    it('moves current to previous in the next window', () => {
      expect(roll(counts(3, 4), at(K + 1, 0), W)).toEqual(counts(4, 0, K + 1));
    });

    it('drops everything two windows or more later', () => {
      expect(roll(counts(3, 4), at(K + 2, 0), W)).toEqual(counts(0, 0, K + 2));
      expect(roll(counts(3, 4), at(K + 9, 1), W)).toEqual(counts(0, 0, K + 9));
    });
  });

  describe('estimate', () => {
    it('weights the previous window by the part of it still inside the sliding window', () => {
      expect(estimate(counts(10, 2), at(K, 0), W)).toBe(12);
      expect(estimate(counts(10, 2), at(K, 15_000), W)).toBe(9.5);
      expect(estimate(counts(10, 2), at(K, 30_000), W)).toBe(7);
      expect(estimate(counts(10, 0), at(K, 59_999), W)).toBeCloseTo(10 / 60_000, 10);
    });
  });

  describe('fits', () => {
    it('allows one more call while estimate + 1 ≤ limit', () => {
      // 10 × 0.75 + 2 = 9.5: 10.5 > 10.
      expect(fits(counts(10, 2), 10, at(K, 15_000), W)).toBe(false);
      // 10 × 0.7 + 2 = 9: exactly 10 fits.
      expect(fits(counts(10, 2), 10, at(K, 18_000), W)).toBe(true);
      expect(fits(counts(0, 4), 5, at(K, 0), W)).toBe(true);
      expect(fits(counts(0, 5), 5, at(K, 59_999), W)).toBe(false);
    });
  });

  describe('describe', () => {
    it('counts remaining down and resets once the counted calls have aged out', () => {
      // A call counted at the very start of a window stays in the estimate for two windows.
      const d = describeWindow(counts(0, 1), { limit: 5, windowMs: W }, at(K, 0), true);
      expect(d).toEqual({
        allowed: true,
        blocking: false,
        remaining: 4,
        resetSeconds: 120,
        retryAfterSeconds: 1,
      });
      const later = describeWindow(counts(0, 3), { limit: 5, windowMs: W }, at(K, 45_500), true);
      expect(later.remaining).toBe(2);
      expect(later.resetSeconds).toBe(75);
    });

    it('rounds remaining down with a decaying previous window', () => {
      // 10 × 0.75 + 2 = 9.5 → 0.5 left → 0.
      const d = describeWindow(counts(10, 2), { limit: 10, windowMs: W }, at(K, 15_000), true);
      expect(d.remaining).toBe(0);
      // Only the previous window's calls are left: they are gone at the end of this one.
      expect(d.resetSeconds).toBe(105);
      const prevOnly = describeWindow(
        counts(4, 0),
        { limit: 10, windowMs: W },
        at(K, 20_000),
        true,
      );
      expect(prevOnly.resetSeconds).toBe(40);
      expect(prevOnly.remaining).toBe(7);
    });

    it('reports zero reset for a rule with nothing counted', () => {
      const d = describeWindow(counts(0, 0), { limit: 3, windowMs: W }, at(K, 10_000), false);
      expect(d).toMatchObject({ blocking: false, remaining: 3, resetSeconds: 0 });
    });

    it('gives Retry-After across the boundary when the current window alone is full', () => {
      // 5 calls in this window, 10 s in: after the boundary 5 × (1 − f) + 1 ≤ 5 at f = 0.2.
      const d = describeWindow(counts(0, 5), { limit: 5, windowMs: W }, at(K, 10_000), false);
      expect(d).toEqual({
        allowed: false,
        blocking: true,
        remaining: 0,
        resetSeconds: 110,
        retryAfterSeconds: 62,
      });
    });

    it('gives Retry-After within the window when the previous window is decaying', () => {
      // 10 × (1 − f) + 2 + 1 ≤ 10 at f = 0.3: 18 s into the window, 3 s from 15 s.
      const d = describeWindow(counts(10, 2), { limit: 10, windowMs: W }, at(K, 15_000), false);
      expect(d).toMatchObject({ blocking: true, remaining: 0, retryAfterSeconds: 3 });
    });

    it('does not round a Retry-After down when the wait is a fraction of a ms past a second', () => {
      // 7 × (1 − f) + 1 ≤ 7 at f = 1/7: 8571.43 ms into the window. From 5571 ms that is
      // 3000.43 ms: three seconds later the call is still refused, so the answer is 4.
      const c = counts(7, 0);
      const now = at(K, 5_571);
      const d = describeWindow(c, { limit: 7, windowMs: W }, now, false);
      expect(fits(c, 7, now + 3_000, W)).toBe(false);
      expect(fits(c, 7, now + 4_000, W)).toBe(true);
      expect(d.retryAfterSeconds).toBe(4);
    });

    it('never gives a Retry-After below 1', () => {
      const d = describeWindow(counts(10, 2), { limit: 10, windowMs: W }, at(K, 17_999), false);
      expect(d.blocking).toBe(true);
      expect(d.retryAfterSeconds).toBe(1);
    });

    it('marks only the refusing rule as blocking when another one refused the call', () => {
      const d = describeWindow(counts(0, 1), { limit: 5, windowMs: W }, at(K, 0), false);
      expect(d).toMatchObject({ allowed: false, blocking: false, remaining: 4 });
    });

    it('gives a Retry-After after which one more call fits, and before which none does', () => {
      // Many states and times: waiting Retry-After seconds is enough, one second less is not.
      const limit = 7;
      for (let previous = 0; previous <= 14; previous++) {
        for (let current = 0; current <= limit; current++) {
          for (let elapsed = 0; elapsed < W; elapsed += 3_217) {
            const c = counts(previous, current);
            const now = at(K, elapsed);
            if (fits(c, limit, now, W)) continue;
            const d = describeWindow(c, { limit, windowMs: W }, now, false);
            expect(d.blocking).toBe(true);
            const then = now + d.retryAfterSeconds * 1000;
            const ok = fits(roll(c, then, W), limit, then, W);
            if (!ok) throw new Error(`p=${previous} c=${current} e=${elapsed}: still refused`);
            if (d.retryAfterSeconds > 1) {
              const before = now + (d.retryAfterSeconds - 1) * 1000;
              const early = fits(roll(c, before, W), limit, before, W);
              if (early) throw new Error(`p=${previous} c=${current} e=${elapsed}: too long`);
            }
          }
        }
      }
    });

    it('gives a Reset after which the estimate is zero, and before which it is not', () => {
      for (let previous = 0; previous <= 6; previous++) {
        for (let current = 0; current <= 6; current++) {
          for (let elapsed = 0; elapsed < W; elapsed += 4_999) {
            const c = counts(previous, current);
            const now = at(K, elapsed);
            const d = describeWindow(c, { limit: 100, windowMs: W }, now, true);
            const then = now + d.resetSeconds * 1000;
            expect(estimate(roll(c, then, W), then, W)).toBe(0);
            if (d.resetSeconds > 0) {
              const before = now + (d.resetSeconds - 1) * 1000;
              expect(estimate(roll(c, before, W), before, W)).toBeGreaterThan(0);
            }
          }
        }
      }
    });
  });
});
