// examples/tenant-plugin: a Nest application that imports the gateway and registers an
// @Injectable() plugin with an injected service, run against a real backend.
import { join } from 'node:path';

import { __resetOutOfContextForTests } from 'nestjs-pino/PinoLogger';
import pino from 'pino';

import { AppModule } from '../examples/tenant-plugin/src/app.module';
import { TenantDirectory } from '../examples/tenant-plugin/src/tenant-directory';
import { bootstrapGateway, GatewayModule, type RunningGateway } from '../src';
import { startBackend, type TestBackend } from './support/backend';
import { rawRequest } from './support/raw-http';

describe('examples/tenant-plugin', () => {
  let backend: TestBackend;
  let gw: RunningGateway;
  const dir = join(__dirname, '../examples/tenant-plugin/config');

  beforeAll(async () => {
    backend = await startBackend();
    // The example's config says ${ORDERS_URL:-...}; it is read when the module loads it.
    process.env.ORDERS_URL = backend.url;
    __resetOutOfContextForTests();
    gw = await bootstrapGateway(AppModule, { port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await gw.close();
    await backend.close();
    delete process.env.ORDERS_URL;
  });

  const get = (path: string, headers: Record<string, string> = {}) =>
    rawRequest({ port: gw.port, path, headers });

  it('a known tenant reaches the backend with the headers the plugin set', async () => {
    const before = backend.received.length;
    const r = await get('/api/orders/1', { 'x-tenant': 'acme' });
    expect(r.status).toBe(200);
    expect(backend.received.length).toBe(before + 1);
    const h = backend.received[before].headers;
    expect(h['x-tenant-id']).toBe('acme');
    expect(h['x-tenant-name']).toBe('ACME Corp');
    // The injected service did the lookup.
    expect(gw.app.get(TenantDirectory).lookups).toBeGreaterThan(0);
  });

  it('an unknown or missing tenant is refused before anything is forwarded', async () => {
    const before = backend.received.length;
    const unknown = await get('/api/orders/1', { 'x-tenant': 'initech' });
    expect(unknown.status).toBe(403);
    expect(JSON.parse(unknown.body.toString())).toMatchObject({
      statusCode: 403,
      message: 'unknown tenant',
    });
    const missing = await get('/api/orders/1');
    expect(missing.status).toBe(400);
    expect(JSON.parse(missing.body.toString())).toMatchObject({ message: 'x-tenant is required' });
    expect(backend.received.length).toBe(before);
  });

  it("the route's options apply: another header, only plan pro", async () => {
    expect((await get('/api/reports/q3', { 'x-org': 'acme' })).status).toBe(200);
    const free = await get('/api/reports/q3', { 'x-org': 'globex' });
    expect(free.status).toBe(403);
    expect(JSON.parse(free.body.toString())).toMatchObject({
      message: 'plan free cannot use this route',
    });
  });

  it('the gateway endpoints work in the application too', async () => {
    expect((await get('/health')).status).toBe(200);
    expect((await get('/ready')).status).toBe(200);
  });

  it('a route naming a plugin the application did not register is a config error at start', async () => {
    __resetOutOfContextForTests();
    await expect(
      bootstrapGateway(
        GatewayModule.forRoot({ configDir: dir, logger: pino({ level: 'silent' }) }),
        { port: 0, host: '127.0.0.1' },
      ),
    ).rejects.toThrow('services/orders.yaml: routes[0].plugins[0].name: unknown plugin "tenant"');
  });
});
