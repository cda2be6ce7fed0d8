import { Logger } from '@nestjs/common';

import type { CircuitBreakerSettings } from '../../config/config.schema';
import { type BreakerState, ServiceBreaker } from './service-breaker';
import { isNeutralFailure, UpstreamFailure } from './upstream-failure';

const SETTINGS: CircuitBreakerSettings = {
  errorThresholdPercentage: 50,
  rollingWindowMs: 10_000,
  resetTimeoutMs: 3000,
  volumeThreshold: 4,
};

const ok = () => Promise.resolve('ok');
const serverError = () => Promise.reject(new UpstreamFailure('server-error', 'orders', '500'));
const staleSocket = () => Promise.reject(new UpstreamFailure('stale', 'orders', 'ECONNRESET'));
const tooLarge = () => Promise.reject(new UpstreamFailure('body-too-large', 'orders'));

describe('ServiceBreaker', () => {
  let breaker: ServiceBreaker;
  let states: BreakerState[];
  let logged: jest.SpyInstance;

  beforeEach(() => {
    jest.useFakeTimers({ now: 1_700_000_000_000 });
    logged = jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    breaker = new ServiceBreaker('orders', SETTINGS, isNeutralFailure);
    states = [];
    breaker.onStateChange((s) => states.push(s));
  });

  afterEach(() => {
    breaker.close();
    logged.mockRestore();
    jest.useRealTimers();
  });

  /** Runs `action` through the breaker, swallowing its rejection (the test looks at state). */
  async function fire(action: () => Promise<unknown>, times = 1): Promise<void> {
    for (let i = 0; i < times; i++) await breaker.run(action).catch(() => undefined);
  }

  async function open(): Promise<void> {
    await fire(serverError, SETTINGS.volumeThreshold);
    expect(breaker.state).toBe('open');
  }

  describe('closed', () => {
    it('starts closed, passing results and errors through', async () => {
      expect(breaker.state).toBe('closed');
      await expect(breaker.run(ok)).resolves.toBe('ok');
      await expect(breaker.run(serverError)).rejects.toMatchObject({ kind: 'server-error' });
      expect(breaker.state).toBe('closed');
    });

    it('stays closed below volumeThreshold, even at 100% failures', async () => {
      await fire(serverError, SETTINGS.volumeThreshold - 1);
      expect(breaker.state).toBe('closed');
      expect(breaker.errorRate).toBe(1);
    });

    it('stays closed while the error rate is below the threshold', async () => {
      await fire(ok, 3);
      await fire(serverError, 1);
      expect(breaker.errorRate).toBe(0.25);
      expect(breaker.state).toBe('closed');
    });

    it('opens once volumeThreshold calls have an error rate over the threshold', async () => {
      await fire(ok, 1);
      await fire(serverError, 3);
      expect(breaker.state).toBe('open');
      expect(states).toEqual(['open']);
      expect(logged).toHaveBeenCalledWith({
        msg: 'circuit open',
        service: 'orders',
        state: 'open',
      });
    });

    it('counts timeouts and refused connections as failures', async () => {
      await fire(() => Promise.reject(new UpstreamFailure('timeout', 'orders', '100')), 2);
      await fire(() => Promise.reject(new UpstreamFailure('refused', 'orders', 'ECONNREFUSED')), 2);
      expect(breaker.state).toBe('open');
    });

    it('forgets failures older than rollingWindowMs', async () => {
      await fire(serverError, 3);
      jest.advanceTimersByTime(SETTINGS.rollingWindowMs + 1000);
      await fire(serverError, 1);
      expect(breaker.state).toBe('closed');
    });
  });

  describe('neutral errors', () => {
    it('never open the breaker, and still reach the caller', async () => {
      await expect(breaker.run(staleSocket)).rejects.toMatchObject({ kind: 'stale' });
      await fire(staleSocket, 5);
      await fire(tooLarge, 5);
      expect(breaker.state).toBe('closed');
      expect(breaker.errorRate).toBe(0);
    });

    it('count as successes while closed: 4 neutral and 4 failures is 50%, not over it', async () => {
      await fire(staleSocket, 2);
      await fire(tooLarge, 2);
      await fire(serverError, SETTINGS.volumeThreshold);
      expect(breaker.state).toBe('closed');
      await fire(serverError, 1);
      expect(breaker.state).toBe('open');
    });

    it('do not close a half-open breaker: the backend has not answered', async () => {
      await open();
      jest.advanceTimersByTime(SETTINGS.resetTimeoutMs);
      expect(breaker.state).toBe('half-open');
      await fire(tooLarge);
      expect(breaker.state).not.toBe('closed');
    });
  });

  describe('open', () => {
    it('rejects at once with a 503 CircuitOpenError, without running the call', async () => {
      await open();
      const action = jest.fn(ok);
      const err = (await breaker.run(action).catch((e: unknown) => e)) as UpstreamFailure;
      expect(err).toMatchObject({ kind: 'circuit-open' });
      expect(err.getStatus()).toBe(503);
      expect(err.message).toBe('circuit open for service orders');
      expect(err.headers).toEqual({ 'Retry-After': 3 });
      expect(action).not.toHaveBeenCalled();
    });

    it('counts Retry-After down in whole seconds to the half-open probe, never below 1', async () => {
      await open();
      expect(breaker.retryAfterSeconds()).toBe(3);
      jest.advanceTimersByTime(1);
      expect(breaker.retryAfterSeconds()).toBe(3);
      jest.advanceTimersByTime(999);
      expect(breaker.retryAfterSeconds()).toBe(2);
      jest.advanceTimersByTime(1999);
      expect(breaker.retryAfterSeconds()).toBe(1);
      jest.setSystemTime(Date.now() + 60_000);
      expect(breaker.retryAfterSeconds()).toBe(1);
    });

    it('turns half-open after resetTimeoutMs, not before', async () => {
      await open();
      jest.advanceTimersByTime(SETTINGS.resetTimeoutMs - 1);
      expect(breaker.state).toBe('open');
      jest.advanceTimersByTime(1);
      expect(breaker.state).toBe('half-open');
      expect(states).toEqual(['open', 'half-open']);
      expect(logged).toHaveBeenCalledWith({
        msg: 'circuit half-open',
        service: 'orders',
        state: 'half-open',
      });
    });
  });

  describe('half-open', () => {
    beforeEach(async () => {
      await open();
      jest.advanceTimersByTime(SETTINGS.resetTimeoutMs);
    });

    it('lets one probe through; others are refused while it runs', async () => {
      let finish: (v: string) => void = () => undefined;
      const probe = breaker.run(() => new Promise<string>((resolve) => (finish = resolve)));
      const second = jest.fn(ok);
      await expect(breaker.run(second)).rejects.toMatchObject({ kind: 'circuit-open' });
      expect(second).not.toHaveBeenCalled();
      finish('probe ok');
      await expect(probe).resolves.toBe('probe ok');
    });

    it('closes when the probe succeeds', async () => {
      await expect(breaker.run(ok)).resolves.toBe('ok');
      expect(breaker.state).toBe('closed');
      expect(states).toEqual(['open', 'half-open', 'closed']);
      expect(logged).toHaveBeenLastCalledWith({
        msg: 'circuit closed',
        service: 'orders',
        state: 'closed',
      });
      await expect(breaker.run(ok)).resolves.toBe('ok');
    });

    it('re-opens when the probe fails, with a fresh Retry-After', async () => {
      await fire(serverError);
      expect(breaker.state).toBe('open');
      expect(states).toEqual(['open', 'half-open', 'open']);
      expect(breaker.retryAfterSeconds()).toBe(3);
      await expect(breaker.run(ok)).rejects.toMatchObject({ kind: 'circuit-open' });
    });
  });
});
