// Builds and starts the gateway: shared by main.ts and the e2e tests, so tests run exactly
// what production runs.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Logger } from 'nestjs-pino';
import type { Logger as Pino } from 'pino';

import { AppModule } from './app.module';
import type { ConfigSnapshot } from './config/config-loader';
import type { Env } from './config/env-substitution';
import { GatewayEntry } from './routing/gateway-entry';
import { GatewayHttpAdapter } from './routing/gateway-server';

export interface GatewayOptions {
  readonly snapshot: ConfigSnapshot;
  readonly env: Env;
  readonly logger: Pino;
  readonly port: number;
  readonly host: string;
}

export interface RunningGateway {
  readonly app: INestApplication;
  readonly server: Server;
  readonly port: number;
  close(): Promise<void>;
}

export async function startGateway(o: GatewayOptions): Promise<RunningGateway> {
  const adapter = new GatewayHttpAdapter(o.snapshot.gateway.server);
  const app = await NestFactory.create(
    AppModule.forRoot({ snapshot: o.snapshot, env: o.env, logger: o.logger }),
    adapter,
    { bufferLogs: true, abortOnError: false },
  );
  app.useLogger(app.get(Logger));
  await app.init();
  adapter.setRequestHandler(app.get(GatewayEntry).bind());
  await app.listen(o.port, o.host);
  const server = app.getHttpServer() as Server;
  const port = (server.address() as AddressInfo).port;
  o.logger.info({ port, host: o.host, revision: o.snapshot.revision }, 'gateway listening');
  return { app, server, port, close: () => app.close() };
}
