// GATEWAY_WORKERS > 1: the primary. It serves nothing itself: it forks the workers (they
// share the listeners through node:cluster), relays SIGHUP and SIGTERM to every one, sums
// their metrics for whichever worker was asked for /metrics, fans a reload out to all of
// them, and replaces a worker that dies (with a growing delay when it keeps dying). It
// never loads Nest: a small process beside the workers.
import cluster, { type Worker } from 'node:cluster';

import type { Logger as Pino } from 'pino';
import { AggregatorRegistry, Counter, Registry } from 'prom-client';

import { type GatewayMessage, isGatewayMessage, type WorkerReload } from './cluster/worker-channel';
import { WORKER_RESTARTS } from './metrics/metric-names';

/** A worker that lived shorter than this before dying counts as "keeps dying". */
export const QUICK_DEATH_MS = 10_000;
/** The longest wait before a worker that keeps dying is replaced. */
export const MAX_RESTART_DELAY_MS = 30_000;
const METRICS_TIMEOUT_MS = 5000;
const RELOAD_TIMEOUT_MS = 30_000;

/** The delay before the next replacement, after `quickDeaths` short-lived workers in a row. */
export function restartDelayMs(quickDeaths: number): number {
  if (quickDeaths <= 0) return 0;
  return Math.min(MAX_RESTART_DELAY_MS, 1000 * 2 ** (quickDeaths - 1));
}

export interface PrimaryOptions {
  readonly workers: number;
  readonly logger: Pino;
  /** server.shutdownTimeoutMs at start: how long workers get to drain before SIGKILL. */
  readonly shutdownTimeoutMs: number;
}

/** One metric of `Registry#getMetricsAsJSON()` as it crosses the IPC channel. */
type MetricJson = { type: string } & object;

interface Slot {
  readonly startedAt: number;
  ready: boolean;
}

