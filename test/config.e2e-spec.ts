import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import { existsSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { join, resolve } from 'node:path';

import { __resetOutOfContextForTests } from 'nestjs-pino/PinoLogger';
import request from 'supertest';

import { loadConfig } from '../src/config/config-loader';
import { GatewayConfig } from '../src/config/gateway-config';
import { startBackend, type TestBackend } from './support/backend';
import { waitUntil } from './support/poll';
import { startTestGateway, type TestGateway, writeConfigDir } from './support/test-gateway';

const ROOT = resolve(__dirname, '..');
const MAIN = join(ROOT, 'dist/src/main.js');

/** A request reaching the backend, and the like. */
const until = (cond: () => boolean, what: string, ms = 5000) => waitUntil(cond, ms, what, 5);

describe('Config (e2e)', () => {
  let backend: TestBackend;
  let gw: TestGateway | undefined;

  const service = (name: string, extra = '') =>
    `name: ${name}\ntargets: [{ url: "${backend.url}" }]\nroutes:\n  - path: /api/${name}/*\n    rewrite: /v1/*\n${extra}`;

  function running(): TestGateway {
    if (!gw) throw new Error('no gateway started');
    return gw;
  }
  const serviceFile = (name: string) => join(running().dir, 'services', `${name}.yaml`);
  const writeService = (name: string, text: string) => writeFileSync(serviceFile(name), text);

  beforeAll(async () => {
    backend = await startBackend();
  });

  // nestjs-pino keeps the first app's pino instance process-wide: without this, Nest's own
  // log lines (GatewayConfig's included) of every later gateway go to the first one's sink.
  beforeEach(() => __resetOutOfContextForTests());

  afterEach(async () => {
    await gw?.close();
    gw = undefined;
    backend.behaviour = { kind: 'echo' };
    backend.received.splice(0);
  });

  afterAll(async () => {
    await backend.close();
  });

  describe('reload on SIGHUP', () => {
    it('starts routing a service file added before the signal', async () => {
      gw = await startTestGateway({ services: { orders: service('orders') } });
      expect((await request(gw.url).get('/api/extra/a')).status).toBe(404);

      writeService('extra', service('extra'));
      process.emit('SIGHUP');

      const res = await request(gw.url).get('/api/extra/a?q=1');
      expect(res.status).toBe(200);
      expect(res.headers['x-backend']).toBe('echo');
      expect(backend.received.map((r) => r.url)).toEqual(['/v1/a?q=1']);
      expect((await request(gw.url).get('/api/orders/b')).status).toBe(200);
      expect(gw.logs).toContainEqual(
        expect.objectContaining({ msg: 'config reloaded', changed: ['services/extra.yaml'] }),
      );
    });

    it('answers 404 for the routes of a service file removed before the signal', async () => {
      gw = await startTestGateway({
        services: { orders: service('orders'), extra: service('extra') },
      });
      expect((await request(gw.url).get('/api/extra/a')).status).toBe(200);
      backend.received.splice(0);

      unlinkSync(serviceFile('extra'));
      process.emit('SIGHUP');

      const res = await request(gw.url).get('/api/extra/a');
      expect(res.status).toBe(404);
      expect(res.body).toEqual({
        statusCode: 404,
        error: 'Not Found',
        message: 'no route',
        requestId: res.headers['x-request-id'],
      });
      expect(backend.received).toEqual([]);
      expect((await request(gw.url).get('/api/orders/b')).status).toBe(200);
    });

    it('rejects a bad edit, logs the problem at warn level and keeps the old routes', async () => {
      gw = await startTestGateway({ services: { orders: service('orders') } });
      const config = gw.app.get(GatewayConfig);
      const before = config.current;

      writeService(
        'orders',
        service('orders').replace('/api/orders/*', '/api/renamed/*') + '    foo: 1\n',
      );
      process.emit('SIGHUP');

      expect(config.current).toBe(before);
      const warn = gw.logs.find((l) => l.level === 40 && JSON.stringify(l).includes('unknown key'));
      expect(warn).toBeDefined();
      expect(JSON.stringify(warn)).toContain('services/orders.yaml: routes[0].foo: unknown key');
      expect((await request(gw.url).get('/api/orders/a')).status).toBe(200);
      expect((await request(gw.url).get('/api/renamed/a')).status).toBe(404);
      expect(backend.received.map((r) => r.url)).toEqual(['/v1/a']);
    });

    it('lets a request in flight finish on the snapshot it started with', async () => {
      gw = await startTestGateway({
        services: { orders: service('orders'), slow: service('slow') },
      });
      backend.behaviour = { kind: 'delay', ms: 300 };
      const pending = request(gw.url)
        .get('/api/slow/a')
        .then((r) => r);
      await until(() => backend.received.length === 1, 'the call to reach the backend');

      unlinkSync(serviceFile('slow'));
      process.emit('SIGHUP');
      expect(gw.app.get(GatewayConfig).current.services.map((s) => s.settings.name)).toEqual([
        'orders',
      ]);
      expect((await request(gw.url).get('/api/slow/b')).status).toBe(404);

      const res = await pending;
      expect(res.status).toBe(200);
      expect(res.text).toBe('late');
      expect(backend.received.map((r) => r.url)).toEqual(['/v1/a']);
    });
  });

  describe('GatewayConfig.reload', () => {
    it('returns the new revision and the changed file', async () => {
      gw = await startTestGateway({ services: { orders: service('orders') } });
      const config = gw.app.get(GatewayConfig);
      const before = config.current.revision;

      writeService('x', service('x'));
      const result = config.reload();

      const expected = loadConfig(gw.dir, {});
      if (!expected.ok) throw new Error(expected.problems.join('\n'));
      expect(result).toEqual({
        ok: true,
        revision: expected.snapshot.revision,
        changed: ['services/x.yaml'],
      });
      expect(config.current.revision).toBe(expected.snapshot.revision);
      expect(expected.snapshot.revision).not.toBe(before);
      expect((await request(gw.url).get('/api/x/a')).status).toBe(200);

      expect(config.reload()).toEqual({
        ok: true,
        revision: expected.snapshot.revision,
        changed: [],
      });
    });

    it('returns the problems of an invalid folder and keeps the running snapshot', async () => {
      gw = await startTestGateway({ services: { orders: service('orders') } });
      const config = gw.app.get(GatewayConfig);
      const before = config.current;

      writeService('x', service('x') + '    foo: 1\n');
      expect(config.reload()).toEqual({
        ok: false,
        problems: ['services/x.yaml: routes[0].foo: unknown key'],
      });
      expect(config.current).toBe(before);
      expect((await request(gw.url).get('/api/x/a')).status).toBe(404);
    });
  });

  describe('the node process', () => {
    const dirs: string[] = [];
    let child: ChildProcessWithoutNullStreams | undefined;

    interface Exit {
      code: number | null;
      signal: NodeJS.Signals | null;
    }

    function launch(env: Record<string, string>) {
      const proc = spawn(process.execPath, [MAIN], {
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? '', ...env },
      });
      child = proc;
      let stdout = '';
      let stderr = '';
      proc.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
      proc.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
      const exited = new Promise<Exit>((res) =>
        proc.on('close', (code, signal) => res({ code, signal })),
      );
      return { proc, exited, out: () => stdout, err: () => stderr };
    }

    beforeAll(() => {
      if (existsSync(MAIN)) return;
      const build = spawnSync('npm', ['run', 'build'], { cwd: ROOT, encoding: 'utf8' });
      if (build.status !== 0)
        throw new Error(`npm run build failed:\n${build.stdout}${build.stderr}`);
    }, 180_000);

    afterEach(() => {
      if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      child = undefined;
      for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
    });

    it('exits 1 with one line per problem on stderr for an invalid folder', async () => {
      const dir = writeConfigDir({
        gateway: 'foo: 1\nserver:\n  bodyLimit: 1gb\n',
        services: {
          a: 'name: a\ntargets:\n  - url: ftp://x\nroutes:\n  - path: api/a\n',
        },
      });
      dirs.push(dir);
      const run = launch({ GATEWAY_CONFIG_DIR: dir, PORT: '0', HOST: '127.0.0.1' });
      const exit = await run.exited;

      expect(exit).toEqual({ code: 1, signal: null });
      expect(run.err().endsWith('\n')).toBe(true);
      expect(run.err().slice(0, -1).split('\n').sort()).toEqual([
        'gateway.yaml: foo: unknown key',
        'gateway.yaml: server.bodyLimit: must be a size such as 512kb or 1mb (b, kb, mb)',
        'services/a.yaml: routes[0].path: must start with /',
        'services/a.yaml: targets[0].url: must be an http:// or https:// URL',
      ]);
      expect(run.out()).not.toMatch(/^\s+at \S/m);
      expect(run.out()).not.toMatch(/Error:/);
    });

    it('serves a valid folder on PORT=0, proxies a GET and exits 0 on SIGTERM', async () => {
      const dir = writeConfigDir({ services: { orders: service('orders') } });
      dirs.push(dir);
      const run = launch({ GATEWAY_CONFIG_DIR: dir, PORT: '0', HOST: '127.0.0.1' });

      const port = await new Promise<number>((res, rej) => {
        const scan = () => {
          for (const line of run.out().split('\n')) {
            if (!line.includes('"msg":"gateway listening"')) continue;
            run.proc.stdout.off('data', scan);
            res((JSON.parse(line) as { port: number }).port);
            return;
          }
        };
        run.proc.stdout.on('data', scan);
        void run.exited.then((e) =>
          rej(new Error(`exited ${JSON.stringify(e)} before listening:\n${run.err()}`)),
        );
      });
      expect(port).toBeGreaterThan(0);

      const res = await new Promise<{ status: number; body: string }>((res, rej) => {
        httpGet({ host: '127.0.0.1', port, path: '/api/orders/items?id=7', agent: false }, (r) => {
          let body = '';
          r.setEncoding('utf8').on('data', (c: string) => (body += c));
          r.on('end', () => res({ status: r.statusCode ?? 0, body }));
        }).on('error', rej);
      });
      expect(res.status).toBe(200);
      expect((JSON.parse(res.body) as { url: string }).url).toBe('/v1/items?id=7');
      expect(backend.received.map((r) => r.url)).toEqual(['/v1/items?id=7']);

      run.proc.kill('SIGTERM');
      expect(await run.exited).toEqual({ code: 0, signal: null });
      expect(run.err()).not.toMatch(/^\s+at \S/m);
    });
  });
});
