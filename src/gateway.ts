// Builds and starts the gateway: shared by main.ts and the e2e tests, so tests run exactly
// what production runs.
import type { Server } from 'node:http';
import type { Http2SecureServer } from 'node:http2';
import type { AddressInfo } from 'node:net';

import type { DynamicModule, INestApplication, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Logger } from 'nestjs-pino';
import type { Logger as Pino } from 'pino';

import { setupOpenApi } from './admin/openapi';
import { AppModule } from './app.module';
import { tellPrimary } from './cluster/worker-channel';
import { mapBodyErrors, OWN_BODY_LIMIT } from './common/body-errors';
import { listenOn } from './common/listen';
import type { ConfigSnapshot } from './config/config-loader';
import type { Env } from './config/env-substitution';
import { GatewayConfig } from './config/gateway-config';
import { GATEWAY_PINO } from './logging/logging.constants';
import { closeMetricsListener, startMetricsListener } from './metrics/metrics-listener';
import { GatewayEntry } from './routing/gateway-entry';
import { createTlsServer, GatewayHttpAdapter, http2SessionsOf } from './routing/gateway-server';
import { ServerLifecycle } from './routing/server-lifecycle';
import { closeAllWebSockets } from './routing/upstream/websocket-bridge';

export interface GatewayOptions {
  readonly snapshot: ConfigSnapshot;
  readonly env: Env;
  readonly logger: Pino;
  readonly port: number;
  readonly host: string;
  /** METRICS_PORT: /metrics only on this port (0 = any free port, for tests). */
  readonly metricsPort?: number;
  /** HTTPS_PORT: the HTTPS listener's port when server.tls is set (0 = any free port). */
  readonly httpsPort?: number;
  /** Drain and exit on SIGTERM / SIGINT (the process's gateway; not in-process tests). */
  readonly handleSignals?: boolean;
}

export interface RunningGateway {
  readonly app: INestApplication;
  readonly server: Server;
  readonly port: number;
  /** The metrics listener's port, when METRICS_PORT is set. */
  readonly metricsPort?: number;
  /** The HTTPS listener's port, when server.tls is set. */
  readonly httpsPort?: number;
  /** The contract's graceful shutdown: drain, then close everything. Resolves once done. */
  shutdown(): Promise<void>;
  close(): Promise<void>;
}

/** Exits once the buffered log lines are written. */
export function exitFlushed(logger: Pino, code: number): void {
  logger.flush(() => process.exit(code));
}

export interface BootstrapOptions {
  readonly port: number;
  readonly host?: string;
  readonly metricsPort?: number;
  readonly httpsPort?: number;
  /** Drain and exit on SIGTERM / SIGINT (the process's gateway; not in-process tests). */
  readonly handleSignals?: boolean;
}

/** Starts the gateway from the config start-up already loaded (`npm start`, the tests). */
export async function startGateway(o: GatewayOptions): Promise<RunningGateway> {
  return bootstrapGateway(
    AppModule.forRoot({ snapshot: o.snapshot, env: o.env, logger: o.logger }),
    {
      port: o.port,
      host: o.host,
      metricsPort: o.metricsPort,
      httpsPort: o.httpsPort,
      handleSignals: o.handleSignals,
    },
  );
}

/**
 * Starts an application module that imports GatewayModule.forRoot(...): the gateway's
 * HTTP server, its request entry in front of Express, and the contract's shutdown.
 */
