import { createPublicKey, randomBytes, randomUUID } from 'node:crypto';

import argon2 from 'argon2';
import bcrypt from 'bcryptjs';
import Redis from 'ioredis';
import jwt from 'jsonwebtoken';

import { RedisConnection } from '../src/redis/redis-connection';
import { type Received, startBackend, type TestBackend } from './support/backend';
import { basicAuth, claimsOf, headerOf, nowSeconds, rsaPair } from './support/keys';
import { rawRequest, type RawResponse } from './support/raw-http';
import { startTestGateway, type TestGateway } from './support/test-gateway';

const SECRET = 'oauth-spec-hs256-secret-5f1e9d3c7b';
// ':' and '%' (and '+', space, '&', '=', non-ASCII) in a secret: RFC 6749 §2.3.1 Basic has
// them form-encoded first; '%41' must not be decoded twice into 'A'.
const ACME_SECRET = 'Zq:7%41 x+y&=é';
const OTHER_SECRET = 'other-secret-1c2d3e';
const BCRYPT_SECRET = 'bcrypt-secret-9a8b7c';
const ARGON_SECRET = 'argon-secret-6f5e4d';
const OPS_SECRET = 'ops-secret-4b3a29';
const TTL = 600;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const FORM = { 'Content-Type': 'application/x-www-form-urlencoded' };
// These tests fail client authentication on purpose, many times from one address.
const NO_RATE_LIMIT =
  'rateLimit:\n  enabled: false\n  clientAuthFailures: { limit: 0, windowSeconds: 60 }\n';
const revokedChallenge =
  'Bearer realm="api-gateway", error="invalid_token", error_description="the token has been revoked"';

function apiService(url: string): string {
  return [
    'name: api',
    `targets: [{ url: "${url}" }]`,
    'routes:',
    '  - { path: /api/jwt/*, auth: jwt }',
    '  - { path: /api/any/*, auth: any }',
    '  - { path: /api/orders/*, auth: jwt, scopes: [orders:write] }',
    '',
  ].join('\n');
}

function gatewayYaml(extra: string[] = []): string {
  return [
    'auth:',
    '  jwt:',
    '    secret: ${JWT_SECRET}',
    '    issuer: api-gateway',
    '    audience: api',
    'oauth:',
    `  tokenTtlSeconds: ${TTL}`,
    '  clients:',
    '    - clientId: acme',
    '      clientSecret: ${ACME_SECRET}',
    '      scopes: [orders:read, orders:write]',
    '      roles: [user, ops]',
    '    - { clientId: other, clientSecret: "${OTHER_SECRET}", scopes: [billing:read] }',
    ...extra,
    NO_RATE_LIMIT,
  ].join('\n');
}

interface Reply extends RawResponse {
  text: string;
  json: Record<string, unknown>;
  challenges: string[];
}

function reply(r: RawResponse): Reply {
  const text = r.body.toString('utf8');
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // not JSON: `json` stays empty, `text` tells
  }
  const challenges: string[] = [];
  for (let i = 0; i < r.rawHeaders.length; i += 2) {
    if (r.rawHeaders[i].toLowerCase() === 'www-authenticate') challenges.push(r.rawHeaders[i + 1]);
  }
  return { ...r, text, json, challenges };
}

async function post(
  gw: TestGateway,
  path: string,
  body: string | Record<string, string>,
  headers: Record<string, string> = FORM,
): Promise<Reply> {
  const text = typeof body === 'string' ? body : new URLSearchParams(body).toString();
  return reply(await rawRequest({ port: gw.port, method: 'POST', path, headers, body: text }));
}

async function get(gw: TestGateway, path: string, headers: Record<string, string> = {}) {
  return reply(await rawRequest({ port: gw.port, path, headers }));
}

