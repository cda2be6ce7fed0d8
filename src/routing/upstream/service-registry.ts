import {
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';

import type { ServiceSettings } from '../../config/config.schema';
import type { ConfigSnapshot } from '../../config/config-loader';
import { GatewayMetrics } from '../../metrics/gateway-metrics';
import { ActiveHealthCheck } from './active-health-check';
import { BREAKER_STATE_VALUE, ServiceBreaker } from './service-breaker';
import { isNeutralFailure } from './upstream-failure';
import { UpstreamService } from './upstream-service';
import { UpstreamTarget } from './upstream-target';

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
  private checks: ActiveHealthCheck[] = [];
  /** Active checks run from bootstrap to shutdown only (never from a constructor). */
  private running = false;
  private stopScrapeReads: (() => void) | undefined;

  constructor(private readonly metrics: GatewayMetrics) {}

  onApplicationBootstrap(): void {
    this.running = true;
    this.stopScrapeReads = this.metrics.refreshTargetsOnScrape(() => {
      for (const t of this.targets.values()) void t.health.healthy;
    });
    this.restartChecks(this.services);
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
    for (const { settings } of snapshot.services) {
      const targets = settings.targets.map((t) => {
        const key = `${settings.name}\n${t.url}\n${t.weight}`;
        let target = this.targets.get(key) ?? nextTargets.get(key);
        if (!target) {
          target = new UpstreamTarget(t.url, t.weight);
          created.push([target, settings.name]);
        }
        nextTargets.set(key, target);
        return target;
      });
      const breaker = this.breakerFor(settings);
      nextBreakers.set(settings.name, breaker);
      next.set(
        settings.name,
        new UpstreamService(settings, targets, breaker, {
          defaultTimeoutMs: g.server.requestTimeoutMs,
          bodyLimit: g.server.bodyLimit,
          corsOwned: g.cors !== undefined,
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
      this.targets = nextTargets;
      this.breakers = nextBreakers;
      this.services = next;
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
    for (const c of this.checks) c.stop();
    for (const b of this.breakers.values()) b.close();
    for (const t of this.targets.values()) t.close();
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
    this.metrics.targetHealth(service, target.label, true);
    target.health.onChange((up) => {
      const msg = up ? 'target up' : 'target down';
      this.logger[up ? 'log' : 'warn']({ msg, service, target: target.label });
      this.metrics.targetHealth(service, target.label, up);
    });
  }

  private restartChecks(services: ReadonlyMap<string, UpstreamService>): void {
    for (const c of this.checks) c.stop();
    this.checks = [];
    if (!this.running) return;
    for (const s of services.values()) {
      const hc = s.settings.healthCheck;
      if (!hc) continue;
      for (const t of s.targets) {
        const check = new ActiveHealthCheck(t, hc);
        check.start();
        this.checks.push(check);
      }
    }
  }
}

function sameSettings(a: object, b: object): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
