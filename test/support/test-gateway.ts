// Starts the real gateway in-process (the same startGateway main.ts uses) on 127.0.0.1:0
// with a temporary config folder written from YAML strings.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';

import { __resetOutOfContextForTests } from 'nestjs-pino/PinoLogger';

import { readStartup } from '../../src/config/startup';
import { type RunningGateway, startGateway } from '../../src/gateway';
import { createGatewayLogger } from '../../src/logging/gateway-logger';

export interface ConfigFiles {
  /** gateway.yaml's text; omitted = no file (all defaults). */
  gateway?: string;
  /** services/<name>.yaml texts by file name (without .yaml). */
  services?: Record<string, string>;
  /** Extra files relative to the folder (keys, ...). */
  extra?: Record<string, string>;
}

export function writeConfigDir(
  files: ConfigFiles,
  dir = mkdtempSync(join(tmpdir(), 'gw-')),
): string {
  mkdirSync(join(dir, 'services'), { recursive: true });
  if (files.gateway !== undefined) writeFileSync(join(dir, 'gateway.yaml'), files.gateway);
  for (const [name, text] of Object.entries(files.services ?? {})) {
    writeFileSync(join(dir, 'services', `${name}.yaml`), text);
  }
  for (const [name, text] of Object.entries(files.extra ?? {})) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

export interface TestGateway extends RunningGateway {
  readonly url: string;
  readonly dir: string;
  /** Every JSON log line the gateway wrote, parsed. */
  readonly logs: Record<string, unknown>[];
  close(): Promise<void>;
}

export async function startTestGateway(
  files: ConfigFiles,
  env: Record<string, string | undefined> = {},
): Promise<TestGateway> {
  const dir = writeConfigDir(files);
  const startup = readStartup(dir, { LOG_LEVEL: 'debug', ...env });
  if (!startup.ok) throw new Error(`test config invalid:\n${startup.problems.join('\n')}`);
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) {
        if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
      }
      cb();
    },
  });
  // nestjs-pino keeps its root logger process-wide; each test app needs its own.
  __resetOutOfContextForTests();
  // The production logger's options (redaction included), writing into the sink.
  const logger = createGatewayLogger({ LOG_LEVEL: 'debug', LOG_FORMAT: 'json' }, sink);
  const running = await startGateway({
    snapshot: startup.snapshot,
    env: startup.raw,
    logger,
    port: 0,
    metricsPort: startup.env.METRICS_PORT,
    // An HTTPS listener (server.tls) on any free port unless the test names one.
    httpsPort: env.HTTPS_PORT === undefined ? 0 : startup.env.HTTPS_PORT,
    host: '127.0.0.1',
  });
  return {
    ...running,
    url: `http://127.0.0.1:${running.port}`,
    dir,
    logs,
    close: async () => {
      await running.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
