// GATEWAY_WORKERS > 1: how a worker talks to the primary (node:cluster's IPC channel).
// A worker asks (the cluster's metrics, a reload of every worker) and answers what the
// primary asks of it (its own metrics, its own reload). With one worker there is no
// primary and none of this runs.
import cluster from 'node:cluster';

/** Every message the gateway sends over the channel; others (prom-client's, Node's) pass by. */
export interface GatewayMessage {
  readonly gateway: 'ask' | 'reply' | 'tell';
  readonly topic?: string;
  readonly id?: number;
  readonly body?: unknown;
  readonly error?: string;
}

export function isGatewayMessage(m: unknown): m is GatewayMessage {
  return (
    typeof m === 'object' &&
    m !== null &&
    ((m as GatewayMessage).gateway === 'ask' ||
      (m as GatewayMessage).gateway === 'reply' ||
      (m as GatewayMessage).gateway === 'tell')
  );
}

/** This process's worker id when it is one of several workers; undefined otherwise. */
export function clusterWorkerId(): number | undefined {
  return cluster.isWorker ? cluster.worker?.id : undefined;
}

/** One worker's answer to a reload (worker-side: GatewayAdminService). */
export type WorkerReload =
  | {
      readonly worker: number;
      readonly ok: true;
      readonly revision: string;
      readonly changed: readonly string[];
    }
  | { readonly worker: number; readonly ok: false; readonly problems: readonly string[] };

type Handler = (body: unknown) => unknown;

interface Pending {
  resolve(body: unknown): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

const handlers = new Map<string, Handler>();
const pending = new Map<number, Pending>();
let nextId = 1;
let listening = false;

function send(message: GatewayMessage): void {
  if (process.connected && process.send) process.send(message);
}

function onMessage(m: unknown): void {
  if (!isGatewayMessage(m)) return;
  if (m.gateway === 'reply' && m.id !== undefined) {
    const p = pending.get(m.id);
    if (!p) return;
    pending.delete(m.id);
    clearTimeout(p.timer);
    if (m.error !== undefined) p.reject(new Error(m.error));
    else p.resolve(m.body);
    return;
  }
  if (m.gateway !== 'ask' || m.topic === undefined || m.id === undefined) return;
  const handler = handlers.get(m.topic);
  const id = m.id;
  if (!handler) {
    send({ gateway: 'reply', id, error: `no handler for ${m.topic}` });
    return;
  }
  Promise.resolve()
    .then(() => handler(m.body))
    .then(
      (body) => send({ gateway: 'reply', id, body }),
      (err: unknown) =>
        send({ gateway: 'reply', id, error: err instanceof Error ? err.message : String(err) }),
    );
}

function listen(): void {
  if (listening || !cluster.isWorker) return;
  listening = true;
  process.on('message', onMessage);
}

/** Asks the primary; rejects when it does not answer within `timeoutMs`. */
export function askPrimary<T>(topic: string, body: unknown, timeoutMs: number): Promise<T> {
  listen();
  return new Promise<T>((resolve, reject) => {
    if (!process.connected || !process.send) {
      reject(new Error('the primary process is gone'));
      return;
    }
    const id = nextId++;
    const timer = setTimeout(() => {
      pending.delete(id);
      reject(new Error(`the primary did not answer ${topic} within ${timeoutMs} ms`));
    }, timeoutMs);
    pending.set(id, { resolve: resolve, reject, timer });
    send({ gateway: 'ask', topic, id, body });
  });
}

/** Answers the primary's `topic` questions with `handler`'s result (last one wins). */
export function answerPrimary(topic: string, handler: Handler): void {
  if (!cluster.isWorker) return;
  listen();
  handlers.set(topic, handler);
}

/** A one-way message to the primary (the worker is ready). */
export function tellPrimary(topic: string, body?: unknown): void {
  if (cluster.isWorker) send({ gateway: 'tell', topic, body });
}