export async function bootstrapGateway(
  module: Type<unknown> | DynamicModule,
  o: BootstrapOptions,
): Promise<RunningGateway> {
  const adapter = new GatewayHttpAdapter();
  const app = await NestFactory.create<NestExpressApplication>(module, adapter, {
    bufferLogs: true,
    abortOnError: false,
    bodyParser: false,
  });
  const pino = app.get<Pino>(GATEWAY_PINO);
  app.useLogger(app.get(Logger));
  // Own endpoints only (proxied calls never reach Express): bounded bodies, parser errors
  // as 400/413/415 (common/body-errors.ts), no X-Powered-By.
  app.disable('x-powered-by');
  app.useBodyParser('json', { limit: OWN_BODY_LIMIT });
  app.useBodyParser('urlencoded', { limit: OWN_BODY_LIMIT, extended: false });
  app.use(mapBodyErrors);
  setupOpenApi(app);
  await app.init();
  const entry = app.get(GatewayEntry);
  adapter.setRequestHandler(entry.bind());
  app.getHttpServer().on('upgrade', entry.upgrade);
  const host = o.host ?? '0.0.0.0';
  await app.listen(o.port, host);
  const server = app.getHttpServer();
  const port = (server.address() as AddressInfo).port;
  const https = await startHttps(app, entry, host, o.httpsPort ?? 8081);
  const httpsPort = https && (https.address() as AddressInfo).port;
  const metricsServer =
    o.metricsPort === undefined ? undefined : await startMetricsListener(host, o.metricsPort);
  const metricsPort = metricsServer && (metricsServer.address() as AddressInfo).port;
  const close = async () => {
    if (metricsServer) await closeMetricsListener(metricsServer);
    if (https) {
      https.close();
      http2SessionsOf(https)?.destroyAll();
    }
    closeAllWebSockets();
    entry.endUpgrades();
    http2SessionsOf(server)?.destroyAll();
    await app.close();
  };
  const lifecycle = app.get(ServerLifecycle);
  lifecycle.markReady();
  const revision = app.get(GatewayConfig).current.revision;
  pino.info({ port, host, httpsPort, metricsPort, revision }, 'gateway listening');

  let stopping: Promise<void> | undefined;
  const shutdown = () => {
    stopping ??= (async () => {
      const config = app.get(GatewayConfig).current.gateway.server;
      // GATEWAY_WORKERS > 1: the primary's kill deadline follows this worker's setting.
      tellPrimary('draining', { shutdownTimeoutMs: config.shutdownTimeoutMs });
      pino.info(
        { inFlight: lifecycle.requestsInFlight, shutdownTimeoutMs: config.shutdownTimeoutMs },
        'draining',
      );
      const cut = await lifecycle.drain(https ? [server, https] : server, config.shutdownTimeoutMs);
      if (cut > 0) pino.warn({ cut }, 'drain time ran out: requests cut');
      await close();
      pino.info('gateway stopped');
    })();
    return stopping;
  };
  if (o.handleSignals) {
    const onSignal = (signal: NodeJS.Signals) => {
      pino.info({ signal }, 'shutdown signal received');
      shutdown().then(
        () => exitFlushed(pino, 0),
        (err: unknown) => {
          pino.error({ err }, 'shutdown failed');
          exitFlushed(pino, 1);
        },
      );
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  }
  return { app, server, port, metricsPort, httpsPort, shutdown, close };
}

/**
 * server.tls: the HTTPS listener beside the plain one, with the same request and upgrade
 * handlers. A reload that changes the files replaces the certificate in place (new
 * handshakes use it); adding or removing server.tls takes effect at the next start.
 */
async function startHttps(
  app: INestApplication,
  entry: GatewayEntry,
  host: string,
  port: number,
): Promise<Http2SecureServer | undefined> {
  const config = app.get(GatewayConfig);
  const tls = config.current.keys.serverTls;
  if (!tls) return undefined;
  const settings = config.current.gateway.server;
  const handler = app.get(GatewayEntry).handle;
  const server = createTlsServer(settings, tls, handler);
  server.on('upgrade', entry.upgrade);
  let current = tls;
  config.onReload((r) => {
    const next = config.current.keys.serverTls;
    if (!r.ok || !next || (next.cert === current.cert && next.key === current.key)) return;
    server.setSecureContext({
      cert: next.cert,
      key: next.key,
      minVersion: config.current.gateway.server.tls?.minVersion ?? 'TLSv1.2',
    });
    current = next;
  });
  await listenOn(server, port, host);
  return server;
}
