import { readStartup } from './config/startup';
import { exitFlushed, startGateway } from './gateway';
import { createGatewayLogger } from './logging/gateway-logger';

async function main(): Promise<void> {
  const startup = readStartup();
  if (!startup.ok) {
    for (const line of startup.problems) process.stderr.write(`${line}\n`);
    process.exitCode = 1;
    return;
  }
  const logger = createGatewayLogger(startup.env);
  try {
    await startGateway({
      snapshot: startup.snapshot,
      env: startup.raw,
      logger,
      port: startup.env.PORT,
      host: startup.env.HOST,
      handleSignals: true,
    });
  } catch (err) {
    logger.fatal({ err }, 'gateway failed to start');
    exitFlushed(logger, 1);
  }
}

void main();
