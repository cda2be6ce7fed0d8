// The access log traces the routing decision; no log line ever carries a credential.
import jwt from 'jsonwebtoken';
import request from 'supertest';

import { startBackend, type TestBackend } from './support/backend';
import { startTestGateway, type TestGateway } from './support/test-gateway';

const SECRET = 'log-test-jwt-secret-0123456789abcdef';
const API_KEY = 'log-test-api-key-value';
const COOKIE = 'session=log-test-cookie-value';

describe('Logs (e2e)', () => {
  let backend: TestBackend;
  let gw: TestGateway;

  beforeAll(async () => {
    backend = await startBackend();
    gw = await startTestGateway(
      {
        gateway: [
          'rateLimit: { enabled: false }',
          'auth:',
          '  jwt: { algorithms: [HS256], secret: "${JWT_SECRET}" }',
          '  apiKeys: { keys: [ { name: ci, key: "${KEY}" } ] }',
        ].join('\n'),
        services: {
          logs: [
            'name: logs',
            `targets: [{ url: "${backend.url}" }]`,
            'routes:',
            '  - { path: /api/logs/*, rewrite: /v2/*, auth: any }',
          ].join('\n'),
        },
      },
      { JWT_SECRET: SECRET, KEY: API_KEY },
    );
  });

  afterAll(async () => {
    await gw.close();
    await backend.close();
  });

  const accessLine = (requestId: string) =>
    gw.logs.find((l) => l.context === 'access' && l.requestId === requestId);

  const waitForLine = async (requestId: string) => {
    for (let i = 0; i < 50 && !accessLine(requestId); i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    return accessLine(requestId);
  };

  it('writes one access line with the routing decision', async () => {
    const res = await request(gw.url)
      .get('/api/logs/orders/7?q=1')
      .set('X-API-Key', API_KEY)
      .set('X-Request-ID', 'trace-me-1');
    expect(res.status).toBe(200);
    const line = await waitForLine('trace-me-1');
    expect(line).toMatchObject({
      requestId: 'trace-me-1',
      method: 'GET',
      route: '/api/logs/*',
      service: 'logs',
      target: `127.0.0.1:${backend.port}`,
      status: 200,
      clientIp: '127.0.0.1',
      msg: 'request',
    });
    expect(typeof line?.durationMs).toBe('number');
    expect(typeof line?.upstreamMs).toBe('number');
    expect(
      gw.logs.filter((l) => l.requestId === 'trace-me-1' && l.context === 'access'),
    ).toHaveLength(1);
  });

  it('never logs a token, an API key or a cookie, whether the call passes or fails', async () => {
    const token = jwt.sign({ sub: 'alice' }, SECRET, { expiresIn: 60 });
    const bad = jwt.sign({ sub: 'alice' }, 'another-secret', { expiresIn: 60 });
    const calls = [
      request(gw.url)
        .get('/api/logs/a')
        .set('Authorization', `Bearer ${token}`)
        .set('Cookie', COOKIE),
      request(gw.url)
        .get('/api/logs/a')
        .set('Authorization', `Bearer ${bad}`)
        .set('Cookie', COOKIE),
      request(gw.url).get('/api/logs/a').set('X-API-Key', API_KEY).set('Cookie', COOKIE),
      request(gw.url).get('/api/logs/a').set('X-API-Key', `${API_KEY}-wrong`),
      request(gw.url).get('/nowhere').set('Authorization', `Bearer ${token}`).set('Cookie', COOKIE),
    ];
    const statuses = [];
    for (const c of calls) statuses.push((await c).status);
    expect(statuses).toEqual([200, 401, 200, 401, 404]);
    await new Promise((r) => setTimeout(r, 50));
    const all = JSON.stringify(gw.logs);
    for (const secret of [token, bad, API_KEY, 'log-test-cookie-value', SECRET]) {
      expect(all).not.toContain(secret);
    }
  });
});
