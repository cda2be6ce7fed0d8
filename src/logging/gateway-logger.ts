import pino, { type DestinationStream, type Logger } from 'pino';

import { clusterWorkerId } from '../cluster/worker-channel';
import type { RuntimeEnv } from '../config/runtime-env';

/** Never logged, wherever they turn up in a logged object. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'req.headers["proxy-authorization"]',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  'headers["x-api-key"]',
  'headers["proxy-authorization"]',
  'headers["set-cookie"]',
];

/**
 * The one pino instance: Nest's logger (through nestjs-pino) and the access log share it.
 * `destination` (tests) replaces stdout; the options, redaction included, stay the same.
 */
export function createGatewayLogger(
  env: Pick<RuntimeEnv, 'LOG_LEVEL' | 'LOG_FORMAT'>,
  destination?: DestinationStream,
): Logger {
  const worker = clusterWorkerId();
  const options = {
    level: env.LOG_LEVEL,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    // GATEWAY_WORKERS > 1: every line says which worker wrote it.
    base: worker === undefined ? { pid: process.pid } : { pid: process.pid, worker },
  };
  if (destination) return pino(options, destination);
  if (env.LOG_FORMAT === 'pretty') {
    return pino({ ...options, transport: { target: 'pino-pretty', options: { colorize: true } } });
  }
  // Asynchronous: under load, lines that arrive while a write is in flight go out together
  // instead of one blocking syscall each; a quiet line is still written at once. Flushed
  // before exit.
  return pino(options, pino.destination({ dest: 1, sync: false }));
}
