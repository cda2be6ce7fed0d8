import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Logger } from '@nestjs/common';

import { type ConfigSnapshot, loadConfig } from './config-loader';
import { GatewayConfig } from './gateway-config';

describe('GatewayConfig reload', () => {
  let dir: string;
  let config: GatewayConfig;

  beforeEach(() => {
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    dir = mkdtempSync(join(tmpdir(), 'gw-reload-'));
    writeFileSync(join(dir, 'gateway.yaml'), 'server: { requestTimeoutMs: 1000 }\n');
    const loaded = loadConfig(dir, {});
    if (!loaded.ok) throw new Error(loaded.problems.join('\n'));
    config = new GatewayConfig({ initial: loaded.snapshot, env: {} });
  });
  afterEach(() => {
    jest.restoreAllMocks();
    rmSync(dir, { recursive: true, force: true });
  });

  it('builds everything first, then swaps the snapshot and runs every commit', () => {
    const seen: string[] = [];
    config.onChange((next) => {
      seen.push(`prepare a (current ${config.current.gateway.server.requestTimeoutMs})`);
      return () => seen.push(`commit a ${next.gateway.server.requestTimeoutMs}`);
    });
    config.onChange(() => {
      seen.push('prepare b');
      return () =>
        seen.push(`commit b (current ${config.current.gateway.server.requestTimeoutMs})`);
    });
    writeFileSync(join(dir, 'gateway.yaml'), 'server: { requestTimeoutMs: 2000 }\n');
    expect(config.reload()).toMatchObject({ ok: true, changed: ['gateway.yaml'] });
    expect(seen).toEqual([
      'prepare a (current 1000)',
      'prepare b',
      'commit a 2000',
      'commit b (current 2000)',
    ]);
  });

  it('a listener that throws rejects the reload and changes nothing', () => {
    const before: ConfigSnapshot = config.current;
    const committed: string[] = [];
    config.onChange(() => () => committed.push('a'));
    config.onChange(() => {
      throw new Error('cannot build the key table');
    });
    const results: unknown[] = [];
    config.onReload((r) => results.push(r));
    writeFileSync(join(dir, 'gateway.yaml'), 'server: { requestTimeoutMs: 3000 }\n');
    const r = config.reload();
    expect(r).toEqual({ ok: false, problems: ['(reload): cannot build the key table'] });
    expect(results).toEqual([r]);
    expect(config.current).toBe(before);
    expect(committed).toEqual([]);
  });
});
