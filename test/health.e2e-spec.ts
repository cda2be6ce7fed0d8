import { startBackend, type TestBackend } from './support/backend';
import { call, refusingUrl } from './support/resilience-kit';
import { startTestGateway, type TestGateway } from './support/test-gateway';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface TerminusBody {
  status: string;
  info: Record<string, Record<string, unknown>>;
  error: Record<string, unknown>;
  details: Record<string, Record<string, unknown>>;
}

function service(name: string, url: string): string {
  return `name: ${name}\ntargets: [{ url: "${url}" }]\nroutes:\n  - path: /api/${name}/*\n`;
}

describe('Health endpoints', () => {
  let live: TestBackend;
  let refusing: string;
  let gw: TestGateway;

  beforeAll(async () => {
    live = await startBackend({ kind: 'echo' });
    refusing = await refusingUrl();
    gw = await startTestGateway({
      services: { live: service('live', live.url), gone: service('gone', refusing) },
    });
  });

  afterAll(async () => {
    await gw?.close();
    await live?.close();
  });

  const get = (path: string, headers?: Record<string, string>) => call(gw.port, path, { headers });
  const hosts = () => ({ live: new URL(live.url).host, gone: new URL(refusing).host });

  describe('GET /health', () => {
    it('answers 200 with the Terminus body, memory and event-loop figures in details', async () => {
      const r = await get('/health');
      expect(r.status).toBe(200);
      expect(r.headers['content-type']).toMatch(/^application\/json/);
      expect(r.headers['cache-control']).toBe('no-store');
      expect(r.headers['x-request-id']).toMatch(UUID);
      const body = JSON.parse(r.body) as TerminusBody;
      expect(body).toEqual({
        status: 'ok',
        info: {
          memory: {
            status: 'up',
            heapUsedMb: expect.any(Number),
            heapLimitMb: expect.any(Number),
            rssMb: expect.any(Number),
          },
          eventLoop: {
            status: 'up',
            delayP50Ms: expect.any(Number),
            delayP99Ms: expect.any(Number),
            delayMaxMs: expect.any(Number),
          },
        },
        error: {},
        details: body.info,
      });
      expect(body.details.memory.heapUsedMb).toBeGreaterThan(0);
      expect(body.details.memory.heapLimitMb).toBeGreaterThan(
        body.details.memory.heapUsedMb as number,
      );
      expect(body.details.eventLoop.delayP50Ms).toBeGreaterThanOrEqual(0);
      expect(live.received).toHaveLength(0);
    });

    it('a probe does not turn on async hooks for every later call (nestjs-pino middleware unmounted)', async () => {
      // On Node 20 the first AsyncLocalStorage.run enables an init hook for the life of the
      // process; nestjs-pino's per-request middleware did that on the first /health probe and
      // every proxied call after it paid for it. `enabled` is the field Node 20 keeps.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { storage } = require('nestjs-pino/storage') as {
        storage: { enabled?: boolean; getStore(): unknown };
      };
      expect((await get('/health')).status).toBe(200);
      expect((await get('/api/gateway/status')).status).toBeLessThan(500);
      expect((await get('/api/live/x')).status).toBe(200);
      expect(storage.enabled ?? false).toBe(false);
      expect(storage.getStore()).toBeUndefined();
    });

    it("echoes the client's sane X-Request-ID", async () => {
      const r = await get('/health', { 'X-Request-ID': 'probe-1.a:b_c' });
      expect(r.status).toBe(200);
      expect(r.headers['x-request-id']).toBe('probe-1.a:b_c');
    });
  });

  describe('GET /ready', () => {
    it('answers 200 listing each service with its breaker state and targets', async () => {
      const r = await get('/ready');
      expect(r.status).toBe(200);
      expect(r.headers['content-type']).toMatch(/^application\/json/);
      expect(r.headers['cache-control']).toBe('no-store');
      expect(r.headers['x-request-id']).toMatch(UUID);
      const body = JSON.parse(r.body) as TerminusBody;
      const { live: liveHost, gone: goneHost } = hosts();
      expect(body.status).toBe('ok');
      expect(body.error).toEqual({});
      expect(body.details).toEqual(body.info);
      expect(body.info.gateway).toEqual({
        status: 'up',
        phase: 'ready',
        configRevision: expect.any(String),
      });
      expect(body.info.upstreams).toEqual({
        status: 'up',
        services: {
          live: { circuit: 'closed', targets: [{ target: liveHost, healthy: true }] },
          gone: { circuit: 'closed', targets: [{ target: goneHost, healthy: true }] },
        },
      });
      expect(body.info.gateway.configRevision).not.toBe('');
    });

    it("echoes the client's sane X-Request-ID", async () => {
      const r = await get('/ready', { 'X-Request-ID': 'ready-probe-7' });
      expect(r.status).toBe(200);
      expect(r.headers['x-request-id']).toBe('ready-probe-7');
    });

    it('stays 200 with a backend down, showing that target unhealthy', async () => {
      const proxied = await get('/api/gone/x');
      expect(proxied.status).toBe(502);
      const r = await get('/ready');
      expect(r.status).toBe(200);
      const body = JSON.parse(r.body) as TerminusBody;
      expect(body.status).toBe('ok');
      expect(body.error).toEqual({});
      expect(body.details.upstreams.services).toEqual({
        live: { circuit: 'closed', targets: [{ target: hosts().live, healthy: true }] },
        gone: { circuit: 'closed', targets: [{ target: hosts().gone, healthy: false }] },
      });
    });
  });

  describe('with every backend down', () => {
    it('keeps /health and /ready at 200', async () => {
      await live.close();
      const proxied = await get('/api/live/x');
      expect(proxied.status).toBe(502);

      const health = await get('/health');
      expect(health.status).toBe(200);
      expect(health.headers['cache-control']).toBe('no-store');
      const hb = JSON.parse(health.body) as TerminusBody;
      expect(hb.status).toBe('ok');
      expect(hb.error).toEqual({});
      expect(Object.keys(hb.details).sort()).toEqual(['eventLoop', 'memory']);

      const ready = await get('/ready');
      expect(ready.status).toBe(200);
      const rb = JSON.parse(ready.body) as TerminusBody;
      expect(rb.status).toBe('ok');
      expect(rb.details.upstreams.services).toEqual({
        live: { circuit: 'closed', targets: [{ target: hosts().live, healthy: false }] },
        gone: { circuit: 'closed', targets: [{ target: hosts().gone, healthy: false }] },
      });
    });
  });
});
