// The image's file tree, assembled the way the Dockerfile does (no Docker engine here): the
// compiled dist/, the shipped config/ and `npm ci --omit=dev --ignore-scripts` from the npm
// cache, in a folder of its own. The gateway must start from it with `node dist/src/main.js`
// and serve its probes, metrics, docs and a proxied call; the tools must run from dist/.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import { startBackend, type TestBackend } from './support/backend';
import { freePort } from './support/listen';
import { poll } from './support/poll';
import { rawRequest } from './support/raw-http';

const ROOT = resolve(__dirname, '..');
const SECRET = 'production-tree-hs256-secret-7d1c5b9e3a';

/** A Node version at least `major.minor`. */
const nodeAtLeast = (major: number, minor: number) => {
  const [a, b] = process.versions.node.split('.').map(Number);
  return a > major || (a === major && b >= minor);
};

describe('The production tree (what the image holds)', () => {
  let app: string;
  let backend: TestBackend;
  let gateway: ChildProcess | undefined;
  let port: number;
  let metricsPort: number;
  let out = '';

  beforeAll(async () => {
    app = mkdtempSync(join(tmpdir(), 'gw-prod-'));
    const tsc = spawnSync(
      process.execPath,
      [
        join(ROOT, 'node_modules/typescript/bin/tsc'),
        '-p',
        join(ROOT, 'tsconfig.build.json'),
        '--outDir',
        join(app, 'dist'),
      ],
      { encoding: 'utf8' },
    );
    if (tsc.status !== 0) throw new Error(`tsc failed:\n${tsc.stdout}${tsc.stderr}`);
    for (const f of ['package.json', 'package-lock.json']) cpSync(join(ROOT, f), join(app, f));
    cpSync(join(ROOT, 'config'), join(app, 'config'), { recursive: true });
    const ci = spawnSync(
      'npm',
      ['ci', '--omit=dev', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund'],
      { cwd: app, encoding: 'utf8', env: { ...process.env, NODE_ENV: 'production' } },
    );
    if (ci.status !== 0) throw new Error(`npm ci --omit=dev failed:\n${ci.stdout}${ci.stderr}`);

    backend = await startBackend({ kind: 'echo' });
    port = await freePort();
    metricsPort = await freePort();
    gateway = spawn(process.execPath, ['dist/src/main.js'], {
      cwd: app,
      env: {
        PATH: process.env.PATH,
        NODE_ENV: 'production',
        PORT: String(port),
        METRICS_PORT: String(metricsPort),
        HOST: '127.0.0.1',
        GATEWAY_CONFIG_DIR: join(app, 'config'),
        JWT_SECRET: SECRET,
        SERVICE1_URL: backend.url,
        SERVICE2_URL: backend.url,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    gateway.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    gateway.stderr!.on('data', (b: Buffer) => (out += b.toString()));
    await poll(
      () => (out.includes('"gateway listening"') ? true : undefined),
      20_000,
      'the gateway to listen',
      50,
    ).catch((e: Error) => {
      throw new Error(`${e.message}\n${out}`);
    });
  }, 240_000);

  afterAll(async () => {
    if (gateway && gateway.exitCode === null) {
      gateway.kill('SIGKILL');
      await new Promise((r) => gateway!.once('exit', r));
    }
    await backend?.close();
    if (app) rmSync(app, { recursive: true, force: true });
  });

  it('holds no development dependency', () => {
    for (const dev of ['typescript', 'jest', 'pino-pretty', '@nestjs/testing', 'fast-check']) {
      expect({ dev, installed: existsSync(join(app, 'node_modules', dev)) }).toEqual({
        dev,
        installed: false,
      });
    }
  });

  it('serves /health, /ready, the docs and a proxied call on PORT', async () => {
    expect((await rawRequest({ port, path: '/health' })).status).toBe(200);
    expect((await rawRequest({ port, path: '/ready' })).status).toBe(200);
    const docs = await rawRequest({ port, path: '/api/gateway/docs-json' });
    expect(docs.status).toBe(200);
    expect(JSON.parse(docs.body.toString('utf8'))).toMatchObject({ openapi: expect.any(String) });
    expect((await rawRequest({ port, path: '/api/gateway/docs' })).status).toBe(200);
    const call = await rawRequest({ port, path: '/api/service1/orders' });
    expect(call.status).toBe(200);
    expect(backend.received.at(-1)?.url).toBe('/api/orders');
  });

  it('serves /metrics on METRICS_PORT only', async () => {
    const m = await rawRequest({ port: metricsPort, path: '/metrics' });
    expect(m.status).toBe(200);
    expect(m.body.toString('utf8')).toContain('gateway_requests_total{');
    expect((await rawRequest({ port, path: '/metrics' })).status).toBe(404);
  });

  it('runs config-check from dist/ (no TypeScript in the tree)', () => {
    const env = { PATH: process.env.PATH, JWT_SECRET: SECRET };
    const r = spawnSync(process.execPath, ['dist/scripts/config-check.js', 'config'], {
      cwd: app,
      encoding: 'utf8',
      env,
    });
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
    expect(r.stdout).toMatch(/: ok \(revision [0-9a-f]{16}, 2 services, 2 routes\)/);
    const npm = spawnSync('node', ['scripts/run-built.js', 'config-check', '--help'], {
      cwd: app,
      encoding: 'utf8',
      env,
    });
    // scripts/ is not in the image; the runner is for checkouts. dist/ is what the docs give.
    expect(npm.status).not.toBe(0);
  });

  it('refuses an argon2 secretHash with one clear line where argon2 cannot load, accepts it where it can', () => {
    const dir = join(app, 'hashed');
    cpSync(join(app, 'config'), dir, { recursive: true });
    // A well-formed argon2id PHC string (the secret does not matter here).
    const hash =
      '$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHRzYWx0c2FsdA$4NhrKJ3QNqzWcyJxPz3RaX3tbx3Oz8QkqKDs0K7zMjQ';
    writeFileSync(
      join(dir, 'gateway.yaml'),
      `auth:\n  jwt:\n    secret: ${SECRET}\noauth:\n  clients:\n    - { clientId: hashed, secretHash: "${hash}" }\n`,
    );
    const r = spawnSync(process.execPath, ['dist/scripts/config-check.js', dir], {
      cwd: app,
      encoding: 'utf8',
      env: { PATH: process.env.PATH },
    });
    if (nodeAtLeast(22, 14)) {
      expect(r.status).toBe(0);
    } else {
      // Node 20 with --ignore-scripts keeps only argon2's Node-API 10 prebuilds, which crash.
      expect(r.status).toBe(1);
      expect(r.stderr.trim().split('\n')).toEqual([
        expect.stringMatching(
          /^gateway\.yaml: oauth\.clients\[0\]\.secretHash: the argon2 native module (crashed \(SIG\w+\)|failed \(exit \S+\)) on Node [\d.]+: reinstall with install scripts/,
        ),
      ]);
    }
  });

  it('drains and exits 0 on SIGTERM', async () => {
    gateway!.kill('SIGTERM');
    const code = await new Promise<number | null>((r) => gateway!.once('exit', r));
    expect(code).toBe(0);
    expect(out).toContain('"gateway stopped"');
  });
});
