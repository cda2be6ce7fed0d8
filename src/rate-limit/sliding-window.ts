// The two-window weighted counter, shared by both stores so they give the same answers.
// A rule's window of W ms is split into fixed windows; the calls in the trailing W are
// estimated as prev × (1 − f) + curr, where f is how far into the current window we are.

export interface WindowRule {
  /** Storage key (already prefixed). */
  readonly key: string;
  readonly limit: number;
  readonly windowMs: number;
}

/** Counters of one rule as stored: the fixed window they belong to and its two counts. */
export interface WindowCounts {
  readonly index: number;
  readonly previous: number;
  readonly current: number;
}

export interface WindowDecision {
  /** Whether the call passed (every rule of the check allowed it). */
  readonly allowed: boolean;
  /** Whether this rule is one that refused the call. */
  readonly blocking: boolean;
  /** Calls that would still pass under this rule (0 for a refusing rule). */
  readonly remaining: number;
  /** Whole seconds until `remaining` would equal `limit` again. */
  readonly resetSeconds: number;
  /** Whole seconds until one more call would pass (≥ 1); meaningful when refused. */
  readonly retryAfterSeconds: number;
}

/** Rolls stored counts forward to the window `now` falls in. */
export function roll(
  stored: WindowCounts | undefined,
  now: number,
  windowMs: number,
): WindowCounts {
  const index = Math.floor(now / windowMs);
  if (!stored || stored.index < index - 1) return { index, previous: 0, current: 0 };
  if (stored.index === index - 1) return { index, previous: stored.current, current: 0 };
  return stored;
}

export function estimate(c: WindowCounts, now: number, windowMs: number): number {
  const f = (now - c.index * windowMs) / windowMs;
  return c.previous * (1 - f) + c.current;
}

/**
 * Slack for floating point (1 − 2/3 is not exactly 1/3): the same value in the Redis
 * script, so both stores decide alike.
 */
export const EPSILON = 1e-9;

/** Whether one more call fits. */
export function fits(c: WindowCounts, limit: number, now: number, windowMs: number): boolean {
  return estimate(c, now, windowMs) + 1 <= limit + EPSILON;
}

/**
 * The headers' numbers. `c` already counts this call when `allowed` (all rules passed);
 * otherwise it is the state the call was refused against.
 */
export function describe(
  c: WindowCounts,
  rule: Pick<WindowRule, 'limit' | 'windowMs'>,
  now: number,
  allowed: boolean,
  /** A look without counting (`consume(rules, false)`): whether one more would fit. */
  wouldFit?: boolean,
): WindowDecision {
  if (wouldFit !== undefined) {
    return { ...describe(c, rule, now, false), allowed: wouldFit };
  }
  const w = rule.windowMs;
  const elapsed = now - c.index * w;
  const est = estimate(c, now, w);
  const blocking = !allowed && est + 1 > rule.limit + EPSILON;
  const remaining = blocking ? 0 : Math.max(0, Math.floor(rule.limit - est + EPSILON));
  // The estimate is 0 once this window's calls have aged out of the next one.
  const resetMs = c.current > 0 ? 2 * w - elapsed : c.previous > 0 ? w - elapsed : 0;
  return {
    allowed,
    blocking,
    remaining,
    resetSeconds: wholeSeconds(resetMs),
    retryAfterSeconds: Math.max(1, wholeSeconds(retryAfterMs(c, rule.limit, w, elapsed))),
  };
}

/** Up: never short. A microsecond of slack so float noise cannot add a whole second. */
function wholeSeconds(ms: number): number {
  return Math.max(0, Math.ceil(ms / 1000 - 1e-6));
}

function retryAfterMs(c: WindowCounts, limit: number, w: number, elapsed: number): number {
  // Within this window: previous × (1 − f) + current + 1 ≤ limit.
  if (c.current + 1 <= limit) {
    if (c.previous === 0) return 0;
    const f = 1 - (limit - 1 - c.current) / c.previous;
    return Math.max(0, f * w - elapsed);
  }
  // Only after the boundary, when this window's calls become the decaying previous ones.
  const f = c.current === 0 ? 0 : Math.max(0, 1 - (limit - 1) / c.current);
  return w - elapsed + f * w;
}
