// A route's plugin hooks, compiled when the config loads, and how they run on a call: in
// list order, each within the deadline, failures turned into the contract's statuses.
import type { ServerResponse } from 'node:http';

import type { CallHook, PluginCall, PluginResponse, ResponseHook } from './plugin-api';
import { PluginFailure, PluginRejection } from './plugin-errors';

export const HOOK_DEADLINE_MS = 5000;

export interface NamedHook<H> {
  readonly plugin: string;
  readonly hook: H;
}

export class RoutePlugins {
  static readonly NONE = new RoutePlugins([], [], []);

  constructor(
    readonly access: readonly NamedHook<CallHook>[],
    readonly request: readonly NamedHook<CallHook>[],
    readonly response: readonly NamedHook<ResponseHook>[],
  ) {}

  get empty(): boolean {
    return this.access.length === 0 && this.request.length === 0 && this.response.length === 0;
  }
}

/**
 * Runs `hooks` in order. Resolves synchronously (returns undefined) when every hook did;
 * otherwise a promise. Throws / rejects with a PluginRejection or a PluginFailure only.
 */
export function runHooks<A extends unknown[]>(
  hooks: readonly NamedHook<(...args: A) => void | Promise<void>>[],
  args: A,
  from = 0,
): Promise<void> | undefined {
  for (let i = from; i < hooks.length; i++) {
    const { plugin, hook } = hooks[i];
    let result: void | Promise<void>;
    try {
      result = hook(...args);
    } catch (err) {
      throw classify(plugin, err);
    }
    if (result && typeof result.then === 'function') {
      return withDeadline(plugin, result).then(() => runHooks(hooks, args, i + 1));
    }
  }
  return undefined;
}

function withDeadline(plugin: string, p: Promise<void>): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new PluginFailure(plugin, 504, new Error('deadline'))),
      HOOK_DEADLINE_MS,
    );
    p.then(
      () => {
        clearTimeout(timer);
        resolve();
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(classify(plugin, err));
      },
    );
  });
}

function classify(plugin: string, err: unknown): PluginRejection | PluginFailure {
  if (err instanceof PluginRejection) {
    if (Number.isInteger(err.status) && err.status >= 400 && err.status <= 599) return err;
    return new PluginFailure(plugin, 500, new Error(`reject with status ${err.status}`));
  }
  if (err instanceof PluginFailure) return err;
  return new PluginFailure(plugin, 500, err);
}

type Write = ServerResponse['write'];
type End = ServerResponse['end'];

/**
 * Holds the response head until the route's response hooks have run on it. Works for any
 * writer (http-proxy's pipe, the gateway's own error answers): the first writeHead, write
 * or end runs the hooks; while an async hook runs, writes are queued and `write` returns
 * false (the pipe waits for 'drain'). A failing hook replaces the response with
 * `onFailure`'s answer; the rest of the original is dropped.
 */
export function holdResponseHead(
  res: ServerResponse,
  hooks: readonly NamedHook<ResponseHook>[],
  call: () => PluginCall,
  response: () => PluginResponse,
  onFailure: (err: PluginRejection | PluginFailure) => void,
): void {
  // eslint-disable-next-line @typescript-eslint/unbound-method -- called with res as this
  const { writeHead, write, end } = res;
  let state: 'idle' | 'running' | 'done' | 'replaced' = 'idle';
  const queue: (() => void)[] = [];
  let starved = false;

  const restore = () => {
    // The prototype's methods again: no per-write cost once the head has gone.
    delete (res as Partial<ServerResponse>).writeHead;
    delete (res as Partial<ServerResponse>).write;
    delete (res as Partial<ServerResponse>).end;
  };
  const fail = (err: PluginRejection | PluginFailure) => {
    state = 'replaced';
    restore();
    queue.length = 0;
    for (const name of res.getHeaderNames()) res.removeHeader(name);
    onFailure(err);
    // What the original writer still sends goes nowhere.
    res.writeHead = () => res;
    res.write = ((_c: unknown, ...rest: unknown[]) => {
      const cb = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
      cb?.();
      return true;
    }) as Write;
    res.end = () => res;
  };
  const done = () => {
    state = 'done';
    restore();
    for (const op of queue.splice(0)) op();
    if (starved) res.emit('drain');
  };
  /** True when the head may go now. */
  const start = (): boolean => {
    if (state === 'idle') {
      state = 'running';
      let pending: Promise<void> | undefined;
      try {
        pending = runHooks(hooks, [call(), response()]);
      } catch (err) {
        fail(err as PluginRejection | PluginFailure);
        return false;
      }
      if (!pending) {
        done();
        return true;
      }
      pending.then(done, fail);
      return false;
    }
    return state === 'done';
  };

  res.writeHead = function (this: ServerResponse, status: number, ...rest: unknown[]) {
    if (state === 'idle' || state === 'running') {
      res.statusCode = status;
      for (const r of rest) {
        if (typeof r === 'string') res.statusMessage = r;
        else if (Array.isArray(r)) {
          for (let i = 0; i + 1 < r.length; i += 2)
            res.appendHeader(String(r[i]), r[i + 1] as string);
        } else if (r && typeof r === 'object') {
          for (const [k, v] of Object.entries(r))
            if (v !== undefined) res.setHeader(k, v as string);
        }
      }
      if (start()) return writeHead.call(res, res.statusCode);
      if (state === 'running') queue.push(() => writeHead.call(res, res.statusCode));
      return res;
    }
    return writeHead.call(res, status, ...(rest as []));
  };
  res.write = function (this: ServerResponse, ...args: unknown[]) {
    if (start()) return (write as (...a: unknown[]) => boolean).apply(res, args);
    if (state === 'running') {
      queue.push(() => (write as (...a: unknown[]) => boolean).apply(res, args));
      starved = true;
      return false;
    }
    return true;
  } as Write;
  res.end = function (this: ServerResponse, ...args: unknown[]) {
    if (start()) return (end as (...a: unknown[]) => ServerResponse).apply(res, args);
    if (state === 'running')
      queue.push(() => (end as (...a: unknown[]) => ServerResponse).apply(res, args));
    return res;
  } as End;
}
