// The verified-token cache must never let through what a fresh verification would refuse.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import jwt from 'jsonwebtoken';
import request from 'supertest';

import { GatewayConfig } from '../src/config/gateway-config';
import { startBackend, type TestBackend } from './support/backend';
import { startTestGateway, type TestGateway } from './support/test-gateway';

const SECRET = 'cache-test-secret-0123456789abcdef';
const gatewayYaml = (issuer: string) =>
  [
    'rateLimit: { enabled: false }',
    'auth:',
    '  jwt: { algorithms: [HS256], secret: "${JWT_SECRET}", issuer: ' + issuer + ' }',
    'oauth:',
    '  clients:',
    '    - { clientId: app, clientSecret: app-secret, scopes: [read], roles: [user] }',
  ].join('\n');

describe('Verified-token cache (e2e)', () => {
  let backend: TestBackend;
  let gw: TestGateway;

  beforeAll(async () => {
    backend = await startBackend();
    gw = await startTestGateway(
      {
        gateway: gatewayYaml('issuer-a'),
        services: {
          p: `name: p\ntargets: [{ url: "${backend.url}" }]\nroutes:\n  - { path: /api/p/*, auth: jwt }\n`,
        },
      },
      { JWT_SECRET: SECRET },
    );
  });

  afterAll(async () => {
    await gw.close();
    await backend.close();
  });

  const call = (token: string) =>
    request(gw.url).get('/api/p/x').set('Authorization', `Bearer ${token}`);

  it('refuses a cached token once it has expired', async () => {
    const token = jwt.sign({ sub: 'u1', iss: 'issuer-a' }, SECRET, { expiresIn: 30 });
    expect((await call(token)).status).toBe(200);
    const real = Date.now.bind(Date);
    const clock = jest.spyOn(Date, 'now').mockImplementation(() => real() + 31_000);
    try {
      const res = await call(token);
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toContain(
        'error_description="the token has expired"',
      );
    } finally {
      clock.mockRestore();
    }
  });

  it('refuses a cached gateway token as soon as it is revoked', async () => {
    const issued = await request(gw.url)
      .post('/oauth/token')
      .auth('app', 'app-secret')
      .type('form')
      .send({ grant_type: 'client_credentials' });
    const token = (issued.body as { access_token: string }).access_token;
    expect((await call(token)).status).toBe(200);
    expect((await call(token)).status).toBe(200);
    const revoked = await request(gw.url)
      .post('/oauth/revoke')
      .auth('app', 'app-secret')
      .type('form')
      .send({ token });
    expect(revoked.status).toBe(200);
    const res = await call(token);
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toContain('the token has been revoked');
  });

  it('forgets verified tokens when the config changes', async () => {
    const token = jwt.sign({ sub: 'u2', iss: 'issuer-a' }, SECRET, { expiresIn: 300 });
    expect((await call(token)).status).toBe(200);
    writeFileSync(join(gw.dir, 'gateway.yaml'), gatewayYaml('issuer-b'));
    const reloaded = gw.app.get(GatewayConfig).reload();
    expect(reloaded.ok).toBe(true);
    const res = await call(token);
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toContain('the token issuer is not accepted');
  });
});
