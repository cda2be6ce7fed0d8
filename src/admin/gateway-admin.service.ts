import { Injectable } from '@nestjs/common';

import {
  answerPrimary,
  askPrimary,
  clusterWorkerId,
  type WorkerReload,
} from '../cluster/worker-channel';
import { GatewayConfig, type ReloadResult } from '../config/gateway-config';
import { GatewayRoutes } from '../routing/gateway-routes';
import { resolveRoute } from '../routing/route-resolution';
import { ServiceRegistry } from '../routing/upstream/service-registry';
import { packageVersion } from './package-version';

export interface Explanation {
  status: 200 | 400 | 404 | 405;
  match: {
    service: string;
    route: string;
    upstreamPath: string;
    auth: string;
    methods: readonly string[] | null;
    /** The service's targets now, discovered ones included (with their source). */
    targets: { target: string; source: string; healthy: boolean }[];
  } | null;
  candidates: { route: string; service: string; reason: string }[];
}

/** What the admin endpoints report, read from the current snapshot and its runtime state. */
@Injectable()
export class GatewayAdminService {
  private readonly version = packageVersion();
  private readonly startedAt = Date.now();

  constructor(
    private readonly config: GatewayConfig,
    private readonly routes: GatewayRoutes,
    private readonly registry: ServiceRegistry,
  ) {
    // GATEWAY_WORKERS > 1: the primary asks each worker to apply a reload (reloadAll).
    answerPrimary('reload', (): WorkerReload => ({
      worker: clusterWorkerId() ?? 0,
      ...this.reload(),
    }));
  }

  status() {
    const s = this.config.current;
    const services = this.registry.all();
    const worker = clusterWorkerId();
    return {
      version: this.version,
      ...(worker === undefined ? {} : { worker }),
      uptimeSeconds: Math.floor((Date.now() - this.startedAt) / 1000),
      config: { revision: s.revision, loadedAt: s.loadedAt },
      counts: {
        services: services.length,
        routes: this.routes.current.table.routes.length,
        targets: services.reduce((n, svc) => n + svc.targets.length, 0),
      },
    };
  }

  services() {
    return this.registry.all().map((svc) => ({
      name: svc.name,
      loadBalancing: svc.settings.loadBalancing,
      timeoutMs: svc.timeoutMs,
      circuit: { state: svc.breaker.state, errorRate: round(svc.breaker.errorRate) },
      targets: svc.targets.map((t) => ({
        target: t.label,
        url: t.url,
        weight: t.weight,
        healthy: t.health.healthy,
        source: t.origin.source,
      })),
      // Discovered targets: what each name resolved to and when (Service discovery).
      discovery: this.registry.discoveryOf(svc.name),
    }));
  }

  routeTable() {
    return this.routes.current.table.routes.map((r) => ({
      route: r.pattern,
      service: r.data.service.name,
      file: r.data.file,
      methods: r.methods,
      rewrite: r.data.settings.rewrite ?? null,
      auth: r.data.settings.auth,
      roles: r.data.settings.roles,
      scopes: r.data.settings.scopes,
      rateLimit: r.data.settings.rateLimit ?? null,
    }));
  }

  explain(method: string, path: string): Explanation {
    const state = this.routes.current;
    const table = state.table;
    const m = method.toUpperCase();
    // The whole target, as the entry passes it: a `#` or `\` in the query is a 400 there too.
    const found = resolveRoute(table, m, path, state.server);
    const normalised = found.kind === 'own' ? undefined : found.path;
    const selected = found.kind === 'matched' ? found.match.route : undefined;
    const candidates = (normalised === undefined ? [] : table.candidates(normalised)).map((c) => {
      const allows = c.route.methods === null || c.route.methods.includes(m);
      const reason =
        c.route === selected
          ? 'selected'
          : !allows
            ? `method ${m} not allowed`
            : selected
              ? 'lower priority'
              : "refused: the path as sent matched another route's prefix and .. left it";
      return { route: c.route.pattern, service: c.route.data.service.name, reason };
    });
    switch (found.kind) {
      case 'matched': {
        const r = found.match.route;
        return {
          status: 200,
          match: {
            service: r.data.service.name,
            route: r.pattern,
            upstreamPath: r.upstreamPath(found.match),
            auth: r.data.settings.auth,
            methods: r.methods,
            targets: r.data.service.targets.map((t) => ({
              target: t.label,
              source: t.origin.source,
              healthy: t.health.healthy,
            })),
          },
          candidates,
        };
      }
      case 'method-not-allowed':
        return { status: 405, match: null, candidates };
      case 'error':
        return { status: found.status, match: null, candidates };
      case 'own':
        return { status: 404, match: null, candidates: [] };
    }
  }

  /** Reloads this process only. */
  reload(): ReloadResult {
    return this.config.reload();
  }

  /**
   * POST /api/gateway/reload: this process, or with GATEWAY_WORKERS > 1 every worker
   * (through the primary); applied only when every worker applied the same files.
   */
  async reloadAll(): Promise<ReloadResult> {
    if (clusterWorkerId() === undefined) return this.reload();
    let results: WorkerReload[];
    try {
      results = await askPrimary<WorkerReload[]>('reload', undefined, RELOAD_WAIT_MS);
    } catch (err) {
      return { ok: false, problems: [`reload: ${(err as Error).message}`] };
    }
    return combineReloads(results);
  }
}

/** How long a worker waits for every worker's reload answer (each gets 30 s). */
const RELOAD_WAIT_MS = 35_000;

/** Every worker's reload as one answer: 200 only when all applied the same revision. */
export function combineReloads(results: readonly WorkerReload[]): ReloadResult {
  const failed = results.filter((r) => !r.ok);
  if (failed.length > 0) {
    const problems = new Set<string>();
    for (const r of failed) for (const p of r.problems) problems.add(p);
    const applied = results.filter((r) => r.ok).map((r) => r.worker);
    if (applied.length > 0) {
      problems.add(
        `worker(s) ${applied.join(', ')} applied the new files and the others did not; fix the files and reload again`,
      );
    }
    return { ok: false, problems: [...problems] };
  }
  const revisions = new Set(results.map((r) => (r.ok ? r.revision : '')));
  if (revisions.size > 1) {
    return {
      ok: false,
      problems: [
        `the workers read different files (revisions ${[...revisions].join(', ')}): the folder changed during the reload; reload again`,
      ],
    };
  }
  const changed = new Set<string>();
  for (const r of results) if (r.ok) for (const c of r.changed) changed.add(c);
  const first = results[0];
  if (!first?.ok) return { ok: false, problems: ['reload: no worker answered'] };
  return { ok: true, revision: first.revision, changed: [...changed].sort() };
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
