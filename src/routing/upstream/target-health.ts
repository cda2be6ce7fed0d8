import type { HealthCheckSettings } from '../../config/config.schema';

/** Without active checks, a target marked down by a failed connection rests this long. */
export const PASSIVE_DOWN_MS = 10_000;

/**
 * A target's health: active checks move it after `healthyThreshold` successes or
 * `unhealthyThreshold` failures in a row; a refused or reset connection takes it out at
 * once (until the checks bring it back, or for PASSIVE_DOWN_MS without checks).
 */
export class TargetHealth {
  private up = true;
  private downUntil = 0;
  private successes = 0;
  private failures = 0;
  private firstCheckPending = false;
  private readonly listeners: ((up: boolean) => void)[] = [];
  /** Brings a passively downed target back when its rest ends, read or not (metrics). */
  private restTimer: NodeJS.Timeout | undefined;

  constructor(private checks: HealthCheckSettings | undefined) {}

  /** Settings of the current snapshot (a reload may change them). */
  configure(checks: HealthCheckSettings | undefined): void {
    this.checks = checks;
    // Down with no checks left to bring it back: rest it as a passive failure would.
    if (!checks && !this.up && this.downUntil === 0) this.rest();
  }

  get healthy(): boolean {
    if (this.up) return true;
    if (this.downUntil !== 0 && Date.now() >= this.downUntil) this.set(true);
    return this.up;
  }

  onChange(listener: (up: boolean) => void): void {
    this.listeners.push(listener);
  }

  /** A refused or reset connection. */
  markDown(): void {
    this.successes = 0;
    if (this.checks) this.downUntil = 0;
    else this.rest();
    this.set(false);
  }

  private rest(): void {
    this.downUntil = Date.now() + PASSIVE_DOWN_MS;
    if (this.restTimer) clearTimeout(this.restTimer);
    this.restTimer = setTimeout(() => {
      this.restTimer = undefined;
      if (!this.up && this.downUntil !== 0 && Date.now() >= this.downUntil) this.set(true);
    }, PASSIVE_DOWN_MS);
    this.restTimer.unref();
  }

  /**
   * A target DNS just named, on a service with active checks: out until its first check
   * passes (then in at once, whatever healthyThreshold says).
   */
  awaitFirstCheck(): void {
    this.firstCheckPending = true;
    this.downUntil = 0;
    this.up = false;
  }

  recordCheck(ok: boolean): void {
    const c = this.checks;
    if (!c) return;
    if (ok) {
      this.failures = 0;
      this.successes++;
      const enough = this.firstCheckPending || this.successes >= c.healthyThreshold;
      this.firstCheckPending = false;
      if (!this.up && enough) this.set(true);
    } else {
      this.successes = 0;
      this.failures++;
      if (this.up && this.failures >= c.unhealthyThreshold) {
        this.downUntil = 0;
        this.set(false);
      }
    }
  }

  private set(up: boolean): void {
    const changed = this.up !== up;
    this.up = up;
    if (up) {
      this.downUntil = 0;
      if (this.restTimer) clearTimeout(this.restTimer);
      this.restTimer = undefined;
    }
    if (changed) for (const l of this.listeners) l(up);
  }
}
