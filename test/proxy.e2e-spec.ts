import request from 'supertest';

import { startBackend, type TestBackend } from './support/backend';
import { startTestGateway, type TestGateway } from './support/test-gateway';

describe('Proxy (e2e)', () => {
  let backend: TestBackend;
  let gw: TestGateway;

  beforeAll(async () => {
    backend = await startBackend();
    gw = await startTestGateway({
      services: {
        orders: `name: orders\ntargets: [{ url: "${backend.url}" }]\nroutes:\n  - path: /api/orders/*\n    rewrite: /v1/*\n`,
      },
    });
  });

  afterAll(async () => {
    await gw.close();
    await backend.close();
  });

  beforeEach(() => backend.received.splice(0));

  it('forwards method, rewritten path, query and body', async () => {
    const res = await request(gw.url)
      .post('/api/orders/42/items?x=1&y=%20')
      .set('Content-Type', 'application/json')
      .send('{"a":1}');
    expect(res.status).toBe(200);
    expect(res.headers['x-backend']).toBe('echo');
    expect(backend.received).toHaveLength(1);
    const got = backend.received[0];
    expect(got.method).toBe('POST');
    expect(got.url).toBe('/v1/42/items?x=1&y=%20');
    expect(got.body.toString()).toBe('{"a":1}');
    expect(got.headers.host).toBe(`127.0.0.1:${backend.port}`);
  });
});
