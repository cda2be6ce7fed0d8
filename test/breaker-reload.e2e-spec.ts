import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import request from 'supertest';

import { GatewayConfig } from '../src/config/gateway-config';
import { startBackend, type TestBackend } from './support/backend';
import { startTestGateway, type TestGateway } from './support/test-gateway';

const service = (url: string, resetTimeoutMs: number, extraRoute = '') =>
  [
    'name: flaky',
    `targets: [{ url: "${url}" }]`,
    'circuitBreaker:',
    '  volumeThreshold: 2',
    '  errorThresholdPercentage: 50',
    `  resetTimeoutMs: ${resetTimeoutMs}`,
    'routes:',
    '  - { path: /api/flaky/* }',
    extraRoute,
  ].join('\n');

describe('Circuit breakers across a reload (e2e)', () => {
  let backend: TestBackend;
  let gw: TestGateway;

  beforeAll(async () => {
    backend = await startBackend({ kind: 'status', status: 500, body: 'boom' });
    gw = await startTestGateway({
      gateway: 'rateLimit: { enabled: false }',
      services: { flaky: service(backend.url, 60_000) },
    });
  });

  afterAll(async () => {
    await gw.close();
    await backend.close();
  });

  const reload = (text: string) => {
    writeFileSync(join(gw.dir, 'services', 'flaky.yaml'), text);
    return gw.app.get(GatewayConfig).reload();
  };

  it('keeps an open breaker when the service file changed but its breaker settings did not', async () => {
    expect((await request(gw.url).get('/api/flaky/a')).status).toBe(500);
    expect((await request(gw.url).get('/api/flaky/a')).status).toBe(500);
    const open = await request(gw.url).get('/api/flaky/a');
    expect(open.status).toBe(503);
    const hits = backend.received.length;

    // A new route, same circuitBreaker block: still open, the backend still spared.
    expect(reload(service(backend.url, 60_000, '  - { path: /api/flaky2/* }')).ok).toBe(true);
    const still = await request(gw.url).get('/api/flaky/a');
    expect(still.status).toBe(503);
    expect((still.body as { message: string }).message).toBe('circuit open for service flaky');
    expect(backend.received.length).toBe(hits);
  });

  it('starts a new, closed breaker when the breaker settings change', async () => {
    backend.behaviour = { kind: 'echo' };
    expect(reload(service(backend.url, 30_000)).ok).toBe(true);
    const res = await request(gw.url).get('/api/flaky/a');
    expect(res.status).toBe(200);
    expect(res.headers['x-backend']).toBe('echo');
  });
});
