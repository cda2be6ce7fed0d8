// Helpers for the rate-limit e2e specs: calls with the limit headers pulled out, counter
// deltas from prom-client's default registry, waits on the sliding-window clock, and a
// throw-away redis-server a spec can kill and restart.
import { type ChildProcess, spawn } from 'node:child_process';
import type { IncomingHttpHeaders } from 'node:http';
import { createServer } from 'node:net';

import type Redis from 'ioredis';
import { register } from 'prom-client';

import { rawRequest } from './raw-http';
import type { TestGateway } from './test-gateway';

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  requestId: string;
  /** Milliseconds from sending to the end of the body. */
  ms: number;
  /** Date.now() just before sending and just after the answer. */
  sentAt: number;
  doneAt: number;
}

export async function call(
  gw: Pick<TestGateway, 'port'>,
  path: string,
  headers: Record<string, string> = {},
  method = 'GET',
  body?: string,
): Promise<Reply> {
  const sentAt = Date.now();
  const r = await rawRequest({ port: gw.port, path, headers, method, body });
  return {
    status: r.status,
    headers: r.headers,
    body: r.body.toString('utf8'),
    requestId: String(r.headers['x-request-id']),
    ms: r.ms,
    sentAt,
    doneAt: Date.now(),
  };
}

/** POST /oauth/token with a form body. */
export function tokenCall(
  gw: Pick<TestGateway, 'port'>,
  form: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<Reply> {
  return call(
    gw,
    '/oauth/token',
    { 'Content-Type': 'application/x-www-form-urlencoded', ...headers },
    'POST',
    new URLSearchParams(form).toString(),
  );
}

/** The five limit fields as sent (undefined when absent). */
export function limitHeaders(r: Reply) {
  const h = r.headers;
  return {
    limit: h['x-ratelimit-limit'],
    remaining: h['x-ratelimit-remaining'],
    reset: h['x-ratelimit-reset'],
    policy: h['ratelimit-policy'],
    rateLimit: h['ratelimit'],
  };
}

/** Every header whose name starts with x-ratelimit or ratelimit. */
export function anyLimitHeader(r: Reply): string[] {
  return Object.keys(r.headers).filter((k) => /^(x-ratelimit|ratelimit)/.test(k));
}

/** The contract's JSON error body, whole. */
export function expectGatewayError(r: Reply, status: number, error: string, message?: string) {
  expect(r.status).toBe(status);
  expect(r.headers['content-type']).toMatch(/^application\/json\b/);
  const body = JSON.parse(r.body) as Record<string, unknown>;
  expect(Object.keys(body).sort()).toEqual(['error', 'message', 'requestId', 'statusCode']);
  expect(body).toMatchObject({ statusCode: status, error, requestId: r.requestId });
  expect(typeof body.message).toBe('string');
  if (message !== undefined) expect(body.message).toBe(message);
}

/**
 * The whole seconds the sliding window gives for a call made between `sentAt` and
 * `doneAt`, as the set of values possible over that interval (one or two numbers).
 * `msLeft(elapsed)` is the model's milliseconds for `elapsed` ms into the window.
 */
export function secondsBetween(
  r: Pick<Reply, 'sentAt' | 'doneAt'>,
  windowMs: number,
  msLeft: (elapsed: number) => number,
): number[] {
  const a = Math.ceil(msLeft(r.sentAt % windowMs) / 1000);
  const b = Math.ceil(msLeft(r.doneAt % windowMs) / 1000);
  return [...new Set([a, b])].sort((x, y) => x - y);
}

/** Reset after a counted call in a fresh window: its calls age out at the end of the next. */
export const resetAfterCount = (r: Pick<Reply, 'sentAt' | 'doneAt'>, windowMs: number) =>
  secondsBetween(r, windowMs, (e) => 2 * windowMs - e);

/**
 * Retry-After for `limit` calls in the current window and none in the previous: once the
 * window has turned, limit × (1 − f) + 1 ≤ limit at f = 1/limit.
 */
export const retryAfterFull = (
  r: Pick<Reply, 'sentAt' | 'doneAt'>,
  windowMs: number,
  limit: number,
) => secondsBetween(r, windowMs, (e) => windowMs - e + windowMs / limit);

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Waits until `from ≤ Date.now() mod windowMs < to` (for window-boundary tests only). */
export async function waitForPhase(windowMs: number, from: number, to: number): Promise<void> {
  for (;;) {
    const phase = Date.now() % windowMs;
    if (phase >= from && phase < to) return;
    const wait = phase < from ? from - phase : windowMs - phase + from;
    await sleep(Math.max(1, wait));
  }
}

/**
 * Makes sure the next `spanMs` do not cross a window boundary, so a test's expected
 * numbers hold for one window (waits only when the boundary is that close).
 */
export async function clearOfBoundary(windowMs: number, spanMs: number): Promise<void> {
  if (Date.now() % windowMs < windowMs - spanMs) return;
  await waitForPhase(windowMs, 0, windowMs - spanMs);
}

/** The value of one labelled series of a counter in the default registry (0 if absent). */
export async function counterValue(name: string, labels: Record<string, string>): Promise<number> {
  const metric = register.getSingleMetric(name);
  if (!metric) return 0;
  const data = await metric.get();
  const keys = Object.keys(labels);
  const found = data.values.find(
    (v) =>
      Object.keys(v.labels).length === keys.length &&
      keys.every((k) => String(v.labels[k]) === labels[k]),
  );
  return found?.value ?? 0;
}

/** Sum of a counter's series whose labels include `labels`. */
export async function counterSum(name: string, labels: Record<string, string>): Promise<number> {
  const metric = register.getSingleMetric(name);
  if (!metric) return 0;
  const data = await metric.get();
  return data.values
    .filter((v) => Object.entries(labels).every(([k, x]) => String(v.labels[k]) === x))
    .reduce((n, v) => n + v.value, 0);
}

/** Log lines of a gateway with this `msg`. */
export function logLines(gw: TestGateway, msg: string): Record<string, unknown>[] {
  return gw.logs.filter((l) => l.msg === msg);
}

/** A unique key prefix per test, so parallel runs and leftovers never collide. */
export function uniquePrefix(): string {
  return `t-${process.pid}-${Math.random().toString(36).slice(2, 10)}:`;
}

/** Every key under `prefix` (SCAN, never KEYS on a shared server). */
export async function keysUnder(redis: Redis, prefix: string): Promise<string[]> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    out.push(...batch);
  } while (cursor !== '0');
  return out.sort();
}

