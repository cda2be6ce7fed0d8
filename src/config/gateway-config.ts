import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';

import { type ConfigSnapshot, loadConfig } from './config-loader';
import type { Env } from './env-substitution';
import type { GatewayConfigOptions } from './gateway-config.constants';
import { GATEWAY_CONFIG_OPTIONS } from './gateway-config.module-definition';

declare module '../common/request-context' {
  interface RequestContext {
    /**
     * The snapshot the call started with (set by the entry): everything the call reads
     * from the config comes from it, so a reload never mixes two configurations in one call.
     */
    config?: ConfigSnapshot;
  }
}

/** The call's own snapshot, or the current one outside a call. */
export function snapshotFor(
  ctx: { readonly config?: ConfigSnapshot } | undefined,
  config: GatewayConfig,
): ConfigSnapshot {
  return ctx?.config ?? config.current;
}

/**
 * Something built from a snapshot (a key table, the signing keys) and kept with it: a call
 * reads the part of the snapshot it started with (`of(ctx.config)`), so the parts of one
 * config are never mixed with another's. Built for a reload's snapshot before the swap; a
 * build that throws rejects the reload. Parts of a dropped snapshot go with it (WeakMap).
 */
export interface SnapshotPart<T> {
  of(snapshot: ConfigSnapshot): T;
  /** The current snapshot's part (outside a call). */
  readonly current: T;
}

export type ReloadResult =
  | { readonly ok: true; readonly revision: string; readonly changed: readonly string[] }
  | { readonly ok: false; readonly problems: readonly string[] };

/**
 * A reload's first phase: build everything derived from `next` without touching what calls
 * in flight use, and return the commit (plain assignments that cannot fail). A listener
 * that throws rejects the reload and nothing changes.
 */
export type ConfigListener = (
  next: ConfigSnapshot,
  previous: ConfigSnapshot,
) => (() => void) | undefined;
export type ReloadListener = (result: ReloadResult) => void;

/**
 * The current configuration snapshot. A reload builds and validates a whole new snapshot
 * and swaps it in one assignment; whoever read the old one (a request in flight) keeps it.
 */
@Injectable()
export class GatewayConfig implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Config');
  private snapshot: ConfigSnapshot;
  private readonly listeners = new Set<ConfigListener>();
  private readonly reloadListeners = new Set<ReloadListener>();
  private readonly onSighup = () => {
    this.logger.log('SIGHUP received: reloading configuration');
    try {
      this.reload();
    } catch (err) {
      // A signal handler must never take the process down: the old config keeps serving.
      this.logger.error({ msg: 'config reload failed', err });
    }
  };

  constructor(@Inject(GATEWAY_CONFIG_OPTIONS) private readonly options: GatewayConfigOptions) {
    this.snapshot = options.initial;
  }

  get current(): ConfigSnapshot {
    return this.snapshot;
  }

  /** The environment the gateway was started with (substitution, OTEL_*). */
  get env(): Env {
    return this.options.env;
  }

  /** Called on each reload in registration order (see ConfigListener); returns an unsubscribe. */
  onChange(listener: ConfigListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * A part built from every snapshot by `build` (given the previous snapshot's part, to
   * carry state such as a JWKS cache across a reload); see SnapshotPart.
   */
  derive<T>(build: (snapshot: ConfigSnapshot, previous: T | undefined) => T): SnapshotPart<T> {
    const parts = new WeakMap<ConfigSnapshot, T>();
    parts.set(this.snapshot, build(this.snapshot, undefined));
    this.onChange((next, previous) => {
      // Set before the swap: the entry is unreachable until `next` becomes current.
      parts.set(next, build(next, parts.get(previous)));
      return undefined;
    });
    const of = (snapshot: ConfigSnapshot): T => {
      let part = parts.get(snapshot);
      if (part === undefined) {
        part = build(snapshot, undefined);
        parts.set(snapshot, part);
      }
      return part;
    };
    const currentSnapshot = () => this.snapshot;
    return {
      of,
      get current() {
        return of(currentSnapshot());
      },
    };
  }

  /** Called after every reload attempt, applied or rejected (metrics). */
  onReload(listener: ReloadListener): () => void {
    this.reloadListeners.add(listener);
    return () => this.reloadListeners.delete(listener);
  }

  reload(): ReloadResult {
    const result = this.tryReload();
    for (const l of this.reloadListeners) l(result);
    return result;
  }

  private tryReload(): ReloadResult {
    const loaded = loadConfig(this.snapshot.dir, this.options.env, this.options.plugins);
    if (!loaded.ok) {
      this.logger.warn({
        msg: 'config reload rejected; the running configuration stays in force',
        problems: loaded.problems,
      });
      return { ok: false, problems: loaded.problems };
    }
    const previous = this.snapshot;
    const next = loaded.snapshot;
    const changed = changedFiles(previous, next);
    // Build everything first; swap only once all of it was built.
    const commits: (() => void)[] = [];
    try {
      for (const l of this.listeners) {
        const commit = l(next, previous);
        if (commit) commits.push(commit);
      }
    } catch (err) {
      void next.plugins.close(this.pluginCloseFailed);
      const problem = `(reload): ${(err as Error)?.message ?? String(err)}`;
      this.logger.warn({
        msg: 'config reload rejected; the running configuration stays in force',
        problems: [problem],
      });
      return { ok: false, problems: [problem] };
    }
    this.snapshot = next;
    for (const c of commits) c();
    for (const w of next.warnings) this.logger.warn(w);
    // Calls that started on the old snapshot may still run its hooks; plugins must cope
    // with a hook called after close() (the built-ins hold nothing to close).
    void previous.plugins.close(this.pluginCloseFailed);
    this.logger.log({ msg: 'config reloaded', revision: next.revision, changed });
    return { ok: true, revision: next.revision, changed };
  }

  onApplicationBootstrap(): void {
    for (const w of this.snapshot.warnings) this.logger.warn(w);
    process.on('SIGHUP', this.onSighup);
  }

  async onApplicationShutdown(): Promise<void> {
    process.off('SIGHUP', this.onSighup);
    await this.snapshot.plugins.close(this.pluginCloseFailed);
  }

  private readonly pluginCloseFailed = (plugin: string, err: unknown) => {
    this.logger.warn({ msg: 'plugin close failed', plugin, err });
  };
}

function changedFiles(a: ConfigSnapshot, b: ConfigSnapshot): string[] {
  const names = new Set([...Object.keys(a.files), ...Object.keys(b.files)]);
  return [...names].filter((n) => a.files[n] !== b.files[n]).sort();
}
