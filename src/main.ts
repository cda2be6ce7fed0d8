import cluster from 'node:cluster';

import { clusterWorkerId, tellPrimary } from './cluster/worker-channel';
import { readStartup } from './config/startup';
import { createGatewayLogger } from './logging/gateway-logger';
import { readTracingConfig } from './tracing/gateway-tracing';

async function main(): Promise<void> {
  const startup = readStartup();
  if (!startup.ok) {
    // With GATEWAY_WORKERS > 1 the primary checks first: one report, not one per worker.
    for (const line of startup.problems) process.stderr.write(`${line}\n`);
    process.exitCode = 1;
    return;
  }
  // OTEL_* problems (a grpc protocol, a bad sampler) stop start-up with one line, too.
  const tracing = readTracingConfig(startup.raw);
  if (!tracing.ok) {
    process.stderr.write(`${tracing.problem}\n`);
    process.exitCode = 1;
    return;
  }
  const logger = createGatewayLogger(startup.env);
  if (startup.env.GATEWAY_WORKERS > 1 && cluster.isPrimary) {
    // The primary never loads Nest (contract: Scale).
    const { runPrimary } = await import('./primary');
    runPrimary({
      workers: startup.env.GATEWAY_WORKERS,
      logger,
      shutdownTimeoutMs: startup.snapshot.gateway.server.shutdownTimeoutMs,
    });
    return;
  }
  const { exitFlushed, startGateway } = await import('./gateway');
  try {
    await startGateway({
      snapshot: startup.snapshot,
      env: startup.raw,
      logger,
      port: startup.env.PORT,
      host: startup.env.HOST,
      metricsPort: startup.env.METRICS_PORT,
      httpsPort: startup.env.HTTPS_PORT,
      handleSignals: true,
    });
    if (clusterWorkerId() !== undefined) tellPrimary('ready');
  } catch (err) {
    logger.fatal({ err }, 'gateway failed to start');
    exitFlushed(logger, 1);
  }
}

void main();
