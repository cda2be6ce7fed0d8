// Scale of configuration (issue "performance and scale"): 1,000 routes in 100 service files
// load, every one of them is reachable, and a reload of that config under load loses no call.
// How long the load and a match take is measured by `npm run bench:routes`, not here.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { loadConfig } from '../src/config/config-loader';
import { startBackend, type TestBackend } from './support/backend';
import { startTestGateway, type TestGateway } from './support/test-gateway';

const ADMIN_KEY = 'config-scale-admin-key-0123456789abcdef';
const FILES = 100;
const ROUTES_PER_FILE = 10;

/** services/s<f>.yaml: ten routes, literal, parameter and method-bound ones. */
function serviceFile(f: number, url: string, extra = ''): string {
  const routes: string[] = [];
  for (let r = 0; r < ROUTES_PER_FILE - 2; r++) {
    routes.push(`  - { path: /api/s${f}/r${r}/*, rewrite: /f${f}/r${r}/* }`);
  }
  routes.push(`  - { path: /api/s${f}/items/:id, rewrite: /f${f}/item/:id, methods: [GET] }`);
  routes.push(`  - { path: /api/s${f}/items, rewrite: /f${f}/items, methods: [POST] }`);
  return `name: s${f}\ntargets: [{ url: "${url}" }]\nroutes:\n${routes.join('\n')}\n${extra}`;
}

describe('Scale of configuration: 1,000 routes in 100 files (e2e)', () => {
  let backend: TestBackend;
  let gw: TestGateway;

  beforeAll(async () => {
    backend = await startBackend({ kind: 'echo' });
    const services: Record<string, string> = {};
    for (let f = 0; f < FILES; f++) services[`s${f}`] = serviceFile(f, backend.url);
    gw = await startTestGateway({
      gateway: [
        'auth:',
        '  apiKeys:',
        `    keys: [{ name: admin-bot, key: ${ADMIN_KEY}, roles: [admin] }]`,
        'rateLimit: { enabled: false }',
      ].join('\n'),
      services,
    });
  }, 60_000);

  afterAll(async () => {
    await gw?.close();
    await backend?.close();
  });

  it("loads all of them with the gateway's loader", () => {
    const loaded = loadConfig(gw.dir, {});
    if (!loaded.ok) throw new Error(loaded.problems.join('\n'));
    expect(loaded.snapshot.services).toHaveLength(FILES);
    expect(loaded.snapshot.services.flatMap((s) => s.settings.routes)).toHaveLength(
      FILES * ROUTES_PER_FILE,
    );
  });

  it('lists the 1,000 routes in the admin route table', async () => {
    const res = await fetch(`${gw.url}/api/gateway/routes`, {
      headers: { 'x-api-key': ADMIN_KEY },
    });
    expect(res.status).toBe(200);
    const routes = (await res.json()) as unknown[];
    expect(routes).toHaveLength(FILES * ROUTES_PER_FILE);
  });

  it('sends each call to the route its file defines', async () => {
    const calls: [string, string, string][] = [
      ['GET', '/api/s0/r0/a', '/f0/r0/a'],
      ['GET', '/api/s57/r7/deep/er?q=1', '/f57/r7/deep/er?q=1'],
      ['GET', '/api/s99/items/42', '/f99/item/42'],
      ['POST', '/api/s42/items', '/f42/items'],
    ];
    for (const [method, path, upstream] of calls) {
      backend.received.length = 0;
      const res = await fetch(`${gw.url}${path}`, {
        method,
        body: method === 'POST' ? '{}' : undefined,
      });
      expect({ path, status: res.status }).toEqual({ path, status: 200 });
      expect(backend.received.map((r) => `${r.method} ${r.url}`)).toEqual([
        `${method} ${upstream}`,
      ]);
    }
    // The method rules of one file do not leak into another's, nor a prefix into a neighbour.
    expect((await fetch(`${gw.url}/api/s42/items/1`, { method: 'DELETE' })).status).toBe(405);
    expect((await fetch(`${gw.url}/api/s100/r0/a`)).status).toBe(404);
    expect((await fetch(`${gw.url}/api/s1/r8/a`)).status).toBe(404);
  });

  it('reloads that config under load without losing a call', async () => {
    let stop = false;
    const statuses = new Map<number, number>();
    let calls = 0;
    const worker = async (n: number) => {
      for (let i = 0; !stop; i++) {
        const f = (n * 7 + i) % FILES;
        const res = await fetch(`${gw.url}/api/s${f}/r${i % 8}/x`);
        await res.arrayBuffer();
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        calls++;
      }
    };
    const load = Promise.all(Array.from({ length: 16 }, (_, n) => worker(n)));
    const reloads: number[] = [];
    for (let k = 0; k < 3; k++) {
      // Each reload changes a file: a route added to s0, so the table is rebuilt for real.
      writeFileSync(
        join(gw.dir, 'services', 's0.yaml'),
        serviceFile(0, backend.url, `  - { path: /api/s0/added${k}/*, rewrite: /added${k}/* }\n`),
      );
      const res = await fetch(`${gw.url}/api/gateway/reload`, {
        method: 'POST',
        headers: { 'x-api-key': ADMIN_KEY },
      });
      reloads.push(res.status);
      await new Promise((r) => setTimeout(r, 150));
    }
    stop = true;
    await load;
    expect(reloads).toEqual([200, 200, 200]);
    expect(calls).toBeGreaterThan(100);
    expect([...statuses.keys()]).toEqual([200]);
    backend.received.length = 0;
    expect((await fetch(`${gw.url}/api/s0/added2/z`)).status).toBe(200);
    expect(backend.received.map((r) => r.url)).toEqual(['/added2/z']);
  }, 60_000);
});
