import type { Identity } from './identity';

interface Entry {
  readonly identity: Identity;
  /** Epoch ms after which the entry is not used. */
  readonly until: number;
}

/**
 * Tokens passport has already verified (signature, issuer, audience, subject), by their
 * exact text, for at most a minute and never past their `exp`: signature checks and
 * claim parsing then run once per token per minute instead of on every call. Expiry,
 * not-before and revocation are still checked on every call (see Authenticator). Bounded;
 * cleared on every config reload (keys, issuer or audience may have changed).
 */
export class VerifiedTokenCache {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly maxEntries = 10_000,
    private readonly ttlMs = 60_000,
  ) {}

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
    if (this.entries.size >= this.maxEntries) {
      // Oldest first: a Map iterates in insertion order.
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(token, { identity, until });
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}
