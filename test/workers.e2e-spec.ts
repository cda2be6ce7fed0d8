// GATEWAY_WORKERS (contract: Scale) on the real process: `node dist/src/main.js` with two
// workers behind one port, real backends, real Redis, real signals.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

import { startBackend, type TestBackend } from './support/backend';
import { buildDist, ROOT } from './support/build';
import { waitUntil } from './support/poll';
import { parseExposition, type Sample } from './support/prom-text';
import { call, startTrickleBackend, type TrickleBackend } from './support/resilience-kit';
import { writeConfigDir } from './support/test-gateway';

const MAIN = join(ROOT, 'dist/src/main.js');
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const ADMIN = { 'X-API-Key': 'ops-key-0123456789abcdef' };
const PIECES = Array.from({ length: 8 }, (_, i) => `piece-${i};`);

type Log = Record<string, unknown>;

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

interface Started {
  proc: ChildProcess;
  logs: Log[];
  stderr: string[];
  exited: Promise<Exit>;
}

function spawnGateway(env: Record<string, string>): Started {
  const proc = spawn(process.execPath, [MAIN], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Log[] = [];
  const stderr: string[] = [];
  createInterface({ input: proc.stdout }).on('line', (line) => {
    try {
      logs.push(JSON.parse(line) as Log);
    } catch {
      logs.push({ msg: line });
    }
  });
  createInterface({ input: proc.stderr }).on('line', (line) => stderr.push(line));
  const exited = new Promise<Exit>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { proc, logs, stderr, exited };
}

function service(name: string, url: string, extra = ''): string {
  return `name: ${name}\ntargets: [{ url: "${url}" }]\nroutes:\n  - path: /api/${name}/*\n    auth: none\n${extra}`;
}

function sample(samples: readonly Sample[], name: string, labels: Record<string, string> = {}) {
  return samples.find(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
}

/** A fresh connection per call: node:cluster hands connections to the workers in turn. */
const fresh = (port: number, path: string, o: Parameters<typeof call>[2] = {}) =>
  call(port, path, { agent: false, ...o });

describe('GATEWAY_WORKERS=2 (node dist/src/main.js)', () => {
  let backend: TestBackend;
  let slow: TrickleBackend;
  let dir: string;
  let g: Started;
  let port = 0;
  const listening = (worker?: number) =>
    g.logs.filter(
      (l) => l.msg === 'gateway listening' && (worker === undefined || l.worker === worker),
    );

  beforeAll(async () => {
    buildDist();
    backend = await startBackend();
    slow = await startTrickleBackend(PIECES, 150);
    dir = writeConfigDir({
      gateway: [
        'server:\n  shutdownTimeoutMs: 10000',
        'auth:\n  jwt:\n    secret: "0123456789abcdef0123456789abcdef"',
        `  apiKeys:\n    keys:\n      - { name: ops, key: "${ADMIN['X-API-Key']}", roles: [admin] }`,
        `rateLimit:\n  store: redis\n  redisKeyPrefix: "gw-workers-${randomBytes(4).toString('hex')}:"`,
        '',
      ].join('\n'),
      services: {
        echo: service('echo', backend.url),
        limited: service(
          'limited',
          backend.url,
          '    rateLimit: { limit: 5, windowSeconds: 60, scope: endpoint }\n',
        ),
        slow: service('slow', slow.url),
      },
    });
    g = spawnGateway({ GATEWAY_WORKERS: '2', PORT: '0', GATEWAY_CONFIG_DIR: dir, REDIS_URL });
    await waitUntil(
      () => g.logs.some((l) => l.msg === 'all workers listening') && listening().length === 2,
      30_000,
      'the primary saw both workers listening',
    );
    const ports = new Set(listening().map((l) => l.port));
    expect(ports.size).toBe(1);
    port = [...ports][0] as number;
  }, 60_000);

  afterAll(async () => {
    if (g?.proc.exitCode === null && g.proc.signalCode === null) {
      g.proc.kill('SIGKILL');
      await g.exited;
    }
    await backend?.close();
    await slow?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('starts one primary (no Nest) and two workers that share the port and log their id', () => {
    const primary = g.logs.find((l) => l.msg === 'primary starting workers');
    expect(primary).toMatchObject({ workers: 2, pid: g.proc.pid });
    expect(primary).not.toHaveProperty('worker');
    expect(g.logs.filter((l) => l.pid === g.proc.pid && l.context === 'NestFactory')).toEqual([]);
    const workers = listening();
    expect(workers.map((l) => l.worker).sort()).toEqual([1, 2]);
    expect(new Set(workers.map((l) => l.pid)).size).toBe(2);
    expect(workers.every((l) => l.pid !== g.proc.pid)).toBe(true);
  });

  it('serves calls on both workers; the admin endpoints say which worker answered', async () => {
    // Connections go to the workers in turn: consecutive calls alternate.
    const seen = new Set<unknown>();
    const headers = new Set<unknown>();
    for (let i = 0; i < 4; i++) {
      const r = await fresh(port, '/api/gateway/status');
      expect(r.status).toBe(200);
      seen.add((JSON.parse(r.body) as { worker: number }).worker);
    }
    for (let i = 0; i < 4; i++) {
      const routes = await fresh(port, '/api/gateway/routes', { headers: ADMIN });
      expect(routes.status).toBe(200);
      headers.add(routes.headers['x-gateway-worker']);
    }
    expect([...headers].sort()).toEqual(['1', '2']);
    expect([...seen].sort()).toEqual([1, 2]);

    const before = backend.received.length;
    const replies = await Promise.all(
      Array.from({ length: 20 }, (_, i) => fresh(port, `/api/echo/n${i}`)),
    );
    expect(replies.map((r) => r.status)).toEqual(Array(20).fill(200));
    expect(backend.received.length - before).toBe(20);
    expect(new Set(backend.received.slice(before).map((r) => r.url)).size).toBe(20);
  });

  it('answers /metrics on any worker for all of them: counters summed, target_up the minimum', async () => {
    for (let i = 0; i < 4; i++) {
      const r = await fresh(port, '/metrics');
      expect(r.status).toBe(200);
      expect(r.headers['content-type']).toMatch(/^text\/plain;.*version=0\.0\.4/);
      const { samples, types } = parseExposition(r.body);
      const echo = { route: '/api/echo/*', service: 'echo', status: '200' };
      // 20 calls split over two workers: a worker's own registry would say about 10.
      expect(sample(samples, 'gateway_requests_total', echo)?.value).toBe(20);
      expect(
        sample(samples, 'gateway_request_duration_seconds_count', { route: '/api/echo/*' })?.value,
      ).toBe(20);
      expect(sample(samples, 'gateway_upstream_target_up', { service: 'echo' })?.value).toBe(1);
      expect(sample(samples, 'gateway_circuit_breaker_state', { service: 'echo' })?.value).toBe(0);
      expect(sample(samples, 'gateway_worker_restarts_total')?.value).toBe(0);
      expect(types.get('gateway_worker_restarts_total')).toBe('counter');
      // Each worker applied its start-up config once: no reloads yet, on either.
      expect(sample(samples, 'gateway_config_reloads_total', { result: 'applied' })?.value).toBe(0);
    }
  });

  it('answers a burst of concurrent scrapes, every one with the same sums', async () => {
    const replies = await Promise.all(Array.from({ length: 40 }, () => fresh(port, '/metrics')));
    expect(replies.map((r) => r.status)).toEqual(Array(40).fill(200));
    const counts = replies.map(
      (r) =>
        sample(parseExposition(r.body).samples, 'gateway_requests_total', {
          route: '/api/echo/*',
          status: '200',
        })?.value,
    );
    expect(new Set(counts)).toEqual(new Set([20]));
  });

  it('keeps one rate limit across both workers through Redis', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push((await fresh(port, '/api/limited/x')).status);
    // Memory stores, one per worker, would have let 10 through.
    expect(statuses.filter((s) => s === 200)).toHaveLength(5);
    expect(statuses.filter((s) => s === 429)).toHaveLength(7);
    expect(statuses.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
  });

  it('reloads every worker from POST /api/gateway/reload on any one (200 only when all applied)', async () => {
    writeFileSync(join(dir, 'services', 'added.yaml'), service('added', backend.url));
    const r = await fresh(port, '/api/gateway/reload', { method: 'POST', headers: ADMIN });
    expect(r.status).toBe(200);
    const body = JSON.parse(r.body) as { revision: string; changed: string[] };
    expect(body.changed).toEqual(['services/added.yaml']);
    const served = await Promise.all(Array.from({ length: 6 }, () => fresh(port, '/api/added/y')));
    expect(served.map((s) => s.status)).toEqual(Array(6).fill(200));
    const revisions = new Set<string>();
    const workers = new Set<number>();
    for (let i = 0; i < 6; i++) {
      const s = JSON.parse((await fresh(port, '/api/gateway/status')).body) as {
        worker: number;
        config: { revision: string };
      };
      revisions.add(s.config.revision);
      workers.add(s.worker);
    }
    expect([...workers].sort()).toEqual([1, 2]);
    expect([...revisions]).toEqual([body.revision]);

    writeFileSync(join(dir, 'services', 'broken.yaml'), 'name: broken\ntargets: nope\n');
    const bad = await fresh(port, '/api/gateway/reload', { method: 'POST', headers: ADMIN });
    expect(bad.status).toBe(422);
    const problems = (JSON.parse(bad.body) as { problems: string[] }).problems;
    expect(problems.length).toBeGreaterThan(0);
    expect(problems.every((p) => p.startsWith('services/broken.yaml: '))).toBe(true);
    unlinkSync(join(dir, 'services', 'broken.yaml'));
    const metrics = parseExposition((await fresh(port, '/metrics')).body).samples;
    // One reload applied and one rejected, by each of the two workers.
    expect(sample(metrics, 'gateway_config_reloads_total', { result: 'applied' })?.value).toBe(2);
    expect(sample(metrics, 'gateway_config_reloads_total', { result: 'rejected' })?.value).toBe(2);
  });

  it('relays SIGHUP from the primary to every worker', async () => {
    writeFileSync(join(dir, 'services', 'hup.yaml'), service('hup', backend.url));
    const from = g.logs.length;
    expect(g.proc.kill('SIGHUP')).toBe(true);
    await waitUntil(
      () => g.logs.slice(from).filter((l) => l.msg === 'config reloaded').length === 2,
      10_000,
      'both workers reloaded',
    );
    const reloaded = g.logs.slice(from).filter((l) => l.msg === 'config reloaded');
    expect(reloaded.map((l) => l.worker).sort()).toEqual([1, 2]);
    expect(reloaded.every((l) => (l.changed as string[]).includes('services/hup.yaml'))).toBe(true);
    const served = await Promise.all(Array.from({ length: 4 }, () => fresh(port, '/api/hup/z')));
    expect(served.map((s) => s.status)).toEqual([200, 200, 200, 200]);
  });

  it('replaces a worker that dies, logs and counts it, and keeps serving', async () => {
    const victim = listening(1)[0];
    const from = g.logs.length;
    process.kill(victim.pid as number, 'SIGKILL');
    await waitUntil(
      () => g.logs.slice(from).some((l) => l.msg === 'gateway listening' && l.worker === 3),
      30_000,
      'worker 3 replaced worker 1',
    );
    const died = g.logs.slice(from).find((l) => l.msg === 'worker died; replacing it');
    expect(died).toMatchObject({ worker: 1, pid: victim.pid, signal: 'SIGKILL', level: 50 });
    // It had lived more than QUICK_DEATH_MS? Then at once; else the first back-off step (1 s).
    expect([0, 1000]).toContain(died?.restartInMs);
    const seen = new Set<number>();
    for (let i = 0; i < 6; i++) {
      const r = await fresh(port, '/api/gateway/status');
      expect(r.status).toBe(200);
      seen.add((JSON.parse(r.body) as { worker: number }).worker);
    }
    expect([...seen].sort()).toEqual([2, 3]);
    const metrics = parseExposition((await fresh(port, '/metrics')).body).samples;
    expect(sample(metrics, 'gateway_worker_restarts_total')?.value).toBe(1);
    // Worker 1's counts stay in the sums: a drop would read as a counter reset (a false
    // rate spike). Its share of the 20 echo calls was last seen by the earlier scrapes.
    expect(
      sample(metrics, 'gateway_requests_total', { route: '/api/echo/*', status: '200' })?.value,
    ).toBe(20);
    expect((await fresh(port, '/api/echo/after')).status).toBe(200);
  });

  it('drains both workers on SIGTERM to the primary, then the primary exits 0', async () => {
    const calls = Array.from({ length: 4 }, () => fresh(port, '/api/slow/download'));
    for (const c of calls) c.catch(() => undefined);
    await waitUntil(() => slow.hits === 4, 5000, 'four slow calls reached the backend');
    const from = g.logs.length;
    expect(g.proc.kill('SIGTERM')).toBe(true);
    const replies = await Promise.all(calls);
    for (const r of replies) {
      expect(r.status).toBe(200);
      expect(r.body).toBe(PIECES.join(''));
    }
    const exit = await g.exited;
    expect(exit).toEqual({ code: 0, signal: null });
    const after = g.logs.slice(from);
    const draining = after.filter((l) => l.msg === 'draining');
    expect(draining.map((l) => l.worker).sort()).toEqual([2, 3]);
    // Connections went to the workers in turn: each had calls in flight when told to stop.
    expect(draining.every((l) => (l.inFlight as number) >= 1)).toBe(true);
    expect(after.filter((l) => l.msg === 'gateway stopped')).toHaveLength(2);
    expect(after.some((l) => l.msg === 'all workers stopped' && l.pid === g.proc.pid)).toBe(true);
  }, 30_000);
});

describe('GATEWAY_WORKERS start-up errors', () => {
  let dir: string;

  beforeAll(() => {
    dir = writeConfigDir({
      gateway: 'auth:\n  jwt:\n    secret: "0123456789abcdef0123456789abcdef"\n',
      services: {},
    });
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses the memory rate-limit store with two workers in one line, before forking', async () => {
    const g = spawnGateway({ GATEWAY_WORKERS: '2', PORT: '0', GATEWAY_CONFIG_DIR: dir });
    expect(await g.exited).toEqual({ code: 1, signal: null });
    expect(g.stderr).toEqual([
      'gateway.yaml: rateLimit.store: memory with GATEWAY_WORKERS=2: each worker would count on its own (limits would not be exact); use store redis with REDIS_URL, or one worker',
    ]);
    expect(g.logs).toEqual([]);
  });

  it('refuses a GATEWAY_WORKERS that is not a count in one line', async () => {
    const g = spawnGateway({ GATEWAY_WORKERS: 'lots', PORT: '0', GATEWAY_CONFIG_DIR: dir });
    expect(await g.exited).toEqual({ code: 1, signal: null });
    expect(g.stderr).toEqual([
      'environment: GATEWAY_WORKERS: must be a whole number from 1 to 64, or auto',
    ]);
  });

  it('stops (exit 1) instead of looping when the workers cannot start', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const busy = (taken.address() as { port: number }).port;
    try {
      writeFileSync(
        join(dir, 'gateway.yaml'),
        'auth:\n  jwt:\n    secret: "0123456789abcdef0123456789abcdef"\nrateLimit:\n  enabled: false\n',
      );
      const g = spawnGateway({ GATEWAY_WORKERS: '2', PORT: String(busy), GATEWAY_CONFIG_DIR: dir });
      expect(await g.exited).toEqual({ code: 1, signal: null });
      expect(g.logs.some((l) => l.msg === 'a worker failed to start; stopping')).toBe(true);
      expect(g.logs.some((l) => l.msg === 'worker died; replacing it')).toBe(false);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  }, 30_000);
});
