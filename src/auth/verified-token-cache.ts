import { LruMap } from '../common/lru-map';
import type { Identity } from './identity';

interface Entry {
  readonly identity: Identity;
  /** Epoch ms after which the entry is not used. */
  readonly until: number;
}

/** The most tokens the cache holds; past it the oldest entry goes. */
export const VERIFIED_TOKEN_CACHE_MAX_ENTRIES = 10_000;

/**
 * Tokens passport has already verified (signature, issuer, audience, subject), by their
 * exact text, for at most a minute and never past their `exp`: signature checks and
 * claim parsing then run once per token per minute instead of on every call. Expiry,
 * not-before and revocation are still checked on every call (see Authenticator). Bounded;
 * cleared on every config reload (keys, issuer or audience may have changed).
 */
export class VerifiedTokenCache {
  /** Oldest first: a hit is not a use, so the order is the order tokens were verified in. */
  private readonly entries: LruMap<string, Entry>;

  constructor(
    readonly maxEntries = VERIFIED_TOKEN_CACHE_MAX_ENTRIES,
    private readonly ttlMs = 60_000,
  ) {
    this.entries = new LruMap(maxEntries);
  }

  get(token: string, now: number): Identity | undefined {
    const e = this.entries.get(token);
    if (!e) return undefined;
    if (now >= e.until) {
      this.entries.delete(token);
      return undefined;
    }
    return e.identity;
  }

  set(token: string, identity: Identity, now: number): void {
    const exp = identity.token?.exp;
    const until = Math.min(now + this.ttlMs, exp === undefined ? Infinity : exp * 1000);
    if (until <= now) return;
    // Past maxEntries the oldest entry goes.
    this.entries.set(token, { identity, until });
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}