/** Forks the workers and supervises them until SIGTERM / SIGINT; then exits. */
export function runPrimary(o: PrimaryOptions): void {
  const { logger } = o;
  const registry = new Registry();
  const restarts = new Counter({
    name: WORKER_RESTARTS,
    help: 'Worker processes that died and were replaced (GATEWAY_WORKERS > 1)',
    registers: [registry],
  });
  const slots = new Map<Worker, Slot>();
  const asks = new Map<
    number,
    { worker: Worker; resolve(m: GatewayMessage): void; fail(error: string): void }
  >();
  let nextAsk = 1;
  let started = false;
  let stopping = false;
  let quickDeaths = 0;
  const restartTimers = new Set<NodeJS.Timeout>();

  const ready = () => [...slots].filter(([w, s]) => s.ready && w.isConnected()).map(([w]) => w);

  /** Asks one worker; resolves with its reply, or with an error reply (timeout, exit). */
  const ask = (w: Worker, topic: string, timeoutMs: number): Promise<GatewayMessage> =>
    new Promise((resolve) => {
      const id = nextAsk++;
      const fail = (error: string) => {
        asks.delete(id);
        clearTimeout(timer);
        resolve({ gateway: 'reply', id, error });
      };
      const timer = setTimeout(() => fail(`did not answer within ${timeoutMs} ms`), timeoutMs);
      asks.set(id, {
        worker: w,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
        fail,
      });
      if (w.isConnected()) w.send({ gateway: 'ask', topic, id } satisfies GatewayMessage);
      else fail('exited');
    });

  /** Each live worker's last registry as it answered a scrape. */
  const lastSeen = new Map<Worker, MetricJson[]>();
  /** Counters and histograms of workers that died, merged: the sums must never go down. */
  let retired: MetricJson[] = [];

  /** Every ready worker's metrics, the dead ones' counts and the primary's own, aggregated. */
  const gather = async (): Promise<string> => {
    const workers = ready();
    const replies = await Promise.all(workers.map((w) => ask(w, 'metrics', METRICS_TIMEOUT_MS)));
    const failed = replies.findIndex((r) => r.error !== undefined);
    if (failed !== -1) throw new Error(`worker ${workers[failed].id}: ${replies[failed].error}`);
    const all = replies.map((r) => r.body as MetricJson[]);
    workers.forEach((w, i) => slots.has(w) && lastSeen.set(w, all[i]));
    all.push(retired, (await registry.getMetricsAsJSON()) as unknown as MetricJson[]);
    return AggregatorRegistry.aggregate(all).metrics();
  };
  // One aggregation at a time, shared by every scrape that arrives meanwhile: a flood of
  // /metrics calls costs the primary (which also hands out connections) one at a time.
  let gathering: Promise<string> | undefined;
  const clusterMetrics = (): Promise<string> =>
    (gathering ??= gather().finally(() => (gathering = undefined)));

  /** A dead worker's counts stay in the sums (a drop would read as a counter reset). */
  const retire = async (w: Worker) => {
    const last = lastSeen.get(w);
    lastSeen.delete(w);
    if (!last) return;
    const kept = last.filter((m) => m.type === 'counter' || m.type === 'histogram');
    const merged = await AggregatorRegistry.aggregate([retired, kept]).getMetricsAsJSON();
    retired = merged as unknown as MetricJson[];
  };

  const reloadAll = async (): Promise<WorkerReload[]> => {
    const workers = ready();
    const replies = await Promise.all(workers.map((w) => ask(w, 'reload', RELOAD_TIMEOUT_MS)));
    return replies.map((r, i) =>
      r.error !== undefined
        ? { worker: workers[i].id, ok: false, problems: [`worker ${workers[i].id}: ${r.error}`] }
        : (r.body as WorkerReload),
    );
  };

  const answer = (w: Worker, m: GatewayMessage, work: () => Promise<unknown>) => {
    work().then(
      (body) => w.isConnected() && w.send({ gateway: 'reply', id: m.id, body }),
      (err: unknown) =>
        w.isConnected() &&
        w.send({
          gateway: 'reply',
          id: m.id,
          error: err instanceof Error ? err.message : String(err),
        }),
    );
  };

  const onMessage = (w: Worker, m: unknown) => {
    if (!isGatewayMessage(m)) return;
    if (m.gateway === 'reply' && m.id !== undefined) {
      const a = asks.get(m.id);
      if (a) {
        asks.delete(m.id);
        a.resolve(m);
      }
      return;
    }
    if (m.gateway === 'tell' && m.topic === 'draining') {
      // The worker's current server.shutdownTimeoutMs (a reload may have changed it).
      const ms = (m.body as { shutdownTimeoutMs?: unknown } | undefined)?.shutdownTimeoutMs;
      if (stopping && typeof ms === 'number') extendDeadline(ms);
      return;
    }
    if (m.gateway === 'tell' && m.topic === 'ready') {
      const slot = slots.get(w);
      if (slot) slot.ready = true;
      if (!started && slots.size === o.workers && [...slots.values()].every((s) => s.ready)) {
        started = true;
        logger.info({ workers: o.workers }, 'all workers listening');
      }
      return;
    }
    if (m.gateway !== 'ask') return;
    if (m.topic === 'metrics') answer(w, m, clusterMetrics);
    else if (m.topic === 'reload') answer(w, m, reloadAll);
    else if (w.isConnected()) {
      w.send({ gateway: 'reply', id: m.id, error: `no handler for ${m.topic}` });
    }
  };

  const fork = () => {
    const w = cluster.fork();
    slots.set(w, { startedAt: Date.now(), ready: false });
    w.on('message', (m: unknown) => onMessage(w, m));
    // A send racing the worker's death: its exit is handled below; never crash the primary.
    w.on('error', (err) => logger.warn({ worker: w.id, err }, 'worker channel error'));
  };

  let exitCode = 0;
  const finish = () => logger.flush(() => process.exit(exitCode));

  /** SIGTERM to every worker; exits once all are gone (SIGKILL past the drain time). */
  const stopAll = (code: number) => {
    stopping = true;
    exitCode = code;
    for (const t of restartTimers) clearTimeout(t);
    restartTimers.clear();
    if (slots.size === 0) return finish();
    for (const w of slots.keys()) w.process.kill('SIGTERM');
    extendDeadline(o.shutdownTimeoutMs);
  };

  // Workers drain within shutdownTimeoutMs (each says its current value as it starts);
  // one still running 10 s past the longest is killed.
  let deadline = 0;
  let killTimer: NodeJS.Timeout | undefined;
  const extendDeadline = (shutdownTimeoutMs: number) => {
    const at = Date.now() + shutdownTimeoutMs + 10_000;
    if (at <= deadline) return;
    deadline = at;
    if (killTimer) clearTimeout(killTimer);
    killTimer = setTimeout(() => {
      logger.error({ workers: slots.size }, 'workers did not stop in time: killing them');
      exitCode = 1;
      for (const w of slots.keys()) w.process.kill('SIGKILL');
    }, at - Date.now());
    killTimer.unref();
  };

  cluster.on('exit', (w, code, signal) => {
    const slot = slots.get(w);
    slots.delete(w);
    for (const a of [...asks.values()]) if (a.worker === w) a.fail('exited');
    retire(w).catch((err: unknown) =>
      logger.warn({ err }, "could not keep a dead worker's counts"),
    );
    if (stopping) {
      // A worker that crashed or was killed did not drain: the primary says so.
      if (code !== 0) exitCode = 1;
      logger.info({ worker: w.id, code, signal }, 'worker stopped');
      if (slots.size === 0) {
        logger.info('all workers stopped');
        finish();
      }
      return;
    }
    if (!started) {
      // Start-up failed (a port in use, a config a worker refused): stop, do not loop.
      logger.fatal({ worker: w.id, code, signal }, 'a worker failed to start; stopping');
      stopAll(1);
      return;
    }
    const lived = slot ? Date.now() - slot.startedAt : 0;
    quickDeaths = lived < QUICK_DEATH_MS ? quickDeaths + 1 : 0;
    const delay = restartDelayMs(quickDeaths);
    restarts.inc();
    logger.error(
      { worker: w.id, pid: w.process.pid, code, signal, livedMs: lived, restartInMs: delay },
      'worker died; replacing it',
    );
    const timer = setTimeout(() => {
      restartTimers.delete(timer);
      if (!stopping) fork();
    }, delay);
    restartTimers.add(timer);
  });

  const onStop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    logger.info({ signal, workers: slots.size }, 'shutdown signal received: stopping every worker');
    stopAll(0);
  };
  process.on('SIGTERM', onStop);
  process.on('SIGINT', onStop);
  process.on('SIGHUP', () => {
    // Only workers that have installed their handlers (a starting one reads the files anyway).
    const workers = ready();
    logger.info({ workers: workers.length }, 'SIGHUP received: relaying to every worker');
    for (const w of workers) w.process.kill('SIGHUP');
  });

  logger.info({ workers: o.workers }, 'primary starting workers');
  for (let i = 0; i < o.workers; i++) fork();
}
