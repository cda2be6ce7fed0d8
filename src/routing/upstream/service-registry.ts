import {
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';

import type { ServiceSettings } from '../../config/config.schema';
import type { ConfigSnapshot, UpstreamTls } from '../../config/config-loader';
import { GatewayMetrics } from '../../metrics/gateway-metrics';
import { GatewayTracing } from '../../tracing/tracing.module';
import { ActiveHealthCheck } from './active-health-check';
import { BREAKER_STATE_VALUE, ServiceBreaker } from './service-breaker';
import {
  type DiscoveredAddress,
  type DiscoverySpec,
  type DiscoveryStatus,
  type DnsClient,
  makeResolver,
  TargetDiscovery,
} from './target-discovery';
import { isNeutralFailure } from './upstream-failure';
import { UpstreamService } from './upstream-service';
import { UpstreamTarget } from './upstream-target';
import type { BridgeHooks } from './websocket-bridge';

/**
 * Every service of the current snapshot. Targets (agents, pooled sockets, health) and
 * breakers are carried over to the next snapshot while their settings are unchanged.
 */
@Injectable()
export class ServiceRegistry implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Upstreams');
  private services = new Map<string, UpstreamService>();
  private targets = new Map<string, UpstreamTarget>();
  private breakers = new Map<string, ServiceBreaker>();
  private checks = new Map<UpstreamTarget, ActiveHealthCheck>();
  /** Per service and discovery spec: its resolver loop and the targets it found. */
  private discoveries = new Map<string, Discovered>();
  private dns: { key: string; client: DnsClient } | undefined;
  /** Active checks and DNS run from bootstrap to shutdown only (never from a constructor). */
  private running = false;
  private stopScrapeReads: (() => void) | undefined;

  private readonly websocketHooks: BridgeHooks;

  constructor(
    private readonly metrics: GatewayMetrics,
    private readonly tracing: GatewayTracing,
  ) {
    this.websocketHooks = {
      opened: (service) => metrics.websocketOpened(service),
      closed: (service) => metrics.websocketClosed(service),
    };
  }

  onApplicationBootstrap(): void {
    this.running = true;
    this.stopScrapeReads = this.metrics.refreshTargetsOnScrape(() => {
      for (const t of this.allTargets()) void t.health.healthy;
    });
    this.restartChecks(this.services);
    for (const d of this.discoveries.values()) d.loop.start();
  }

  /** The discovery state of a service's targets (admin API, /ready); [] without discovery. */
  discoveryOf(service: string): DiscoveryStatus[] {
    return discoveriesOf(this.discoveries, service).map((d) => d.loop.status());
  }

  /**
   * Builds the services of a snapshot without changing what calls in flight use: new
   * targets and breakers are made, shared ones reused. `commit` then releases what the
   * snapshot dropped and restarts the health checks.
   */
  prepare(snapshot: ConfigSnapshot): {
    readonly services: ReadonlyMap<string, UpstreamService>;
    commit(): void;
  } {
    const nextTargets = new Map<string, UpstreamTarget>();
    const nextBreakers = new Map<string, ServiceBreaker>();
    const next = new Map<string, UpstreamService>();
    const created: [UpstreamTarget, string][] = [];
    const g = snapshot.gateway;
    const dnsKey = JSON.stringify(g.discovery.resolvers ?? null);
    const dns =
      this.dns?.key === dnsKey
        ? this.dns
        : { key: dnsKey, client: makeResolver(g.discovery.resolvers) };
    const nextDiscoveries = new Map<string, Discovered>();
    for (const { settings, tls } of snapshot.services) {
      const tlsKey = tls?.fingerprint ?? '';
      for (const t of settings.targets) {
        const spec = specOf(t);
        if (!spec) continue;
        // Kept across the reload (its targets too) while spec, resolvers, refresh and the
        // service's tls files stay.
        const key = `${settings.name}\n${JSON.stringify(spec)}\n${dnsKey}\n${g.discovery.refreshSeconds}\n${tlsKey}`;
        const kept = this.discoveries.get(key);
        nextDiscoveries.set(
          key,
          kept ??
            this.newDiscovery(settings.name, spec, dns.client, g.discovery.refreshSeconds, tls),
        );
      }
      const staticTargets = settings.targets.flatMap((t) => {
        if (specOf(t) || t.url === undefined) return [];
        const key = `${settings.name}\n${t.url}\n${t.weight}\n${tlsKey}`;
        let target = this.targets.get(key) ?? nextTargets.get(key);
        if (!target) {
          target = new UpstreamTarget(t.url, t.weight, undefined, tls);
          created.push([target, settings.name]);
        }
        nextTargets.set(key, target);
        return [target];
      });
      const targets = [...staticTargets, ...discoveredTargets(nextDiscoveries, settings.name)];
      const breaker = this.breakerFor(settings);
      nextBreakers.set(settings.name, breaker);
      next.set(
        settings.name,
        new UpstreamService(settings, targets, breaker, {
          defaultTimeoutMs: g.server.requestTimeoutMs,
          bodyLimit: g.server.bodyLimit,
          corsOwned: g.cors !== undefined,
          tracer: this.tracing.tracer,
          websocket: this.websocketHooks,
        }),
      );
    }
    const commit = () => {
      for (const [target, service] of created) this.watch(target, service);
      for (const { settings } of snapshot.services) {
        for (const t of next.get(settings.name)?.targets ?? []) {
          t.health.configure(settings.healthCheck);
        }
      }
      for (const [name, b] of nextBreakers) {
        if (this.breakers.get(name) !== b) this.watchBreaker(name, b);
      }
      for (const [name, b] of this.breakers) {
        if (nextBreakers.get(name) === b) continue;
        b.close();
        if (!nextBreakers.has(name)) this.metrics.forgetService(name);
      }
      for (const [key, t] of this.targets) {
        if (nextTargets.has(key)) continue;
        const [service] = key.split('\n');
        const stillThere = [...nextTargets].some(
          ([k, n]) => n.label === t.label && k.startsWith(`${service}\n`),
        );
        if (!stillThere) this.metrics.forgetTarget(service, t.label);
      }
      // Targets no longer configured: their idle sockets close on the agent's idle timeout;
      // calls still in flight on them finish normally.
      for (const [key, d] of this.discoveries) {
        if (nextDiscoveries.get(key) === d) continue;
        d.loop.stop();
        for (const t of d.targets.values()) this.release(d.service, t);
      }
      this.targets = nextTargets;
      this.breakers = nextBreakers;
      this.services = next;
      this.dns = dns;
      const started = this.discoveries;
      this.discoveries = nextDiscoveries;
      if (this.running) {
        for (const [key, d] of nextDiscoveries) if (started.get(key) !== d) d.loop.start();
      }
      this.restartChecks(next);
    };
    return { services: next, commit };
  }

  /** Builds and commits at once (start-up). */
  build(snapshot: ConfigSnapshot): ReadonlyMap<string, UpstreamService> {
    const prepared = this.prepare(snapshot);
    prepared.commit();
    return prepared.services;
  }

  get(name: string): UpstreamService | undefined {
    return this.services.get(name);
  }

  all(): readonly UpstreamService[] {
    return [...this.services.values()];
  }

  onApplicationShutdown(): void {
    this.running = false;
    this.stopScrapeReads?.();
    for (const d of this.discoveries.values()) d.loop.stop();
    for (const c of this.checks.values()) c.stop();
    this.checks.clear();
    for (const b of this.breakers.values()) b.close();
    for (const t of this.allTargets()) t.close();
  }

  private allTargets(): UpstreamTarget[] {
    return [
      ...this.targets.values(),
      ...[...this.discoveries.values()].flatMap((d) => [...d.targets.values()]),
    ];
  }

  private newDiscovery(
    service: string,
    spec: DiscoverySpec,
    client: DnsClient,
    refreshSeconds: number,
    tls: UpstreamTls | undefined,
  ): Discovered {
    const entry: Discovered = {
      service,
      tls,
      targets: new Map(),
      loop: new TargetDiscovery(spec, client, refreshSeconds, {
        resolved: (addresses) => this.discovered(entry, addresses),
        failed: (err, first) => {
          this.metrics.discoveryError(service);
          if (first) {
            this.logger.warn({
              msg: 'service discovery failed; the last resolved targets stay in use',
              service,
              name: entry.loop.status().name,
              reason: err.message,
            });
          }
        },
      }),
    };
    return entry;
  }

  /**
   * A resolution: addresses still named keep their target (agent, health, series); new ones
   * get a target, which serves at once (after its first passing check when the service has
   * a healthCheck); gone ones get no new calls, their calls in flight finish, and their
   * series and checks are released.
   */
  private discovered(entry: Discovered, addresses: readonly DiscoveredAddress[]): void {
    const service = this.services.get(entry.service);
    const next = new Map<string, UpstreamTarget>();
    const hc = service?.settings.healthCheck;
    for (const a of addresses) {
      const key = `${a.url}\n${a.weight}\n${a.priority}\n${a.host}`;
      let t = entry.targets.get(key) ?? next.get(key);
      if (!t) {
        t = new UpstreamTarget(
          a.url,
          a.weight,
          {
            source: entry.loop.spec.kind,
            host: a.host,
            servername: a.servername,
            priority: a.priority,
          },
          entry.tls,
        );
        t.health.configure(hc);
        if (hc) t.health.awaitFirstCheck();
        this.watch(t, entry.service);
        if (this.running && hc) this.startCheck(t, hc);
      }
      next.set(key, t);
    }
    const unchanged =
      next.size === entry.targets.size && [...next.keys()].every((k) => entry.targets.has(k));
    if (unchanged) return;
    for (const [key, t] of entry.targets) if (!next.has(key)) this.release(entry.service, t);
    entry.targets = next;
    if (!service) return;
    const found = discoveredTargets(this.discoveries, entry.service);
    const statics = service.targets.filter((t) => t.origin.source === 'static');
    service.replaceTargets([...statics, ...found]);
    this.logger.log({
      msg: 'service discovery changed the targets',
      service: entry.service,
      targets: found.map((t) => t.label),
    });
  }

  /** A discovered target DNS no longer names: no new calls; idle sockets close on their own. */
  private release(service: string, t: UpstreamTarget): void {
    this.checks.get(t)?.stop();
    this.checks.delete(t);
    const stillListed = this.services
      .get(service)
      ?.targets.some((o) => o !== t && o.label === t.label);
    if (!stillListed) this.metrics.forgetTarget(service, t.label);
  }

  private startCheck(t: UpstreamTarget, hc: NonNullable<ServiceSettings['healthCheck']>): void {
    this.checks.get(t)?.stop();
    const check = new ActiveHealthCheck(t, hc);
    check.start();
    this.checks.set(t, check);
  }

  private breakerFor(settings: ServiceSettings): ServiceBreaker {
    const existing = this.breakers.get(settings.name);
    if (existing && sameSettings(existing.settings, settings.circuitBreaker)) return existing;
    return new ServiceBreaker(settings.name, settings.circuitBreaker, isNeutralFailure);
  }

  private watchBreaker(name: string, b: ServiceBreaker): void {
    this.metrics.breakerState(name, BREAKER_STATE_VALUE[b.state]);
    b.onStateChange((state) => this.metrics.breakerState(name, BREAKER_STATE_VALUE[state]));
  }

  private watch(target: UpstreamTarget, service: string): void {
    this.metrics.targetHealth(service, target.label, target.health.healthy);
    target.health.onChange((up) => {
      const msg = up ? 'target up' : 'target down';
      this.logger[up ? 'log' : 'warn']({ msg, service, target: target.label });
      this.metrics.targetHealth(service, target.label, up);
    });
  }

  private restartChecks(services: ReadonlyMap<string, UpstreamService>): void {
    for (const c of this.checks.values()) c.stop();
    this.checks.clear();
    if (!this.running) return;
    for (const s of services.values()) {
      const hc = s.settings.healthCheck;
      if (!hc) continue;
      for (const t of s.targets) this.startCheck(t, hc);
    }
  }
}

function sameSettings(a: object, b: object): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

interface Discovered {
  readonly service: string;
  /** The service's tls files, as when this discovery was made (part of its key). */
  readonly tls: UpstreamTls | undefined;
  readonly loop: TargetDiscovery;
  /** Key (url, weight, priority, host) → target, as of the last good resolution. */
  targets: Map<string, UpstreamTarget>;
}

function discoveriesOf(all: ReadonlyMap<string, Discovered>, service: string): Discovered[] {
  return [...all.values()].filter((d) => d.service === service);
}

/** Every target the discoveries of `service` found, as of their last good resolution. */
function discoveredTargets(
  all: ReadonlyMap<string, Discovered>,
  service: string,
): UpstreamTarget[] {
  return discoveriesOf(all, service).flatMap((d) => [...d.targets.values()]);
}

/** The discovery a configured target asks for, or undefined for a fixed URL. */
function specOf(t: ServiceSettings['targets'][number]): DiscoverySpec | undefined {
  if (t.srv !== undefined) return { kind: 'srv', name: t.srv };
  if (t.discovery === 'dns' && t.url !== undefined) {
    return { kind: 'dns', url: t.url, weight: t.weight };
  }
  return undefined;
}