/** A client_credentials token by client_secret_post; fails the test unless 200. */
async function tokenFor(
  gw: TestGateway,
  clientId: string,
  secret: string,
  scope?: string,
): Promise<string> {
  const r = await post(gw, '/oauth/token', {
    grant_type: 'client_credentials',
    client_id: clientId,
    client_secret: secret,
    ...(scope === undefined ? {} : { scope }),
  });
  expect(r.status).toBe(200);
  return r.json.access_token as string;
}

/** An RFC 6749 §5.2 error: status, the two-field body, no-store. */
function expectOAuthError(r: Reply, status: number, error: string): void {
  expect(r.status).toBe(status);
  expect(r.headers['content-type']).toMatch(/^application\/json\b/);
  expect(r.headers['cache-control']).toBe('no-store');
  expect(Object.keys(r.json).sort()).toEqual(['error', 'error_description']);
  expect(r.json.error).toBe(error);
  expect(typeof r.json.error_description).toBe('string');
}

function userHeaders(received: Received): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(received.headers).filter(([k]) => k.startsWith('x-user-')),
  );
}

async function through(
  gw: TestGateway,
  backend: TestBackend,
  path: string,
  token: string,
): Promise<{ r: Reply; forwarded: Received[] }> {
  const before = backend.received.length;
  const r = await get(gw, path, { Authorization: `Bearer ${token}` });
  return { r, forwarded: backend.received.slice(before) };
}

