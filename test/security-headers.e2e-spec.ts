// Headers a client cannot forge (contract, Security): what reaches the backend when the
// client sends identity, rewrite and address headers in other spellings, from an untrusted
// peer and from a peer inside server.trustProxy, on a public and on an authenticated route.
import jwt from 'jsonwebtoken';

import { startBackend, type TestBackend } from './support/backend';
import { nowSeconds } from './support/keys';
import { rawRequest } from './support/raw-http';
import { startTestGateway, type TestGateway } from './support/test-gateway';

const SECRET = 'security-headers-secret-0123456789abcdef';
const gatewayYaml = (trust: string) => `server:
  trustProxy: ${trust}
auth:
  jwt:
    algorithms: [HS256]
    secret: ${SECRET}
rateLimit:
  enabled: false
`;
const service = (url: string) => `name: s
targets:
  - url: ${url}
routes:
  - path: /api/open/*
    auth: none
  - path: /api/jwt/*
    auth: jwt
`;

/** Every spelling a client might use to pose as someone or to change the call. */
const FORGED: [string, string][] = [
  ['X-User-ID', 'admin'],
  ['X_User_ID', 'admin'],
  ['x_user_roles', 'admin'],
  ['X-USER-SCOPES', 'everything'],
  ['x-user-tenant', 'other-tenant'],
  ['X-Original-URL', '/admin/secret'],
  ['X_Original_URL', '/admin/secret'],
  ['X-Rewrite-URL', '/admin/secret'],
  ['X-HTTP-Method-Override', 'DELETE'],
  ['x_http_method_override', 'DELETE'],
];
/** Address headers: believed only from a trusted proxy. */
const ADDRESS: [string, string][] = [
  ['Forwarded', 'for=203.0.113.9;proto=https;host=evil.example'],
  ['X-Real-IP', '203.0.113.9'],
  ['X-Forwarded-Port', '443'],
  ['X-Forwarded-Prefix', '/admin'],
  ['X_Forwarded_For', '203.0.113.9'],
  ['X-Forwarded-Host', 'evil.example'],
  ['X-Forwarded-Proto', 'https'],
];

describe('Security: headers a client cannot forge', () => {
  let backend: TestBackend;
  let untrusting: TestGateway;
  let trusting: TestGateway;

  beforeAll(async () => {
    backend = await startBackend();
    untrusting = await startTestGateway({
      gateway: gatewayYaml('[]'),
      services: { s: service(backend.url) },
    });
    trusting = await startTestGateway({
      gateway: gatewayYaml('["127.0.0.1/32"]'),
      services: { s: service(backend.url) },
    });
  });
  afterAll(async () => {
    await untrusting.close();
    await trusting.close();
    await backend.close();
  });

  const send = async (gw: TestGateway, path: string, extra: [string, string][] = []) => {
    const before = backend.received.length;
    const r = await rawRequest({
      port: gw.port,
      path,
      headers: [...FORGED, ...ADDRESS, ...extra],
    });
    expect(r.status).toBe(200);
    expect(backend.received.length).toBe(before + 1);
    return backend.received[before];
  };
  /** Header names as they reached the backend, folded the way many frameworks fold them. */
  const folded = (raw: string[]) =>
    raw.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase().replace(/_/g, '-'));

  it('untrusted peer, public route: no identity, rewrite or address header gets through', async () => {
    const got = await send(untrusting, '/api/open/x');
    const names = folded(got.rawHeaders);
    expect(names.filter((n) => n.startsWith('x-user-'))).toEqual([]);
    for (const n of [
      'x-original-url',
      'x-rewrite-url',
      'x-http-method-override',
      'forwarded',
      'x-real-ip',
      'x-forwarded-port',
      'x-forwarded-prefix',
    ]) {
      expect(names).not.toContain(n);
    }
    // The gateway's own values, each once, in the hyphenated spelling only.
    expect(names.filter((n) => n === 'x-forwarded-for')).toHaveLength(1);
    expect(got.rawHeaders).not.toContain('X_Forwarded_For');
    expect(got.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(got.headers['x-forwarded-host']).toBe(`127.0.0.1:${untrusting.port}`);
    expect(got.headers['x-forwarded-proto']).toBe('http');
    expect(got.method).toBe('GET');
    expect(got.url).toBe('/api/open/x');
  });

  it('authenticated route: only the gateway-made identity reaches the backend', async () => {
    const token = jwt.sign(
      { sub: 'alice', roles: ['user'], iat: nowSeconds(), exp: nowSeconds() + 60 },
      SECRET,
      { algorithm: 'HS256' },
    );
    const got = await send(untrusting, '/api/jwt/x', [['Authorization', `Bearer ${token}`]]);
    const identity = got.rawHeaders.filter(
      (_, i) => i % 2 === 0 && /^x[-_]user[-_]/i.test(got.rawHeaders[i]),
    );
    expect(identity.map((n) => n.toLowerCase()).sort()).toEqual(['x-user-id', 'x-user-roles']);
    expect(got.headers['x-user-id']).toBe('alice');
    expect(got.headers['x-user-roles']).toBe('user');
    expect(got.headers['x-user-scopes']).toBeUndefined();
  });

  it('trusted proxy: address headers pass, identity and rewrite headers still do not', async () => {
    const got = await send(trusting, '/api/open/x');
    const names = folded(got.rawHeaders);
    expect(names.filter((n) => n.startsWith('x-user-'))).toEqual([]);
    for (const n of ['x-original-url', 'x-rewrite-url', 'x-http-method-override'])
      expect(names).not.toContain(n);
    expect(got.headers.forwarded).toBe('for=203.0.113.9;proto=https;host=evil.example');
    expect(got.headers['x-real-ip']).toBe('203.0.113.9');
    expect(got.headers['x-forwarded-port']).toBe('443');
    expect(got.headers['x-forwarded-prefix']).toBe('/admin');
    expect(got.headers['x-forwarded-host']).toBe('evil.example');
    expect(got.headers['x-forwarded-proto']).toBe('https');
  });
});
