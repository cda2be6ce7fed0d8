// The gateway as a Nest module: what `npm start` runs (through AppModule) and what an
// application imports to run the gateway with plugins of its own, written as @Injectable()
// providers with injected services.
import {
  type DynamicModule,
  Inject,
  Injectable,
  type InjectionToken,
  Module,
  type ModuleMetadata,
  type Provider,
  type Type,
} from '@nestjs/common';
import { APP_FILTER, APP_GUARD, HttpAdapterHost } from '@nestjs/core';
import type { Logger } from 'pino';

import { GatewayAdminModule } from './admin/gateway-admin.module';
import { AuthModule } from './auth/auth.module';
import { OwnEndpointsGuard } from './auth/own-endpoints.guard';
import { AllExceptionsFilter } from './common/all-exceptions.filter';
import { type ConfigSnapshot, loadConfig } from './config/config-loader';
import type { Env } from './config/env-substitution';
import { GatewayConfig } from './config/gateway-config';
import { GatewayConfigModule } from './config/gateway-config.module';
import { parseRuntimeEnv } from './config/runtime-env';
import { HealthModule } from './health/health.module';
import { createGatewayLogger } from './logging/gateway-logger';
import { LoggingModule } from './logging/logging.module';
import { MetricsModule } from './metrics/metrics.module';
import { OAuthModule } from './oauth/oauth.module';
import type { GatewayPlugin } from './plugins/plugin-api';
import { GatewayHttpAdapter } from './routing/gateway-server';
import { RoutingModule } from './routing/routing.module';
import { TracingModule } from './tracing/tracing.module';

export interface GatewayModuleOptions {
  /** The config folder; default `GATEWAY_CONFIG_DIR` of `env`, else `./config`. */
  readonly configDir?: string;
  /** For `${VAR}` substitution and the runtime settings; default `process.env`. */
  readonly env?: Env;
  /** Default: the gateway's JSON logger at `LOG_LEVEL` / `LOG_FORMAT`. */
  readonly logger?: Logger;
  /**
   * Plugins as Nest providers (`@Injectable()` classes implementing GatewayPlugin): Nest
   * creates them with their dependencies, which come from `imports`.
   */
  readonly plugins?: readonly Type<GatewayPlugin>[];
  /** Modules the plugins' dependencies come from. */
  readonly imports?: ModuleMetadata['imports'];
  /** A config already loaded and checked (start-up prints problems before Nest starts). */
  readonly snapshot?: ConfigSnapshot;
}

/** Where the config comes from, when a factory decides it (forRootAsync). */
export interface GatewayConfigSource {
  readonly configDir?: string;
  readonly env?: Env;
  readonly snapshot?: ConfigSnapshot;
}

export interface GatewayModuleAsyncOptions {
  /** Modules the factory's and the plugins' dependencies come from. */
  readonly imports?: ModuleMetadata['imports'];
  readonly inject?: InjectionToken[];
  // As Nest's own factories: the injected values' types are the caller's to state.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly useFactory: (...deps: any[]) => GatewayConfigSource | Promise<GatewayConfigSource>;
  /** Default: the gateway's JSON logger at `LOG_LEVEL` / `LOG_FORMAT` of process.env. */
  readonly logger?: Logger;
  readonly plugins?: readonly Type<GatewayPlugin>[];
}

/** The registered plugin instances, in the order given. */
export const GATEWAY_PLUGINS = Symbol('GATEWAY_PLUGINS');

/** Gives the HTTP adapter the config's server settings before Nest creates the server. */
@Injectable()
class ServerSettingsBridge {
  constructor(host: HttpAdapterHost, @Inject(GatewayConfig) config: GatewayConfig) {
    const adapter = host.httpAdapter as unknown;
    if (adapter instanceof GatewayHttpAdapter) adapter.configure(config.current.gateway.server);
  }
}

@Module({})
class GatewayPluginsModule {
  static register(classes: readonly Type<GatewayPlugin>[], imports: ModuleMetadata['imports']) {
    const list: Provider = {
      provide: GATEWAY_PLUGINS,
      useFactory: (...plugins: GatewayPlugin[]) => plugins,
      inject: [...classes],
    };
    return {
      module: GatewayPluginsModule,
      imports: imports ?? [],
      providers: [...classes, list],
      exports: [GATEWAY_PLUGINS],
    };
  }
}

@Module({})
export class GatewayModule {
  static forRoot(options: GatewayModuleOptions = {}): DynamicModule {
    const env = options.env ?? process.env;
    const runtime = parseRuntimeEnv({ ...env });
    const logger = options.logger ?? createGatewayLogger(runtime);
    const config = GatewayConfigModule.forRootAsync({
      imports: [GatewayPluginsModule.register(options.plugins ?? [], options.imports)],
      inject: [GATEWAY_PLUGINS],
      useFactory: (plugins: GatewayPlugin[]) => ({
        initial:
          options.snapshot ??
          loadOrThrow(options.configDir ?? runtime.GATEWAY_CONFIG_DIR, env, plugins),
        env,
        plugins,
      }),
    });
    return GatewayModule.compose(config, logger);
  }

  /**
   * As forRoot, with the config's folder, env or snapshot from a factory that Nest injects
   * (a config service, a secrets client). The logger is made up front: pass one, or the
   * gateway's own is built from process.env.
   */
  static forRootAsync(options: GatewayModuleAsyncOptions): DynamicModule {
    const logger = options.logger ?? createGatewayLogger(parseRuntimeEnv({ ...process.env }));
    const config = GatewayConfigModule.forRootAsync({
      imports: [
        GatewayPluginsModule.register(options.plugins ?? [], options.imports),
        ...(options.imports ?? []),
      ],
      inject: [GATEWAY_PLUGINS, ...(options.inject ?? [])],
      useFactory: async (plugins: GatewayPlugin[], ...deps: unknown[]) => {
        const source = await options.useFactory(...deps);
        const env = source.env ?? process.env;
        const dir = source.configDir ?? parseRuntimeEnv({ ...env }).GATEWAY_CONFIG_DIR;
        return { initial: source.snapshot ?? loadOrThrow(dir, env, plugins), env, plugins };
      },
    });
    return GatewayModule.compose(config, logger);
  }

  private static compose(config: DynamicModule, logger: Logger): DynamicModule {
    return {
      module: GatewayModule,
      imports: [
        config,
        LoggingModule.forRoot(logger),
        MetricsModule,
        TracingModule,
        AuthModule,
        OAuthModule,
        RoutingModule,
        HealthModule,
        GatewayAdminModule,
      ],
      providers: [
        ServerSettingsBridge,
        { provide: APP_FILTER, useClass: AllExceptionsFilter },
        { provide: APP_GUARD, useClass: OwnEndpointsGuard },
      ],
    };
  }
}

function loadOrThrow(dir: string, env: Env, plugins: readonly GatewayPlugin[]): ConfigSnapshot {
  const loaded = loadConfig(dir, env, plugins);
  if (!loaded.ok) throw new Error(`the gateway config is invalid:\n${loaded.problems.join('\n')}`);
  return loaded.snapshot;
}
