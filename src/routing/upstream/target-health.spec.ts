import type { HealthCheckSettings } from '../../config/config.schema';
import { PASSIVE_DOWN_MS, TargetHealth } from './target-health';

const CHECKS: HealthCheckSettings = {
  path: '/health',
  intervalMs: 100,
  timeoutMs: 50,
  healthyThreshold: 2,
  unhealthyThreshold: 3,
};

/** A TargetHealth and the changes it announced, in order. */
function watched(checks: HealthCheckSettings | undefined) {
  const health = new TargetHealth(checks);
  const changes: boolean[] = [];
  health.onChange((up) => changes.push(up));
  return { health, changes };
}

function record(health: TargetHealth, results: readonly boolean[]): void {
  for (const ok of results) health.recordCheck(ok);
}

describe('TargetHealth', () => {
  beforeEach(() => {
    jest.useFakeTimers({ now: 1_700_000_000_000 });
  });

  afterEach(() => {
    jest.useRealTimers();
  });

  it('starts healthy', () => {
    expect(new TargetHealth(CHECKS).healthy).toBe(true);
    expect(new TargetHealth(undefined).healthy).toBe(true);
  });

  describe('recordCheck', () => {
    it('goes down after unhealthyThreshold failed checks in a row, not before', () => {
      const { health, changes } = watched(CHECKS);
      record(health, [false, false]);
      expect(health.healthy).toBe(true);
      health.recordCheck(false);
      expect(health.healthy).toBe(false);
      expect(changes).toEqual([false]);
    });

    it('starts counting failures again after a success', () => {
      const { health, changes } = watched(CHECKS);
      record(health, [false, false, true, false, false]);
      expect(health.healthy).toBe(true);
      health.recordCheck(false);
      expect(health.healthy).toBe(false);
      expect(changes).toEqual([false]);
    });

    it('comes back after healthyThreshold successful checks in a row, not before', () => {
      const { health, changes } = watched(CHECKS);
      record(health, [false, false, false]);
      health.recordCheck(true);
      expect(health.healthy).toBe(false);
      health.recordCheck(true);
      expect(health.healthy).toBe(true);
      expect(changes).toEqual([false, true]);
    });

    it('starts counting successes again after a failure', () => {
      const { health } = watched(CHECKS);
      record(health, [false, false, false, true, false, true]);
      expect(health.healthy).toBe(false);
      health.recordCheck(true);
      expect(health.healthy).toBe(true);
    });

    it('announces each change once', () => {
      const { health, changes } = watched(CHECKS);
      record(health, [false, false, false, false, false, true, true, true, true]);
      expect(changes).toEqual([false, true]);
    });

    it('is ignored when the service has no health checks', () => {
      const { health, changes } = watched(undefined);
      record(health, [false, false, false, false]);
      expect(health.healthy).toBe(true);
      expect(changes).toEqual([]);
    });

    it('never brings a target back by time alone', () => {
      const { health } = watched(CHECKS);
      record(health, [false, false, false]);
      jest.advanceTimersByTime(PASSIVE_DOWN_MS * 10);
      expect(health.healthy).toBe(false);
    });
  });

  describe('markDown (a refused or reset connection)', () => {
    it('takes the target out at once', () => {
      const { health, changes } = watched(CHECKS);
      health.markDown();
      expect(health.healthy).toBe(false);
      expect(changes).toEqual([false]);
    });

    it('with checks: keeps it out until healthyThreshold successful checks, however long that takes', () => {
      const { health, changes } = watched(CHECKS);
      health.markDown();
      jest.advanceTimersByTime(PASSIVE_DOWN_MS * 10);
      expect(health.healthy).toBe(false);
      health.recordCheck(true);
      expect(health.healthy).toBe(false);
      health.recordCheck(true);
      expect(health.healthy).toBe(true);
      expect(changes).toEqual([false, true]);
    });

    it('with checks: successes recorded before the failure do not count', () => {
      const { health } = watched(CHECKS);
      health.recordCheck(true);
      health.markDown();
      health.recordCheck(true);
      expect(health.healthy).toBe(false);
      health.recordCheck(true);
      expect(health.healthy).toBe(true);
    });

    it('without checks: rests the target for PASSIVE_DOWN_MS, then lets it back', () => {
      const { health, changes } = watched(undefined);
      health.markDown();
      jest.advanceTimersByTime(PASSIVE_DOWN_MS - 1);
      expect(health.healthy).toBe(false);
      jest.advanceTimersByTime(1);
      expect(health.healthy).toBe(true);
      expect(changes).toEqual([false, true]);
    });

    it('without checks: a new failure during the rest starts the rest again', () => {
      const { health } = watched(undefined);
      health.markDown();
      jest.advanceTimersByTime(PASSIVE_DOWN_MS / 2);
      health.markDown();
      jest.advanceTimersByTime(PASSIVE_DOWN_MS / 2);
      expect(health.healthy).toBe(false);
      jest.advanceTimersByTime(PASSIVE_DOWN_MS / 2);
      expect(health.healthy).toBe(true);
    });
  });

  describe('configure (a reload changed the service)', () => {
    it('starts using checks that a reload added', () => {
      const { health } = watched(undefined);
      health.configure(CHECKS);
      record(health, [false, false, false]);
      expect(health.healthy).toBe(false);
    });

    it('stops using checks that a reload removed', () => {
      const { health } = watched(CHECKS);
      health.configure(undefined);
      record(health, [false, false, false]);
      expect(health.healthy).toBe(true);
    });

    it('lets a target that was down when its checks were removed back after PASSIVE_DOWN_MS', () => {
      // Without checks nothing else will ever bring it back: the contract's 10 s rest applies.
      const { health } = watched(CHECKS);
      health.markDown();
      health.configure(undefined);
      jest.advanceTimersByTime(PASSIVE_DOWN_MS);
      expect(health.healthy).toBe(true);
    });
  });
});
