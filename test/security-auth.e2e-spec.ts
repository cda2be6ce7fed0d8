// The credential attacks of issue "Security hardening" (contract, Security): each test is
// the attack, run against the real gateway and a recording backend.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import jwt from 'jsonwebtoken';

import { startBackend, type TestBackend } from './support/backend';
import { nowSeconds } from './support/keys';
import { startTestGateway, type TestGateway } from './support/test-gateway';

const SECRET = 'security-auth-secret-0123456789abcdef';
const ADMIN_KEY = 'security-auth-admin-key-0123456789';

const gatewayYaml = (clients: string) => `auth:
  jwt:
    algorithms: [HS256]
    secret: ${SECRET}
  apiKeys:
    keys:
      - name: ops
        key: ${ADMIN_KEY}
        roles: [admin]
oauth:
  clients:
${clients}rateLimit:
  enabled: false
`;
const ACME = `    - clientId: acme
      clientSecret: acme-secret
      scopes: [orders:read]
      roles: [user]
`;
const OTHER = `    - clientId: other
      clientSecret: other-secret
      scopes: [orders:read]
      roles: [user]
`;
const service = (url: string) => `name: s
targets:
  - url: ${url}
routes:
  - path: /api/jwt/*
    auth: jwt
`;

const sign = (claims: Record<string, unknown>, header: Record<string, unknown> = {}) =>
  jwt.sign({ sub: 'alice', iat: nowSeconds(), ...claims }, SECRET, {
    algorithm: 'HS256',
    header: { alg: 'HS256', typ: 'JWT', ...header },
  });

describe('Security: credentials', () => {
  let backend: TestBackend;
  let gw: TestGateway;
  const call = (authorization?: string) =>
    fetch(`${gw.url}/api/jwt/me`, {
      headers: authorization === undefined ? {} : { authorization },
    });

  beforeAll(async () => {
    backend = await startBackend();
    gw = await startTestGateway({
      gateway: gatewayYaml(ACME + OTHER),
      services: { s: service(backend.url) },
    });
  });
  afterAll(async () => {
    await gw.close();
    await backend.close();
  });
  beforeEach(() => {
    backend.received.length = 0;
  });

  const expectInvalid = (r: Response) => {
    expect(r.status).toBe(401);
    expect(r.headers.get('www-authenticate')).toContain('error="invalid_token"');
    expect(backend.received).toHaveLength(0);
  };

  it('accepts `bearer` in any case with several spaces', async () => {
    const r = await call(`bEaReR   ${sign({ exp: nowSeconds() + 60 })}`);
    expect(r.status).toBe(200);
    expect(backend.received).toHaveLength(1);
  });

  it('refuses a valid token followed by junk', async () => {
    expectInvalid(await call(`Bearer ${sign({ exp: nowSeconds() + 60 })} junk`));
  });

  it('refuses Bearer with no token or a non-b64token', async () => {
    expectInvalid(await call('Bearer'));
    expectInvalid(await call('Bearer a,b'));
  });

  it('never takes a cached token under another scheme', async () => {
    const token = sign({ exp: nowSeconds() + 60 });
    expect((await call(`Bearer ${token}`)).status).toBe(200);
    backend.received.length = 0;
    const r = await call(`Xearer ${token}`);
    expect(r.status).toBe(401);
    expect(r.headers.get('www-authenticate')).toBe('Bearer realm="api-gateway"');
    expect(backend.received).toHaveLength(0);
  });

  it('refuses a JWS with a crit header', async () => {
    expectInvalid(await call(`Bearer ${sign({ exp: nowSeconds() + 60 }, { crit: ['x'], x: 1 })}`));
  });

  it('refuses a token without exp', async () => {
    expectInvalid(await call(`Bearer ${sign({})}`));
  });

  it('refuses tokens of a client removed by a reload; introspect says inactive', async () => {
    const issued = await fetch(`${gw.url}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials&client_id=acme&client_secret=acme-secret',
    });
    expect(issued.status).toBe(200);
    const { access_token: token } = (await issued.json()) as { access_token: string };
    expect((await call(`Bearer ${token}`)).status).toBe(200);
    backend.received.length = 0;

    writeFileSync(join(gw.dir, 'gateway.yaml'), gatewayYaml(OTHER));
    const reload = await fetch(`${gw.url}/api/gateway/reload`, {
      method: 'POST',
      headers: { 'x-api-key': ADMIN_KEY },
    });
    expect(reload.status).toBe(200);

    expectInvalid(await call(`Bearer ${token}`));
    const intro = await fetch(`${gw.url}/oauth/introspect`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `client_id=other&client_secret=other-secret&token=${token}`,
    });
    expect(intro.status).toBe(200);
    expect(await intro.json()).toEqual({ active: false });
  });
});
