import { rmSync } from 'node:fs';
import { join } from 'node:path';

import request from 'supertest';

import { GatewayConfig } from '../src/config/gateway-config';
import { startBackend, type TestBackend } from './support/backend';
import { startTestGateway, type TestGateway } from './support/test-gateway';

const svc = (name: string, url: string) =>
  `name: ${name}\ntargets: [{ url: "${url}" }]\nroutes:\n  - { path: /api/${name}/* }\n`;

describe('Metrics after a reload (e2e)', () => {
  let backend: TestBackend;
  let gw: TestGateway;

  beforeAll(async () => {
    backend = await startBackend();
    gw = await startTestGateway({
      gateway: 'rateLimit: { enabled: false }',
      services: { mkeep: svc('mkeep', backend.url), mgone: svc('mgone', backend.url) },
    });
  });

  afterAll(async () => {
    await gw.close();
    await backend.close();
  });

  const scrape = async () => (await request(gw.url).get('/metrics')).text;

  it('drops the series of a service the reload removed, and keeps the others', async () => {
    const target = `127.0.0.1:${backend.port}`;
    const before = await scrape();
    expect(before).toContain(`gateway_upstream_target_up{service="mgone",target="${target}"} 1`);
    expect(before).toContain('gateway_circuit_breaker_state{service="mgone"} 0');

    rmSync(join(gw.dir, 'services', 'mgone.yaml'));
    const result = gw.app.get(GatewayConfig).reload();
    expect(result).toMatchObject({ ok: true, changed: ['services/mgone.yaml'] });

    const after = await scrape();
    expect(after).not.toContain('service="mgone"');
    expect(after).toContain(`gateway_upstream_target_up{service="mkeep",target="${target}"} 1`);
    expect(after).toContain('gateway_circuit_breaker_state{service="mkeep"} 0');
  });
});
