import { createHash, createSecretKey } from 'node:crypto';

import jwt from 'jsonwebtoken';

import { type Received, startBackend, type TestBackend } from './support/backend';
import { type JwksServer, startJwksServer } from './support/jwks-server';
import { nowSeconds, publicJwk, type RsaPair, rsaPair, unsignedToken } from './support/keys';
import { rawRequest } from './support/raw-http';
import { startTestGateway, type TestGateway } from './support/test-gateway';

const SECRET = 'auth-spec-hs256-secret-0123456789abcdef';
const DEPLOY_KEY = 'deploy-key-7f3c9a1e5b';
const HASHED_KEY = 'hashed-key-2d8e4b6a0c';
const BEARER = 'Bearer realm="api-gateway"';
const API_KEY = 'ApiKey header="X-API-Key"';
const invalid = (description: string) =>
  `Bearer realm="api-gateway", error="invalid_token", error_description="${description}"`;

const NO_RATE_LIMIT = 'rateLimit:\n  enabled: false\n';

// Every auth mode, a roles route and two scopes routes, on one echo backend.
function apiService(url: string): string {
  return [
    'name: api',
    `targets: [{ url: "${url}" }]`,
    'routes:',
    '  - { path: /api/jwt/*, auth: jwt }',
    '  - { path: /api/key/*, auth: apiKey }',
    '  - { path: /api/any/*, auth: any }',
    '  - { path: /api/open/*, auth: none }',
    '  - { path: /api/admin/*, auth: any, roles: [admin] }',
    '  - { path: /api/orders/*, auth: jwt, scopes: [orders:read, orders:write] }',
    '  - { path: /api/reports/*, auth: any, scopes: [reports:read] }',
    '',
  ].join('\n');
}

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** Every WWW-Authenticate field, one entry each, in order. */
  challenges: string[];
  body: string;
  requestId: string;
  /** What reached the backend during this call. */
  forwarded: Received[];
}

async function call(
  gw: TestGateway,
  backend: TestBackend,
  path: string,
  headers: Record<string, string> = {},
): Promise<Reply> {
  const before = backend.received.length;
  const r = await rawRequest({ port: gw.port, path, headers });
  const challenges: string[] = [];
  for (let i = 0; i < r.rawHeaders.length; i += 2) {
    if (r.rawHeaders[i].toLowerCase() === 'www-authenticate') challenges.push(r.rawHeaders[i + 1]);
  }
  return {
    status: r.status,
    headers: r.headers,
    challenges,
    body: r.body.toString('utf8'),
    requestId: String(r.headers['x-request-id']),
    forwarded: backend.received.slice(before),
  };
}

/** The contract's error body, checked whole. */
function expectGatewayError(r: Reply, status: number, error: string): void {
  expect(r.status).toBe(status);
  expect(r.headers['content-type']).toMatch(/^application\/json\b/);
  const body = JSON.parse(r.body) as Record<string, unknown>;
  expect(Object.keys(body).sort()).toEqual(['error', 'message', 'requestId', 'statusCode']);
  expect(body).toMatchObject({ statusCode: status, error, requestId: r.requestId });
  expect(r.forwarded).toHaveLength(0);
}

const expect401 = (r: Reply) => expectGatewayError(r, 401, 'Unauthorized');
const expect403 = (r: Reply) => expectGatewayError(r, 403, 'Forbidden');

/** The single request that reached the backend. */
function upstream(r: Reply): Received {
  expect(r.status).toBe(200);
  expect(r.forwarded).toHaveLength(1);
  return r.forwarded[0];
}

function userHeaders(received: Received): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(received.headers).filter(([k]) => k.startsWith('x-user-')),
  );
}

function auditLine(gw: TestGateway, requestId: string): Record<string, unknown> | undefined {
  return gw.logs.find((l) => l.context === 'audit' && l.requestId === requestId);
}