describe('OAuth endpoints (e2e)', () => {
  describe('HS256 gateway', () => {
    let backend: TestBackend;
    let gw: TestGateway;

    beforeAll(async () => {
      backend = await startBackend();
      const bcryptHash = bcrypt.hashSync(BCRYPT_SECRET, 4);
      const argonHash = await argon2.hash(ARGON_SECRET, {
        type: argon2.argon2id,
        // OWASP's minimum: keeps the spec quick; verification reads the cost from the hash.
        memoryCost: 19456,
        timeCost: 2,
        parallelism: 1,
      });
      expect(argonHash.startsWith('$argon2id$')).toBe(true);
      gw = await startTestGateway(
        {
          gateway: gatewayYaml([
            '    - { clientId: ci, clientSecret: "${CI_SECRET}", scopes: [b] }',
            '    - { clientId: ops, clientSecret: "${OPS_SECRET}", roles: [admin] }',
            '    - { clientId: bcrypt-client, secretHash: "${BCRYPT_HASH}", scopes: [b] }',
            '    - { clientId: argon-client, secretHash: "${ARGON_HASH}", scopes: [a] }',
          ]),
          services: { api: apiService(backend.url) },
        },
        {
          JWT_SECRET: SECRET,
          ACME_SECRET,
          OTHER_SECRET,
          CI_SECRET: '',
          OPS_SECRET,
          BCRYPT_HASH: bcryptHash,
          ARGON_HASH: argonHash,
        },
      );
    });

    afterAll(async () => {
      await gw?.close();
      await backend?.close();
    });

    describe('POST /oauth/token', () => {
      it('issues a token to client_secret_basic with form-encoded id and secret', async () => {
        const r = await post(gw, '/oauth/token', 'grant_type=client_credentials', {
          ...FORM,
          Authorization: basicAuth('acme', ACME_SECRET),
        });
        expect(r.status).toBe(200);
        expect(r.headers['content-type']).toMatch(/^application\/json\b/);
        expect(r.headers['cache-control']).toBe('no-store');
        expect(r.headers.pragma).toBe('no-cache');
        expect(Object.keys(r.json).sort()).toEqual([
          'access_token',
          'expires_in',
          'scope',
          'token_type',
        ]);
        expect(r.json).toMatchObject({
          token_type: 'Bearer',
          expires_in: TTL,
          scope: 'orders:read orders:write',
        });
        expect(typeof r.json.access_token).toBe('string');
      });

      it('refuses Basic credentials whose secret was not form-encoded first', async () => {
        // 'Zq:7%41 x+y&=é' sent raw: the '%41' and '+' decode into another secret.
        const raw = Buffer.from(`acme:${ACME_SECRET}`).toString('base64');
        const r = await post(gw, '/oauth/token', 'grant_type=client_credentials', {
          ...FORM,
          Authorization: `Basic ${raw}`,
        });
        expectOAuthError(r, 401, 'invalid_client');
      });

      it('issues a token to client_secret_post', async () => {
        const r = await post(gw, '/oauth/token', {
          grant_type: 'client_credentials',
          client_id: 'acme',
          client_secret: ACME_SECRET,
        });
        expect(r.status).toBe(200);
        expect(r.headers['cache-control']).toBe('no-store');
        expect(r.headers.pragma).toBe('no-cache');
        expect(r.json).toMatchObject({ token_type: 'Bearer', expires_in: TTL });
      });

      it('signs a JWT with sub = client_id, scope, roles, iss, aud, iat, exp and jti', async () => {
        const before = nowSeconds();
        const token = await tokenFor(gw, 'acme', ACME_SECRET);
        const after = nowSeconds();
        expect(headerOf(token)).toEqual({ alg: 'HS256', typ: 'JWT' });
        const claims = jwt.verify(token, SECRET, {
          algorithms: ['HS256'],
          issuer: 'api-gateway',
          audience: 'api',
        }) as Record<string, unknown>;
        expect(Object.keys(claims).sort()).toEqual([
          'aud',
          'client_id',
          'exp',
          'iat',
          'iss',
          'jti',
          'roles',
          'scope',
          'sub',
        ]);
        expect(claims).toMatchObject({
          sub: 'acme',
          client_id: 'acme',
          scope: 'orders:read orders:write',
          roles: ['user', 'ops'],
          iss: 'api-gateway',
          aud: 'api',
        });
        expect(claims.iat).toBeGreaterThanOrEqual(before);
        expect(claims.iat).toBeLessThanOrEqual(after);
        expect(claims.exp).toBe((claims.iat as number) + TTL);
        expect(claims.jti).toMatch(UUID);
        const again = claimsOf(await tokenFor(gw, 'acme', ACME_SECRET));
        expect(again.jti).not.toBe(claims.jti);
      });

      it('issues a token that works at once on a jwt route', async () => {
        const token = await tokenFor(gw, 'acme', ACME_SECRET);
        const { r, forwarded } = await through(gw, backend, '/api/orders/1', token);
        expect(r.status).toBe(200);
        expect(forwarded).toHaveLength(1);
        expect(userHeaders(forwarded[0])).toEqual({
          'x-user-id': 'acme',
          'x-user-roles': 'user,ops',
          'x-user-scopes': 'orders:read orders:write',
        });
      });

      it('omits roles from X-User-Roles for a client without roles', async () => {
        const token = await tokenFor(gw, 'other', OTHER_SECRET);
        expect(claimsOf(token).roles).toEqual([]);
        const { r, forwarded } = await through(gw, backend, '/api/jwt/1', token);
        expect(r.status).toBe(200);
        expect(userHeaders(forwarded[0])).toEqual({
          'x-user-id': 'other',
          'x-user-scopes': 'billing:read',
        });
      });

      it('grants only the requested subset of scopes', async () => {
        const r = await post(gw, '/oauth/token', {
          grant_type: 'client_credentials',
          client_id: 'acme',
          client_secret: ACME_SECRET,
          scope: 'orders:read',
        });
        expect(r.status).toBe(200);
        expect(r.json.scope).toBe('orders:read');
        const token = r.json.access_token as string;
        expect(claimsOf(token).scope).toBe('orders:read');
        // The route needs orders:write, which was not asked for.
        const { r: refused, forwarded } = await through(gw, backend, '/api/orders/1', token);
        expect(refused.status).toBe(403);
        expect(forwarded).toHaveLength(0);
      });

      it('answers invalid_scope for a scope the client does not have', async () => {
        for (const scope of ['orders:delete', 'orders:read orders:delete', 'billing:read']) {
          const r = await post(gw, '/oauth/token', {
            grant_type: 'client_credentials',
            client_id: 'acme',
            client_secret: ACME_SECRET,
            scope,
          });
          expectOAuthError(r, 400, 'invalid_scope');
        }
      });

      it('answers invalid_request without grant_type', async () => {
        const r = await post(gw, '/oauth/token', { client_id: 'acme', client_secret: ACME_SECRET });
        expectOAuthError(r, 400, 'invalid_request');
      });

      it('answers invalid_request to a JSON body', async () => {
        const r = await post(
          gw,
          '/oauth/token',
          JSON.stringify({
            grant_type: 'client_credentials',
            client_id: 'acme',
            client_secret: ACME_SECRET,
          }),
          { 'Content-Type': 'application/json' },
        );
        expectOAuthError(r, 400, 'invalid_request');
      });

      it('answers invalid_request to a repeated parameter', async () => {
        const base = `client_id=acme&client_secret=${encodeURIComponent(ACME_SECRET)}`;
        for (const body of [
          `grant_type=client_credentials&${base}&scope=orders:read&scope=orders:write`,
          `grant_type=client_credentials&grant_type=client_credentials&${base}`,
        ]) {
          expectOAuthError(await post(gw, '/oauth/token', body), 400, 'invalid_request');
        }
      });

      it('answers invalid_request when Basic and client_secret are both used', async () => {
        const r = await post(
          gw,
          '/oauth/token',
          { grant_type: 'client_credentials', client_secret: ACME_SECRET },
          { ...FORM, Authorization: basicAuth('acme', ACME_SECRET) },
        );
        expectOAuthError(r, 400, 'invalid_request');
      });

      it('answers 401 invalid_client with a Basic challenge to a wrong secret by Basic', async () => {
        const r = await post(gw, '/oauth/token', 'grant_type=client_credentials', {
          ...FORM,
          Authorization: basicAuth('acme', `${ACME_SECRET}x`),
        });
        expectOAuthError(r, 401, 'invalid_client');
        expect(r.challenges).toEqual(['Basic realm="api-gateway"']);
      });

      it('answers 401 invalid_client without a Basic challenge to a wrong secret by post', async () => {
        const r = await post(gw, '/oauth/token', {
          grant_type: 'client_credentials',
          client_id: 'acme',
          client_secret: `${ACME_SECRET}x`,
        });
        expectOAuthError(r, 401, 'invalid_client');
        expect(r.challenges).toEqual([]);
      });

      it('answers 401 invalid_client to an unknown client, by Basic and by post', async () => {
        const basic = await post(gw, '/oauth/token', 'grant_type=client_credentials', {
          ...FORM,
          Authorization: basicAuth('nobody', ACME_SECRET),
        });
        expectOAuthError(basic, 401, 'invalid_client');
        expect(basic.challenges).toEqual(['Basic realm="api-gateway"']);
        const form = await post(gw, '/oauth/token', {
          grant_type: 'client_credentials',
          client_id: 'nobody',
          client_secret: ACME_SECRET,
        });
        expectOAuthError(form, 401, 'invalid_client');
      });

      it('answers 401 invalid_client when the client does not authenticate', async () => {
        const r = await post(gw, '/oauth/token', { grant_type: 'client_credentials' });
        expectOAuthError(r, 401, 'invalid_client');
      });

      it('answers unsupported_grant_type to another grant', async () => {
        const r = await post(gw, '/oauth/token', {
          grant_type: 'password',
          client_id: 'acme',
          client_secret: ACME_SECRET,
          username: 'u',
          password: 'p',
        });
        expectOAuthError(r, 400, 'unsupported_grant_type');
      });

      it('skips a client whose clientSecret is an empty ${VAR}, with a warning', async () => {
        const warning = gw.logs.find(
          (l) =>
            l.level === 40 &&
            JSON.stringify(l).includes(
              'gateway.yaml: oauth.clients[2].clientSecret: empty; skipped',
            ),
        );
        expect(warning).toBeDefined();
        const form = await post(gw, '/oauth/token', {
          grant_type: 'client_credentials',
          client_id: 'ci',
          client_secret: '',
        });
        expectOAuthError(form, 401, 'invalid_client');
        const basic = await post(gw, '/oauth/token', 'grant_type=client_credentials', {
          ...FORM,
          Authorization: basicAuth('ci', ''),
        });
        expectOAuthError(basic, 401, 'invalid_client');
      });

      it('verifies a bcrypt secretHash', async () => {
        const token = await tokenFor(gw, 'bcrypt-client', BCRYPT_SECRET);
        expect(claimsOf(token)).toMatchObject({ sub: 'bcrypt-client', scope: 'b' });
        const wrong = await post(gw, '/oauth/token', {
          grant_type: 'client_credentials',
          client_id: 'bcrypt-client',
          client_secret: ARGON_SECRET,
        });
        expectOAuthError(wrong, 401, 'invalid_client');
      });

      it('verifies an argon2id secretHash', async () => {
        const r = await post(gw, '/oauth/token', 'grant_type=client_credentials', {
          ...FORM,
          Authorization: basicAuth('argon-client', ARGON_SECRET),
        });
        expect(r.status).toBe(200);
        expect(claimsOf(r.json.access_token as string)).toMatchObject({
          sub: 'argon-client',
          scope: 'a',
        });
        const wrong = await post(gw, '/oauth/token', {
          grant_type: 'client_credentials',
          client_id: 'argon-client',
          client_secret: BCRYPT_SECRET,
        });
        expectOAuthError(wrong, 401, 'invalid_client');
      });

      it('never logs a client secret or an issued token', async () => {
        const token = await tokenFor(gw, 'acme', ACME_SECRET);
        const all = JSON.stringify(gw.logs);
        for (const s of [ACME_SECRET, OTHER_SECRET, BCRYPT_SECRET, ARGON_SECRET, SECRET, token]) {
          expect(all).not.toContain(s);
        }
        expect(gw.logs.some((l) => l.context === 'audit' && l.event === 'token issued')).toBe(true);
      });
    });

    describe('GET /.well-known/jwks.json', () => {
      it('publishes no key when tokens are signed HS256', async () => {
        const r = await get(gw, '/.well-known/jwks.json');
        expect(r.status).toBe(200);
        expect(r.text).toBe('{"keys":[]}');
      });
    });

    describe('POST /oauth/revoke', () => {
      it('answers 200 with an empty body; the token is then refused on jwt and any routes', async () => {
        const token = await tokenFor(gw, 'acme', ACME_SECRET);
        expect((await through(gw, backend, '/api/jwt/1', token)).r.status).toBe(200);

        const r = await post(
          gw,
          '/oauth/revoke',
          { token, token_type_hint: 'access_token' },
          { ...FORM, Authorization: basicAuth('acme', ACME_SECRET) },
        );
        expect(r.status).toBe(200);
        expect(r.text).toBe('');

        const onJwt = await through(gw, backend, '/api/jwt/1', token);
        expect(onJwt.r.status).toBe(401);
        expect(onJwt.forwarded).toHaveLength(0);
        expect(onJwt.r.challenges).toEqual([revokedChallenge]);
        const audit = gw.logs.find(
          (l) => l.context === 'audit' && l.requestId === onJwt.r.headers['x-request-id'],
        );
        expect(audit).toMatchObject({ reason: 'revoked', clientIp: '127.0.0.1' });

        const onAny = await through(gw, backend, '/api/any/1', token);
        expect(onAny.r.status).toBe(401);
        expect(onAny.forwarded).toHaveLength(0);
        expect(onAny.r.challenges).toEqual([revokedChallenge, 'ApiKey header="X-API-Key"']);
      });

      it('refuses a revoked token on the admin endpoints too', async () => {
        const token = await tokenFor(gw, 'ops', OPS_SECRET);
        const auth = { Authorization: `Bearer ${token}` };
        expect((await get(gw, '/api/gateway/routes', auth)).status).toBe(200);
        const r = await post(gw, '/oauth/revoke', {
          token,
          client_id: 'ops',
          client_secret: OPS_SECRET,
        });
        expect(r.status).toBe(200);
        const after = await get(gw, '/api/gateway/routes', auth);
        expect(after.status).toBe(401);
        expect(after.challenges[0]).toBe(revokedChallenge);
      });

      it('refuses to revoke another client’s token (400 invalid_request); it stays valid', async () => {
        const token = await tokenFor(gw, 'acme', ACME_SECRET);
        const r = await post(gw, '/oauth/revoke', {
          token,
          client_id: 'other',
          client_secret: OTHER_SECRET,
        });
        expectOAuthError(r, 400, 'invalid_request');
        const after = await through(gw, backend, '/api/jwt/1', token);
        expect(after.r.status).toBe(200);
        expect(after.forwarded).toHaveLength(1);
        const intro = await post(gw, '/oauth/introspect', {
          token,
          client_id: 'acme',
          client_secret: ACME_SECRET,
        });
        expect(intro.json.active).toBe(true);
      });

      it('answers 200 with an empty body to a garbage token', async () => {
        const r = await post(gw, '/oauth/revoke', {
          token: 'garbage',
          client_id: 'acme',
          client_secret: ACME_SECRET,
        });
        expect(r.status).toBe(200);
        expect(r.text).toBe('');
      });

      it('answers 200 to a token signed by someone else', async () => {
        const foreign = jwt.sign({ sub: 'acme', client_id: 'acme', jti: 'x' }, 'not-ours', {
          expiresIn: 60,
        });
        const r = await post(gw, '/oauth/revoke', {
          token: foreign,
          client_id: 'acme',
          client_secret: ACME_SECRET,
        });
        expect(r.status).toBe(200);
        expect(r.text).toBe('');
      });

      it('answers 400 invalid_request without a token field', async () => {
        const r = await post(gw, '/oauth/revoke', {
          client_id: 'acme',
          client_secret: ACME_SECRET,
        });
        expectOAuthError(r, 400, 'invalid_request');
      });

      it('authenticates the client: a wrong secret is 401 invalid_client and revokes nothing', async () => {
        const token = await tokenFor(gw, 'acme', ACME_SECRET);
        const r = await post(gw, '/oauth/revoke', 'token=' + token, {
          ...FORM,
          Authorization: basicAuth('acme', 'wrong'),
        });
        expectOAuthError(r, 401, 'invalid_client');
        expect(r.challenges).toEqual(['Basic realm="api-gateway"']);
        expect((await through(gw, backend, '/api/jwt/1', token)).r.status).toBe(200);
      });
    });

    describe('POST /oauth/introspect', () => {
      it('describes an active token with every field, no-store', async () => {
        const token = await tokenFor(gw, 'acme', ACME_SECRET, 'orders:read');
        const claims = claimsOf(token);
        const r = await post(gw, '/oauth/introspect', {
          token,
          client_id: 'acme',
          client_secret: ACME_SECRET,
        });
        expect(r.status).toBe(200);
        expect(r.headers['cache-control']).toBe('no-store');
        expect(r.json).toEqual({
          active: true,
          scope: 'orders:read',
          client_id: 'acme',
          sub: 'acme',
          exp: claims.exp,
          iat: claims.iat,
          iss: 'api-gateway',
          aud: 'api',
          token_type: 'Bearer',
        });
      });

      it('lets any registered client introspect', async () => {
        const token = await tokenFor(gw, 'acme', ACME_SECRET);
        const r = await post(gw, '/oauth/introspect', `token=${token}`, {
          ...FORM,
          Authorization: basicAuth('other', OTHER_SECRET),
        });
        expect(r.status).toBe(200);
        expect(r.json).toMatchObject({ active: true, client_id: 'acme' });
      });

      it('answers exactly {"active":false} after revocation', async () => {
        const token = await tokenFor(gw, 'acme', ACME_SECRET);
        const creds = { client_id: 'acme', client_secret: ACME_SECRET };
        expect((await post(gw, '/oauth/revoke', { token, ...creds })).status).toBe(200);
        const r = await post(gw, '/oauth/introspect', { token, ...creds });
        expect(r.status).toBe(200);
        expect(r.headers['cache-control']).toBe('no-store');
        expect(r.text).toBe('{"active":false}');
      });

      it('answers exactly {"active":false} to garbage, foreign and expired tokens', async () => {
        const creds = { client_id: 'acme', client_secret: ACME_SECRET };
        const claims = { sub: 'acme', client_id: 'acme', jti: randomUUID(), scope: 'orders:read' };
        const foreign = jwt.sign(claims, 'not-ours', { expiresIn: 60 });
        // Signed with the gateway's own key and claims, but expired.
        const expired = jwt.sign({ ...claims, exp: nowSeconds() - 5 }, SECRET, {
          issuer: 'api-gateway',
          audience: 'api',
        });
        for (const token of ['garbage', foreign, expired]) {
          const r = await post(gw, '/oauth/introspect', { token, ...creds });
          expect(r.status).toBe(200);
          expect(r.headers['cache-control']).toBe('no-store');
          expect(r.text).toBe('{"active":false}');
        }
      });

      it('answers 401 invalid_client to an unauthenticated caller', async () => {
        const token = await tokenFor(gw, 'acme', ACME_SECRET);
        const r = await post(gw, '/oauth/introspect', { token });
        expectOAuthError(r, 401, 'invalid_client');
      });
    });
  });

  describe('RS256 signing', () => {
    let backend: TestBackend;
    let gw: TestGateway;
    const pair = rsaPair();

    beforeAll(async () => {
      backend = await startBackend();
      gw = await startTestGateway(
        {
          gateway: [
            'auth:',
            '  jwt:',
            '    secret: ${JWT_SECRET}',
            'oauth:',
            '  signing: { algorithm: RS256, privateKeyFile: jwt.key }',
            '  clients:',
            '    - { clientId: acme, clientSecret: "${ACME_SECRET}", scopes: [orders:read], roles: [user] }',
            NO_RATE_LIMIT,
          ].join('\n'),
          services: { api: apiService(backend.url) },
          extra: { 'jwt.key': pair.privatePem },
        },
        { JWT_SECRET: SECRET, ACME_SECRET },
      );
    });

    afterAll(async () => {
      await gw?.close();
      await backend?.close();
    });

    it('publishes the signing key with its kid; tokens verify against it and work on a jwt route', async () => {
      const jwks = await get(gw, '/.well-known/jwks.json');
      expect(jwks.status).toBe(200);
      const keys = jwks.json.keys as Record<string, string>[];
      expect(keys).toHaveLength(1);
      const [key] = keys;
      const own = createPublicKey(pair.publicPem).export({ format: 'jwk' });
      expect(key).toMatchObject({ kty: 'RSA', n: own.n, e: own.e, alg: 'RS256' });
      expect(typeof key.kid).toBe('string');
      expect(key.kid.length).toBeGreaterThan(0);
      expect(key).not.toHaveProperty('d');

      const token = await tokenFor(gw, 'acme', ACME_SECRET);
      expect(headerOf(token)).toEqual({ alg: 'RS256', typ: 'JWT', kid: key.kid });
      const published = createPublicKey({ key: key as never, format: 'jwk' });
      const claims = jwt.verify(token, published, { algorithms: ['RS256'] }) as Record<
        string,
        unknown
      >;
      expect(claims).toMatchObject({
        sub: 'acme',
        client_id: 'acme',
        scope: 'orders:read',
        roles: ['user'],
      });
      // iss and aud are omitted when auth.jwt has none.
      expect(claims).not.toHaveProperty('iss');
      expect(claims).not.toHaveProperty('aud');

      const { r, forwarded } = await through(gw, backend, '/api/jwt/1', token);
      expect(r.status).toBe(200);
      expect(userHeaders(forwarded[0])).toEqual({
        'x-user-id': 'acme',
        'x-user-roles': 'user',
        'x-user-scopes': 'orders:read',
      });
    });

    it('introspects its RS256 tokens without iss and aud', async () => {
      const token = await tokenFor(gw, 'acme', ACME_SECRET);
      const r = await post(gw, '/oauth/introspect', {
        token,
        client_id: 'acme',
        client_secret: ACME_SECRET,
      });
      const c = claimsOf(token);
      expect(r.json).toEqual({
        active: true,
        scope: 'orders:read',
        client_id: 'acme',
        sub: 'acme',
        exp: c.exp,
        iat: c.iat,
        token_type: 'Bearer',
      });
    });
  });

  describe('revocation shared through Redis', () => {
    const REDIS_URL = 'redis://127.0.0.1:6379';
    const prefix = `test-${randomBytes(6).toString('hex')}:`;
    let backend: TestBackend;
    let a: TestGateway;
    let b: TestGateway;
    let redis: Redis;

    const start = () =>
      startTestGateway(
        {
          gateway: gatewayYaml().replace(
            'rateLimit:\n  enabled: false\n',
            `rateLimit:\n  enabled: false\n  redisKeyPrefix: "${prefix}"\n`,
          ),
          services: { api: apiService(backend.url) },
        },
        { JWT_SECRET: SECRET, ACME_SECRET, OTHER_SECRET, REDIS_URL },
      );

    /** Until this instance's Redis connection is up (it connects in the background). */
    async function redisReady(gw: TestGateway): Promise<void> {
      const conn = gw.app.get(RedisConnection);
      const deadline = Date.now() + 5000;
      while (!conn.ready) {
        if (Date.now() > deadline) throw new Error('redis not ready');
        await new Promise<void>((resolve) => setTimeout(resolve, 10));
      }
    }

    beforeAll(async () => {
      redis = new Redis(REDIS_URL);
      backend = await startBackend();
      a = await start();
      b = await start();
      await Promise.all([redisReady(a), redisReady(b)]);
    });

    afterAll(async () => {
      await a?.close();
      await b?.close();
      await backend?.close();
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      await redis.quit();
    });

    it('a token revoked on instance A is refused on instance B', async () => {
      const token = await tokenFor(a, 'acme', ACME_SECRET);
      expect((await through(b, backend, '/api/jwt/1', token)).r.status).toBe(200);

      const revoke = await post(a, '/oauth/revoke', {
        token,
        client_id: 'acme',
        client_secret: ACME_SECRET,
      });
      expect(revoke.status).toBe(200);

      const key = `${prefix}revoked:${claimsOf(token).jti as string}`;
      expect(await redis.exists(key)).toBe(1);
      const ttl = await redis.ttl(key);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(TTL);

      const onB = await through(b, backend, '/api/jwt/1', token);
      expect(onB.r.status).toBe(401);
      expect(onB.forwarded).toHaveLength(0);
      expect(onB.r.challenges).toEqual([revokedChallenge]);
      expect((await through(a, backend, '/api/any/1', token)).r.status).toBe(401);

      const intro = await post(b, '/oauth/introspect', {
        token,
        client_id: 'other',
        client_secret: OTHER_SECRET,
      });
      expect(intro.text).toBe('{"active":false}');
    });

    it('leaves other tokens of the same client valid on both instances', async () => {
      const revoked = await tokenFor(a, 'acme', ACME_SECRET);
      const kept = await tokenFor(b, 'acme', ACME_SECRET);
      const creds = { client_id: 'acme', client_secret: ACME_SECRET };
      expect((await post(b, '/oauth/revoke', { token: revoked, ...creds })).status).toBe(200);
      expect((await through(a, backend, '/api/jwt/1', revoked)).r.status).toBe(401);
      expect((await through(a, backend, '/api/jwt/1', kept)).r.status).toBe(200);
      expect((await through(b, backend, '/api/jwt/1', kept)).r.status).toBe(200);
    });
  });
});
