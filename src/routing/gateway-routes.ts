import { Injectable, type OnModuleDestroy } from '@nestjs/common';

import type { RouteSettings } from '../config/config.schema';
import type { ConfigSnapshot } from '../config/config-loader';
import { GatewayConfig } from '../config/gateway-config';
import type { RoutePlugins } from '../plugins/route-plugins';
import { ClientAddressResolver } from './client-address';
import { type CorsHandler, corsHandler } from './cors-policy';
import { type RouteMatch, RouteTable } from './route-table';
import { ServiceRegistry } from './upstream/service-registry';
import type { UpstreamService } from './upstream/upstream-service';

export interface GatewayRoute {
  readonly settings: RouteSettings;
  readonly service: UpstreamService;
  /** The service file the route came from, for the admin API and config messages. */
  readonly file: string;
  /** Its hooks, global → service → route; RoutePlugins.NONE when it has none. */
  readonly plugins: RoutePlugins;
}

export type GatewayRouteMatch = RouteMatch<GatewayRoute>;

declare module '../common/request-context' {
  interface RequestContext {
    match?: GatewayRouteMatch;
    /** The normalised path the route table matched. */
    path?: string;
    /** The query string including `?`, or ''. */
    query?: string;
  }
}

/** Everything per-request code needs from one config snapshot, compiled once. */
export class RoutingState {
  readonly table: RouteTable<GatewayRoute>;
  readonly clientAddress: ClientAddressResolver;
  readonly cors: CorsHandler | undefined;

  constructor(
    readonly snapshot: ConfigSnapshot,
    services: ReadonlyMap<string, UpstreamService>,
  ) {
    this.table = RouteTable.compile(
      snapshot.services.flatMap(({ file, settings }, si) =>
        settings.routes.map((r, ri) => ({
          pattern: r.path,
          methods: r.methods,
          rewrite: r.rewrite,
          data: {
            settings: r,
            service: services.get(settings.name) as UpstreamService,
            file,
            plugins: snapshot.plugins.forRoute(si, ri),
          },
        })),
      ),
    );
    this.clientAddress = new ClientAddressResolver(snapshot.gateway.server.trustProxy);
    this.cors = corsHandler(snapshot.gateway.cors);
  }

  get server() {
    return this.snapshot.gateway.server;
  }
}

/** The compiled route table of the current snapshot, rebuilt atomically on reload. */
@Injectable()
export class GatewayRoutes implements OnModuleDestroy {
  private state: RoutingState;
  private readonly unsubscribe: () => void;

  constructor(config: GatewayConfig, registry: ServiceRegistry) {
    this.state = new RoutingState(config.current, registry.build(config.current));
    this.unsubscribe = config.onChange((next) => {
      const upstreams = registry.prepare(next);
      const state = new RoutingState(next, upstreams.services);
      return () => {
        upstreams.commit();
        this.state = state;
      };
    });
  }

  get current(): RoutingState {
    return this.state;
  }

  onModuleDestroy(): void {
    this.unsubscribe();
  }
}
