import { Injectable, type OnApplicationShutdown } from '@nestjs/common';

import type { ConfigSnapshot } from '../../config/config-loader';
import { UpstreamService } from './upstream-service';
import { UpstreamTarget } from './upstream-target';

/**
 * Every service of the current snapshot. Targets (their agents and pooled sockets) are
 * keyed by service and URL and carried over to the next snapshot when unchanged.
 */
@Injectable()
export class ServiceRegistry implements OnApplicationShutdown {
  private services = new Map<string, UpstreamService>();
  private targets = new Map<string, UpstreamTarget>();

  /** Builds the services of a snapshot; the previous ones stay valid for calls in flight. */
  build(snapshot: ConfigSnapshot): ReadonlyMap<string, UpstreamService> {
    const nextTargets = new Map<string, UpstreamTarget>();
    const next = new Map<string, UpstreamService>();
    const g = snapshot.gateway;
    for (const { settings } of snapshot.services) {
      const targets = settings.targets.map((t) => {
        const key = `${settings.name}\n${t.url}\n${t.weight}`;
        const target = this.targets.get(key) ?? new UpstreamTarget(t.url, t.weight);
        nextTargets.set(key, target);
        return target;
      });
      next.set(
        settings.name,
        new UpstreamService(settings, targets, {
          defaultTimeoutMs: g.server.requestTimeoutMs,
          bodyLimit: g.server.bodyLimit,
          corsOwned: g.cors !== undefined,
        }),
      );
    }
    // Targets no longer configured: their idle sockets close on the agent's idle timeout;
    // calls still in flight on them finish normally.
    this.targets = nextTargets;
    this.services = next;
    return next;
  }

  get(name: string): UpstreamService | undefined {
    return this.services.get(name);
  }

  all(): readonly UpstreamService[] {
    return [...this.services.values()];
  }

  onApplicationShutdown(): void {
    for (const t of this.targets.values()) t.close();
  }
}
