import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';

import { GatewayConfig } from '../config/gateway-config';
import { ServerLifecycle } from '../routing/server-lifecycle';
import { ServiceRegistry } from '../routing/upstream/service-registry';

/** Readiness of the gateway itself, and the state of each upstream (reported, never failing). */
@Injectable()
export class ReadinessIndicator {
  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly lifecycle: ServerLifecycle,
    private readonly config: GatewayConfig,
    private readonly registry: ServiceRegistry,
  ) {}

  gateway() {
    const phase = this.lifecycle.phase;
    const s = this.indicators.check('gateway');
    const details = { phase, configRevision: this.config.current.revision };
    return phase === 'ready' ? s.up(details) : s.down(details);
  }

  upstreams() {
    const services: Record<string, unknown> = {};
    for (const svc of this.registry.all()) {
      const discovery = this.registry.discoveryOf(svc.name);
      services[svc.name] = {
        circuit: svc.breaker.state,
        targets: svc.targets.map((t) => ({ target: t.label, healthy: t.health.healthy })),
        ...(discovery.length > 0 ? { discovery } : {}),
      };
    }
    return this.indicators.check('upstreams').up({ services });
  }
}