/** HS256 with the gateway's secret; iss/aud/exp valid unless overridden. */
function hs256(claims: Record<string, unknown>, secret: string = SECRET): string {
  const now = nowSeconds();
  const payload: Record<string, unknown> = {
    iss: 'api-gateway',
    aud: 'api',
    iat: now,
    exp: now + 300,
  };
  // An `undefined` claim means "leave it out".
  for (const [k, v] of Object.entries(claims)) {
    if (v === undefined) delete payload[k];
    else payload[k] = v;
  }
  return jwt.sign(payload, secret, { algorithm: 'HS256' });
}

function rs256(pair: RsaPair, claims: Record<string, unknown>, kid?: string): string {
  const now = nowSeconds();
  return jwt.sign({ iat: now, exp: now + 300, ...claims }, pair.privatePem, {
    algorithm: 'RS256',
    ...(kid ? { keyid: kid } : {}),
  });
}

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

describe('Authentication (e2e)', () => {
  describe('HS256 gateway with API keys', () => {
    let backend: TestBackend;
    let gw: TestGateway;
    // Configured as publicKeyFile although RS256 is not in `algorithms`.
    const unlisted = rsaPair();
    const get = (path: string, headers?: Record<string, string>) =>
      call(gw, backend, path, headers);

    beforeAll(async () => {
      backend = await startBackend();
      const hashed = createHash('sha256').update(HASHED_KEY).digest('hex');
      gw = await startTestGateway(
        {
          gateway: [
            'auth:',
            '  jwt:',
            '    algorithms: [HS256]',
            '    secret: ${JWT_SECRET}',
            '    publicKeyFile: jwt.pub',
            '    issuer: api-gateway',
            '    audience: api',
            '  apiKeys:',
            '    header: X-API-Key',
            '    keys:',
            '      - { name: ci-bot, key: "${CI_BOT_KEY}", roles: [service] }',
            '      - { name: deployer, key: "${DEPLOY_KEY}", roles: [deploy, admin] }',
            `      - { name: hashed-bot, sha256: ${hashed} }`,
            NO_RATE_LIMIT,
          ].join('\n'),
          services: { api: apiService(backend.url) },
          extra: { 'jwt.pub': unlisted.publicPem },
        },
        { JWT_SECRET: SECRET, CI_BOT_KEY: '', DEPLOY_KEY },
      );
    });

    afterAll(async () => {
      await gw?.close();
      await backend?.close();
    });

    describe('JWT', () => {
      it('forwards a valid token with X-User-ID = sub, X-User-Roles joined, X-User-Scopes = scope', async () => {
        const token = hs256({ sub: 'alice', roles: ['user', 'editor'], scope: 'a:read b:write' });
        const got = upstream(await get('/api/jwt/me', bearer(token)));
        expect(got.url).toBe('/api/jwt/me');
        expect(userHeaders(got)).toEqual({
          'x-user-id': 'alice',
          'x-user-roles': 'user,editor',
          'x-user-scopes': 'a:read b:write',
        });
        // The credentials themselves are end-to-end and reach the backend.
        expect(got.headers.authorization).toBe(`Bearer ${token}`);
      });

      it('sends no X-User-Roles when the token has no roles claim, no X-User-Scopes without scope', async () => {
        const got = upstream(await get('/api/jwt/me', bearer(hs256({ sub: 'bob' }))));
        expect(userHeaders(got)).toEqual({ 'x-user-id': 'bob' });
      });

      it('sends no X-User-Roles for an empty roles array', async () => {
        const got = upstream(await get('/api/jwt/me', bearer(hs256({ sub: 'bob', roles: [] }))));
        expect(userHeaders(got)).toEqual({ 'x-user-id': 'bob' });
      });

      it('challenges a call without credentials with a bare Bearer challenge', async () => {
        const r = await get('/api/jwt/me');
        expect401(r);
        expect(r.challenges).toEqual([BEARER]);
      });

      it('takes a non-Bearer Authorization as no token', async () => {
        const r = await get('/api/jwt/me', { Authorization: 'Basic YWxpY2U6c2VjcmV0' });
        expect401(r);
        expect(r.challenges).toEqual([BEARER]);
      });

      it('refuses an expired token as expired, with an audit line that names the reason', async () => {
        const now = nowSeconds();
        const token = hs256({ sub: 'alice', iat: now - 100, exp: now - 10 });
        const r = await get('/api/jwt/me', bearer(token));
        expect401(r);
        expect(r.challenges).toEqual([invalid('the token has expired')]);
        expect(auditLine(gw, r.requestId)).toMatchObject({
          context: 'audit',
          event: 'authentication failed',
          requestId: r.requestId,
          clientIp: '127.0.0.1',
          reason: 'expired',
          route: '/api/jwt/*',
        });
      });

      it('refuses a token whose exp is exactly now (exp is exclusive)', async () => {
        const now = nowSeconds();
        const r = await get('/api/jwt/me', bearer(hs256({ sub: 'a', iat: now - 5, exp: now })));
        expect401(r);
        expect(r.challenges).toEqual([invalid('the token has expired')]);
      });

      it('refuses a token whose exp is not a NumericDate (RFC 7519 §4.1.4)', async () => {
        // jsonwebtoken signs a string payload as is; its exp is a string from 2011.
        const now = nowSeconds();
        const payload = JSON.stringify({
          sub: 'alice',
          iss: 'api-gateway',
          aud: 'api',
          iat: now,
          exp: '1300819380',
        });
        const token = jwt.sign(payload, SECRET, { algorithm: 'HS256' });
        const r = await get('/api/jwt/me', bearer(token));
        expect401(r);
        expect(r.challenges).toHaveLength(1);
        expect(r.challenges[0]).toMatch(/^Bearer realm="api-gateway", error="invalid_token", /);
      });

      it('refuses a token whose nbf is in the future', async () => {
        const r = await get('/api/jwt/me', bearer(hs256({ sub: 'a', nbf: nowSeconds() + 60 })));
        expect401(r);
        expect(r.challenges).toEqual([invalid('the token is not valid yet')]);
      });

      it('accepts a token whose nbf has passed', async () => {
        const got = upstream(
          await get('/api/jwt/me', bearer(hs256({ sub: 'nbf', nbf: nowSeconds() - 5 }))),
        );
        expect(got.headers['x-user-id']).toBe('nbf');
      });

      it('refuses a token signed with another secret', async () => {
        const r = await get('/api/jwt/me', bearer(hs256({ sub: 'a' }, `${SECRET}-not`)));
        expect401(r);
        expect(r.challenges).toEqual([invalid('the token is not valid')]);
        expect(auditLine(gw, r.requestId)).toMatchObject({ reason: 'invalid_token' });
      });

      it('refuses a token whose payload was altered after signing', async () => {
        const [h, , s] = hs256({ sub: 'alice', roles: ['user'] }).split('.');
        const forged = Buffer.from(
          JSON.stringify({
            sub: 'alice',
            roles: ['admin'],
            iss: 'api-gateway',
            aud: 'api',
            exp: nowSeconds() + 300,
          }),
        ).toString('base64url');
        const r = await get('/api/admin/x', bearer(`${h}.${forged}.${s}`));
        expect401(r);
        expect(r.challenges).toEqual([invalid('the token is not valid'), API_KEY]);
      });

      it('refuses a token from another issuer', async () => {
        const r = await get('/api/jwt/me', bearer(hs256({ sub: 'a', iss: 'someone-else' })));
        expect401(r);
        expect(r.challenges).toEqual([invalid('the token issuer is not accepted')]);
      });

      it('refuses a token without an issuer when one is configured', async () => {
        const r = await get('/api/jwt/me', bearer(hs256({ sub: 'a', iss: undefined })));
        expect401(r);
        expect(r.challenges).toEqual([invalid('the token issuer is not accepted')]);
      });

      it('refuses a token for another audience', async () => {
        const r = await get('/api/jwt/me', bearer(hs256({ sub: 'a', aud: 'billing' })));
        expect401(r);
        expect(r.challenges).toEqual([invalid('the token audience is not accepted')]);
      });

      it('accepts an audience array that contains the configured audience', async () => {
        const got = upstream(
          await get('/api/jwt/me', bearer(hs256({ sub: 'multi', aud: ['billing', 'api'] }))),
        );
        expect(got.headers['x-user-id']).toBe('multi');
      });

      it('refuses a token without a subject', async () => {
        const r = await get('/api/jwt/me', bearer(hs256({ scope: 'a' })));
        expect401(r);
        expect(r.challenges).toEqual([invalid('the token has no subject')]);
      });

      it('refuses an unsecured token (alg none)', async () => {
        const now = nowSeconds();
        const token = unsignedToken({
          sub: 'mallory',
          roles: ['admin'],
          iss: 'api-gateway',
          aud: 'api',
          iat: now,
          exp: now + 300,
        });
        expect(token.endsWith('.')).toBe(true);
        const r = await get('/api/jwt/me', bearer(token));
        expect401(r);
        expect(r.challenges).toEqual([invalid('the token algorithm is not accepted')]);
      });

      it('refuses an RS256 token, validly signed for the configured public key, when only HS256 is allowed', async () => {
        const token = rs256(unlisted, { sub: 'alice', iss: 'api-gateway', aud: 'api' });
        const r = await get('/api/jwt/me', bearer(token));
        expect401(r);
        expect(r.challenges).toEqual([invalid('the token algorithm is not accepted')]);
      });

      it('refuses HS384 signed with the right secret (not in algorithms)', async () => {
        const now = nowSeconds();
        const token = jwt.sign(
          { sub: 'alice', iss: 'api-gateway', aud: 'api', exp: now + 300 },
          SECRET,
          { algorithm: 'HS384' },
        );
        const r = await get('/api/jwt/me', bearer(token));
        expect401(r);
        expect(r.challenges).toEqual([invalid('the token algorithm is not accepted')]);
      });

      it('refuses a malformed token', async () => {
        const r = await get('/api/jwt/me', bearer('not.a.jwt'));
        expect401(r);
        expect(r.challenges).toEqual([invalid('the token is malformed')]);
      });

      it('refuses the RFC 7515 A.1 example JWS (its key cannot be configured here: not UTF-8)', async () => {
        // Expiry of this token with its own key is covered in src/auth/jwt.strategy.spec.ts.
        const rfc =
          'eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk';
        const r = await get('/api/jwt/me', bearer(rfc));
        expect401(r);
        expect(r.challenges).toHaveLength(1);
        expect(r.challenges[0]).toMatch(/^Bearer realm="api-gateway", error="invalid_token", /);
      });
    });

    describe('API keys', () => {
      it('accepts a key configured by value: X-User-ID = its name, X-User-Roles = its roles', async () => {
        const got = upstream(await get('/api/key/x', { 'X-API-Key': DEPLOY_KEY }));
        expect(userHeaders(got)).toEqual({
          'x-user-id': 'deployer',
          'x-user-roles': 'deploy,admin',
        });
      });

      it('accepts a key configured by sha256; no roles → no X-User-Roles', async () => {
        const got = upstream(await get('/api/key/x', { 'x-api-key': HASHED_KEY }));
        expect(userHeaders(got)).toEqual({ 'x-user-id': 'hashed-bot' });
      });

      it('does not accept the sha256 digest itself as the key', async () => {
        const digest = createHash('sha256').update(HASHED_KEY).digest('hex');
        const r = await get('/api/key/x', { 'X-API-Key': digest });
        expect401(r);
        expect(r.challenges).toEqual([API_KEY]);
      });

      it('refuses a wrong key with the ApiKey challenge only', async () => {
        const r = await get('/api/key/x', { 'X-API-Key': `${DEPLOY_KEY}x` });
        expect401(r);
        expect(r.challenges).toEqual([API_KEY]);
        expect(auditLine(gw, r.requestId)).toMatchObject({
          event: 'authentication failed',
          reason: 'invalid_api_key',
          clientIp: '127.0.0.1',
        });
      });

      it('challenges a call without a key', async () => {
        const r = await get('/api/key/x');
        expect401(r);
        expect(r.challenges).toEqual([API_KEY]);
        expect(auditLine(gw, r.requestId)).toMatchObject({ reason: 'missing' });
      });

      it('does not take a Bearer token on an apiKey route', async () => {
        const r = await get('/api/key/x', bearer(hs256({ sub: 'alice' })));
        expect401(r);
        expect(r.challenges).toEqual([API_KEY]);
      });

      it('skips the entry whose key is an empty ${CI_BOT_KEY}, with a warning', async () => {
        const warning = gw.logs.find(
          (l) =>
            l.level === 40 &&
            JSON.stringify(l).includes('gateway.yaml: auth.apiKeys.keys[0].key: empty; skipped'),
        );
        expect(warning).toBeDefined();
        const r = await get('/api/key/x', { 'X-API-Key': '' });
        expect401(r);
        expect(r.challenges).toEqual([API_KEY]);
        const spaces = await get('/api/any/x', { 'X-API-Key': '' });
        expect401(spaces);
      });
    });

    describe('auth: any', () => {
      it('accepts a JWT', async () => {
        const got = upstream(
          await get('/api/any/x', bearer(hs256({ sub: 'carol', roles: ['user'] }))),
        );
        expect(userHeaders(got)).toEqual({ 'x-user-id': 'carol', 'x-user-roles': 'user' });
      });

      it('accepts an API key', async () => {
        const got = upstream(await get('/api/any/x', { 'X-API-Key': DEPLOY_KEY }));
        expect(got.headers['x-user-id']).toBe('deployer');
      });

      it('answers a call without credentials with both challenges', async () => {
        const r = await get('/api/any/x');
        expect401(r);
        expect(r.challenges).toEqual([BEARER, API_KEY]);
      });

      it('answers a bad Bearer token with the invalid_token challenge and the ApiKey one', async () => {
        const r = await get('/api/any/x', bearer(hs256({ sub: 'a' }, 'wrong')));
        expect401(r);
        expect(r.challenges).toEqual([invalid('the token is not valid'), API_KEY]);
      });

      it('refuses a wrong API key without claiming a Bearer token was invalid', async () => {
        // No Bearer token was sent: RFC 6750 §3.1 and the contract's 401 row give the bare
        // Bearer challenge then; error="invalid_token" would tell a client its token is bad.
        const r = await get('/api/any/x', { 'X-API-Key': 'nope' });
        expect401(r);
        expect(r.challenges).toEqual([BEARER, API_KEY]);
      });
    });

    describe('roles and scopes', () => {
      it('forwards a caller that has one of the roles', async () => {
        const jwtCaller = upstream(
          await get('/api/admin/x', bearer(hs256({ sub: 'root', roles: ['user', 'admin'] }))),
        );
        expect(jwtCaller.headers['x-user-roles']).toBe('user,admin');
        const keyCaller = upstream(await get('/api/admin/x', { 'X-API-Key': DEPLOY_KEY }));
        expect(keyCaller.headers['x-user-id']).toBe('deployer');
      });

      it('answers 403 without a challenge when the role is missing', async () => {
        const r = await get('/api/admin/x', bearer(hs256({ sub: 'alice', roles: ['user'] })));
        expect403(r);
        expect(r.challenges).toEqual([]);
        expect(auditLine(gw, r.requestId)).toMatchObject({
          event: 'forbidden',
          reason: 'forbidden_role',
          subject: 'alice',
          requestId: r.requestId,
          clientIp: '127.0.0.1',
        });
        const key = await get('/api/admin/x', { 'X-API-Key': HASHED_KEY });
        expect403(key);
      });

      it('forwards a token that has every scope', async () => {
        const token = hs256({ sub: 'alice', scope: 'orders:write profile orders:read' });
        const got = upstream(await get('/api/orders/1', bearer(token)));
        expect(got.headers['x-user-scopes']).toBe('orders:write profile orders:read');
      });

      it('answers 403 insufficient_scope naming the required scopes when one is missing', async () => {
        const r = await get('/api/orders/1', bearer(hs256({ sub: 'alice', scope: 'orders:read' })));
        expect403(r);
        expect(r.challenges).toEqual([
          'Bearer error="insufficient_scope", scope="orders:read orders:write"',
        ]);
        expect(auditLine(gw, r.requestId)).toMatchObject({
          event: 'forbidden',
          reason: 'insufficient_scope',
        });
      });

      it('does not take a scope that is only a prefix of the required one', async () => {
        const token = hs256({ sub: 'alice', scope: 'orders:rea orders:write' });
        expect403(await get('/api/orders/1', bearer(token)));
      });

      it('answers 403 to a token without a scope claim', async () => {
        expect403(await get('/api/orders/1', bearer(hs256({ sub: 'alice' }))));
      });

      it('answers 403 to an API-key caller on a route with scopes', async () => {
        const r = await get('/api/reports/1', { 'X-API-Key': DEPLOY_KEY });
        expect403(r);
        expect(r.challenges).toEqual(['Bearer error="insufficient_scope", scope="reports:read"']);
        const ok = upstream(
          await get('/api/reports/1', bearer(hs256({ sub: 'x', scope: 'reports:read' }))),
        );
        expect(ok.headers['x-user-scopes']).toBe('reports:read');
      });
    });

    describe('identity headers sent by the client', () => {
      const spoofed = {
        'X-User-ID': 'admin',
        'X-User-Roles': 'admin',
        'X-User-Scopes': 'orders:read orders:write',
        'x-user-extra': 'x',
      };

      it('never reach the backend on an auth: none route', async () => {
        const got = upstream(await get('/api/open/x', spoofed));
        expect(userHeaders(got)).toEqual({});
      });

      it('are replaced by the real identity on a jwt route', async () => {
        const got = upstream(
          await get('/api/jwt/x', { ...spoofed, ...bearer(hs256({ sub: 'eve' })) }),
        );
        expect(userHeaders(got)).toEqual({ 'x-user-id': 'eve' });
      });

      it('are replaced by the key identity on an apiKey route', async () => {
        const got = upstream(await get('/api/key/x', { ...spoofed, 'X-API-Key': HASHED_KEY }));
        expect(userHeaders(got)).toEqual({ 'x-user-id': 'hashed-bot' });
      });

      it('grant no role and no scope', async () => {
        const token = hs256({ sub: 'eve', roles: ['user'] });
        expect403(await get('/api/admin/x', { ...spoofed, ...bearer(token) }));
        expect403(await get('/api/orders/x', { ...spoofed, ...bearer(token) }));
      });
    });

    describe('auth: none', () => {
      it('does no auth work: a garbage Authorization header passes through untouched', async () => {
        const r = await get('/api/open/x', { Authorization: 'Bearer garbage.garbage.garbage' });
        const got = upstream(r);
        expect(got.headers.authorization).toBe('Bearer garbage.garbage.garbage');
        expect(userHeaders(got)).toEqual({});
        expect(r.challenges).toEqual([]);
        expect(auditLine(gw, r.requestId)).toBeUndefined();
      });

      it('does no auth work for a garbage API key either', async () => {
        const r = await get('/api/open/x', { 'X-API-Key': 'garbage' });
        expect(upstream(r).headers['x-api-key']).toBe('garbage');
        expect(auditLine(gw, r.requestId)).toBeUndefined();
      });
    });

    describe('audit log', () => {
      it('records failures with requestId, clientIp and reason, never the token or the key', async () => {
        const token = hs256({ sub: 'alice', exp: nowSeconds() - 30 });
        const badKey = 'secret-looking-wrong-key-91a7';
        const a = await get('/api/jwt/x', bearer(token));
        const b = await get('/api/key/x', { 'X-API-Key': badKey });
        const c = await get('/api/any/x', { ...bearer(token), 'X-Request-ID': 'trace-123' });
        expect([a.status, b.status, c.status]).toEqual([401, 401, 401]);
        expect(c.requestId).toBe('trace-123');
        for (const [r, reason] of [
          [a, 'expired'],
          [b, 'invalid_api_key'],
          [c, 'expired'],
        ] as const) {
          const line = auditLine(gw, r.requestId);
          expect(line).toMatchObject({ requestId: r.requestId, clientIp: '127.0.0.1', reason });
        }
        const all = JSON.stringify(gw.logs);
        expect(all).not.toContain(token);
        expect(all).not.toContain(token.split('.')[2]);
        expect(all).not.toContain(badKey);
        expect(all).not.toContain(DEPLOY_KEY);
        expect(all).not.toContain(SECRET);
      });
    });
  });

  describe('RS256 with publicKeyFile and clockToleranceSeconds: 30', () => {
    let backend: TestBackend;
    let gw: TestGateway;
    const pair = rsaPair();
    const stranger = rsaPair();
    const get = (path: string, headers?: Record<string, string>) =>
      call(gw, backend, path, headers);

    beforeAll(async () => {
      backend = await startBackend();
      gw = await startTestGateway(
        {
          gateway: [
            'auth:',
            '  jwt:',
            '    algorithms: [RS256]',
            '    publicKeyFile: jwt.pub',
            '    clockToleranceSeconds: 30',
            NO_RATE_LIMIT,
          ].join('\n'),
          services: { api: apiService(backend.url) },
          extra: { 'jwt.pub': pair.publicPem },
        },
        { JWT_SECRET: SECRET },
      );
    });

    afterAll(async () => {
      await gw?.close();
      await backend?.close();
    });

    it('accepts an RS256 token signed with the matching private key', async () => {
      const got = upstream(
        await get('/api/jwt/x', bearer(rs256(pair, { sub: 'rsa-user', roles: ['r1'] }))),
      );
      expect(userHeaders(got)).toEqual({ 'x-user-id': 'rsa-user', 'x-user-roles': 'r1' });
    });

    it('refuses an RS256 token signed with another key', async () => {
      const r = await get('/api/jwt/x', bearer(rs256(stranger, { sub: 'rsa-user' })));
      expect401(r);
      expect(r.challenges).toEqual([invalid('the token is not valid')]);
    });

    it('refuses HS256 signed with the public key PEM as the HMAC secret', async () => {
      // The classic key-confusion forgery: the public PEM's bytes as an HMAC key.
      const pemAsSecret = createSecretKey(Buffer.from(pair.publicPem));
      const forged = jwt.sign({ sub: 'mallory', roles: ['admin'] }, pemAsSecret, {
        algorithm: 'HS256',
        expiresIn: 300,
      });
      // It is a well-formed HS256 token for that "secret": only the key binding stops it.
      expect(jwt.verify(forged, pemAsSecret, { algorithms: ['HS256'] })).toMatchObject({
        sub: 'mallory',
      });
      const r = await get('/api/jwt/x', bearer(forged));
      expect401(r);
      expect(r.challenges).toEqual([invalid('the token is not valid')]);
    });

    it('accepts a token expired 10 s ago within the 30 s tolerance', async () => {
      const now = nowSeconds();
      const got = upstream(
        await get('/api/jwt/x', bearer(rs256(pair, { sub: 'late', iat: now - 60, exp: now - 10 }))),
      );
      expect(got.headers['x-user-id']).toBe('late');
    });

    it('refuses a token expired 40 s ago, past the tolerance', async () => {
      const now = nowSeconds();
      const r = await get(
        '/api/jwt/x',
        bearer(rs256(pair, { sub: 'late', iat: now - 100, exp: now - 40 })),
      );
      expect401(r);
      expect(r.challenges).toEqual([invalid('the token has expired')]);
    });

    it('accepts nbf 10 s ahead within the tolerance, refuses nbf 60 s ahead', async () => {
      const now = nowSeconds();
      const soon = upstream(
        await get('/api/jwt/x', bearer(rs256(pair, { sub: 's', nbf: now + 10 }))),
      );
      expect(soon.headers['x-user-id']).toBe('s');
      const r = await get('/api/jwt/x', bearer(rs256(pair, { sub: 's', nbf: now + 60 })));
      expect401(r);
      expect(r.challenges).toEqual([invalid('the token is not valid yet')]);
    });
  });

  describe('RS256 with jwksUri', () => {
    let backend: TestBackend;
    let jwks: JwksServer;
    let gw: TestGateway;
    const first = rsaPair();
    const second = rsaPair();
    const get = (path: string, headers?: Record<string, string>) =>
      call(gw, backend, path, headers);

    beforeAll(async () => {
      backend = await startBackend();
      jwks = await startJwksServer([publicJwk(first, 'key-1')]);
      gw = await startTestGateway(
        {
          gateway: [
            'auth:',
            '  jwt:',
            '    algorithms: [RS256]',
            `    jwksUri: ${jwks.uri}`,
            '    audience: api',
            NO_RATE_LIMIT,
          ].join('\n'),
          services: { api: apiService(backend.url) },
        },
        { JWT_SECRET: SECRET },
      );
    });

    afterAll(async () => {
      await gw?.close();
      await jwks?.close();
      await backend?.close();
    });

    it('accepts a token whose kid is in the set', async () => {
      const token = rs256(first, { sub: 'jwks-user', aud: 'api', scope: 's1' }, 'key-1');
      const got = upstream(await get('/api/jwt/x', bearer(token)));
      expect(userHeaders(got)).toEqual({ 'x-user-id': 'jwks-user', 'x-user-scopes': 's1' });
      expect(jwks.fetches).toBeGreaterThanOrEqual(1);
    });

    it('refuses a token whose kid is not in the set', async () => {
      const token = rs256(second, { sub: 'jwks-user', aud: 'api' }, 'key-unknown');
      const r = await get('/api/jwt/x', bearer(token));
      expect401(r);
      expect(r.challenges).toEqual([invalid('no key matches the token')]);
    });

    it('refuses a token signed with another key under a known kid', async () => {
      const token = rs256(second, { sub: 'jwks-user', aud: 'api' }, 'key-1');
      const r = await get('/api/jwt/x', bearer(token));
      expect401(r);
      expect(r.challenges).toEqual([invalid('the token is not valid')]);
    });
    // Rotation under the refresh rule: security-jwks.e2e-spec.ts.
  });

  describe('empty JWT_SECRET', () => {
    let backend: TestBackend;
    let gw: TestGateway;

    beforeAll(async () => {
      backend = await startBackend();
      gw = await startTestGateway(
        {
          gateway: [
            'auth:',
            '  jwt:',
            '    secret: ${JWT_SECRET}',
            'oauth:',
            '  clients:',
            '    - { clientId: acme, clientSecret: "${ACME_SECRET}", scopes: [orders:read], roles: [user] }',
            NO_RATE_LIMIT,
          ].join('\n'),
          services: { api: apiService(backend.url) },
        },
        { JWT_SECRET: '', ACME_SECRET: 'acme-secret' },
      );
    });

    afterAll(async () => {
      await gw?.close();
      await backend?.close();
    });

    it('logs a warning and still verifies tokens from /oauth/token with the per-process key', async () => {
      const warning = gw.logs.find(
        (l) =>
          l.level === 40 &&
          JSON.stringify(l).includes('gateway.yaml: auth.jwt.secret: empty; HS256 uses a random'),
      );
      expect(warning).toBeDefined();
      const issued = await rawRequest({
        port: gw.port,
        method: 'POST',
        path: '/oauth/token',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: 'grant_type=client_credentials&client_id=acme&client_secret=acme-secret',
      });
      expect(issued.status).toBe(200);
      const token = (JSON.parse(issued.body.toString()) as { access_token: string }).access_token;
      const got = upstream(await call(gw, backend, '/api/jwt/x', bearer(token)));
      expect(userHeaders(got)).toEqual({
        'x-user-id': 'acme',
        'x-user-roles': 'user',
        'x-user-scopes': 'orders:read',
      });
    });

    it('refuses HS256 tokens signed with any guessable secret', async () => {
      for (const guess of ['x', 'secret', 'changeme']) {
        const r = await call(gw, backend, '/api/jwt/x', bearer(hs256({ sub: 'a' }, guess)));
        expect401(r);
      }
    });
  });
});