export async function deleteUnder(redis: Redis, prefix: string): Promise<void> {
  const keys = await keysUnder(redis, prefix);
  if (keys.length > 0) await redis.del(...keys);
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** A redis-server of the test's own (no persistence), on a port it keeps across restarts. */
export class RedisProcess {
  private child: ChildProcess | undefined;

  private constructor(readonly port: number) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async start(): Promise<RedisProcess> {
    const p = new RedisProcess(await freePort());
    await p.start();
    return p;
  }

  /** Starts redis-server; resolves once it logs that it accepts connections. */
  start(): Promise<void> {
    if (this.child) throw new Error('redis-server already running');
    const child = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.child = child;
    return new Promise<void>((resolve, reject) => {
      let out = '';
      const onData = (d: Buffer) => {
        out += d.toString();
        if (/ready to accept connections/i.test(out)) {
          child.stdout?.off('data', onData);
          child.stdout?.resume();
          resolve();
        }
      };
      child.stdout?.on('data', onData);
      child.stderr?.resume();
      child.once('exit', (code) => {
        if (this.child === child) this.child = undefined;
        reject(new Error(`redis-server exited (${code}) before it was ready:\n${out}`));
      });
      child.once('error', reject);
    });
  }

  /** SIGSTOP: connections stay open but nothing answers (a hung or overloaded server). */
  pause(): void {
    this.child?.kill('SIGSTOP');
  }

  resume(): void {
    this.child?.kill('SIGCONT');
  }

  /** SIGKILL: the connection drops the way a crashed or unplugged server's does. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    if (child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  }
}
