import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

import Ajv from 'ajv';

import { jsonCall } from './support/admin-kit';
import { startBackend, type TestBackend } from './support/backend';
import { validateOpenApi } from './support/openapi-validate';
import { startTestGateway, type TestGateway } from './support/test-gateway';

interface Operation {
  security?: Record<string, string[]>[];
  requestBody?: { content: Record<string, { schema: unknown }> };
  responses: Record<string, { description: string; content?: Record<string, { schema: unknown }> }>;
}
interface OpenApiDoc {
  openapi: string;
  info: { title: string; version: string };
  paths: Record<string, Record<string, Operation>>;
  components?: {
    securitySchemes?: Record<string, Record<string, unknown>>;
    schemas?: Record<string, unknown>;
  };
}

const CLIENT_SECRET = 'docs-client-secret-9f3a7c1e';
const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
const FORM = { 'Content-Type': 'application/x-www-form-urlencoded' };

// Every gateway-owned endpoint of the contract, with its method.
const OWNED: [string, string][] = [
  ['get', '/health'],
  ['get', '/ready'],
  ['get', '/metrics'],
  ['post', '/oauth/token'],
  ['post', '/oauth/revoke'],
  ['post', '/oauth/introspect'],
  ['get', '/.well-known/jwks.json'],
  ['get', '/api/gateway/status'],
  ['get', '/api/gateway/services'],
  ['get', '/api/gateway/routes'],
  ['get', '/api/gateway/routes/explain'],
  ['post', '/api/gateway/reload'],
];

const ADMIN_ONLY = [
  '/api/gateway/services',
  '/api/gateway/routes',
  '/api/gateway/routes/explain',
  '/api/gateway/reload',
];

describe('OpenAPI docs (e2e)', () => {
  let backend: TestBackend;
  let gw: TestGateway;

  beforeAll(async () => {
    backend = await startBackend({ kind: 'echo' });
    gw = await startTestGateway({
      gateway: [
        'auth:',
        '  apiKeys:',
        '    keys:',
        '      - { name: ops, key: docs-spec-key-4b1e, roles: [admin] }',
        '      - { name: user, key: docs-user-key-7c2d, roles: [user] }',
        'oauth:',
        '  clients:',
        `    - { clientId: docs, clientSecret: ${CLIENT_SECRET}, scopes: [orders:read] }`,
        '',
      ].join('\n'),
      services: {
        orders: `name: orders\ntargets: [{ url: "${backend.url}" }]\nroutes:\n  - { path: /api/orders/*, auth: apiKey }\n`,
      },
    });
  });

  afterAll(async () => {
    await gw?.close();
    await backend?.close();
  });

  const get = (path: string) => jsonCall(gw.port, path);

  describe('GET /api/gateway/docs', () => {
    it('serves the Swagger UI page without credentials', async () => {
      const r = await get('/api/gateway/docs');
      expect(r.status).toBe(200);
      expect(r.headers['content-type']).toMatch(/^text\/html\b/);
      expect(r.headers['www-authenticate']).toBeUndefined();
      expect(r.text).toMatch(/<html/i);
      expect(r.text).toContain('swagger-ui');
    });

    it('serves the scripts and styles the page loads, without credentials', async () => {
      const page = (await get('/api/gateway/docs')).text;
      const base = `${gw.url}/api/gateway/docs`;
      const assets = [...page.matchAll(/(?:src|href)="([^"]+\.(js|css))"/g)].map((m) => ({
        path: new URL(m[1], base).pathname,
        kind: m[2],
      }));
      expect(assets.map((a) => a.path)).toEqual(
        expect.arrayContaining([
          '/api/gateway/docs/swagger-ui-bundle.js',
          '/api/gateway/docs/swagger-ui.css',
        ]),
      );
      for (const asset of assets) {
        const r = await get(asset.path);
        expect({ ...asset, status: r.status }).toEqual({ ...asset, status: 200 });
        expect(r.headers['content-type']).toMatch(
          asset.kind === 'js' ? /^(application|text)\/javascript\b/ : /^text\/css\b/,
        );
        expect(r.text.length).toBeGreaterThan(0);
      }
    });
  });

  describe('GET /api/gateway/docs-json', () => {
    let doc: OpenApiDoc;

    beforeAll(async () => {
      const r = await get('/api/gateway/docs-json');
      expect(r.status).toBe(200);
      expect(r.headers['content-type']).toMatch(/^application\/json\b/);
      doc = r.json as OpenApiDoc;
    });

    it('is public', async () => {
      const r = await get('/api/gateway/docs-json');
      expect(r.status).toBe(200);
      expect(r.headers['www-authenticate']).toBeUndefined();
    });

    it('is a valid OpenAPI 3 document', async () => {
      expect(doc.openapi).toMatch(/^3\.\d+\.\d+$/);
      await expect(validateOpenApi(doc)).resolves.toEqual({ valid: true, version: doc.openapi });
      // The validator does refuse a broken document.
      const broken = { ...doc, info: { title: 'x' } };
      await expect(validateOpenApi(broken)).resolves.toMatchObject({ valid: false });
    });

    it.each(OWNED)('lists %s %s', (method, path) => {
      expect(Object.keys(doc.paths)).toContain(path);
      expect(Object.keys(doc.paths[path])).toContain(method);
    });

    it('lists only gateway-owned endpoints, never the configured proxy routes', () => {
      const paths = Object.keys(doc.paths);
      expect(paths.filter((p) => p.startsWith('/api/orders'))).toEqual([]);
      expect([...paths].sort()).toEqual(OWNED.map(([, p]) => p).sort());
    });

    it('marks the admin endpoints as needing a bearer token or an API key', () => {
      expect(Object.keys(doc.components?.securitySchemes ?? {}).sort()).toEqual(
        ['apiKey', 'bearer', 'clientBasic'].sort(),
      );
      expect(doc.components?.securitySchemes?.apiKey).toMatchObject({
        type: 'apiKey',
        in: 'header',
        name: 'X-API-Key',
      });
      for (const path of ADMIN_ONLY) {
        const op = Object.values(doc.paths[path])[0];
        expect({ path, security: op.security }).toEqual({
          path,
          security: expect.arrayContaining([{ bearer: [] }, { apiKey: [] }]),
        });
      }
      expect(doc.paths['/api/gateway/status'].get.security).toBeUndefined();
    });

    it('gives every operation a documented 200 with its body schema', () => {
      for (const [path, ops] of Object.entries(doc.paths)) {
        for (const [method, op] of Object.entries(ops)) {
          const ok = op.responses['200'];
          expect({ path, method, ok: ok !== undefined }).toEqual({ path, method, ok: true });
          if (path === '/oauth/revoke') continue; // an empty body
          const types = Object.keys(ok.content ?? {});
          expect({ path, method, types: types.length }).toEqual({ path, method, types: 1 });
        }
      }
    });

    it('documents the error responses with the error body: 401/403/503 admin, 422 reload, 404 metrics', () => {
      const ref = (path: string, method: string, status: string) =>
        doc.paths[path][method].responses[status]?.content?.['application/json']?.schema;
      const errorBody = { $ref: '#/components/schemas/ErrorBody' };
      for (const path of ADMIN_ONLY) {
        const method = Object.keys(doc.paths[path])[0];
        for (const status of ['401', '403', '503']) {
          expect({ path, status, schema: ref(path, method, status) }).toEqual({
            path,
            status,
            schema: errorBody,
          });
        }
      }
      expect(ref('/api/gateway/reload', 'post', '422')).toEqual(errorBody);
      expect(ref('/api/gateway/routes/explain', 'get', '400')).toEqual(errorBody);
      expect(ref('/metrics', 'get', '404')).toEqual(errorBody);
      expect(Object.keys(doc.paths['/metrics'].get.responses['200'].content ?? {})).toEqual([
        'text/plain; version=0.0.4; charset=utf-8',
      ]);
      for (const p of ['/health', '/ready']) {
        for (const status of ['200', '503']) {
          expect(ref(p, 'get', status)).toEqual({ $ref: '#/components/schemas/HealthBody' });
        }
      }
    });

    it('documents the /oauth/* forms and their RFC 6749 errors, and 429 in the error body', () => {
      for (const [path, form] of [
        ['/oauth/token', 'ClientCredentialsForm'],
        ['/oauth/revoke', 'TokenForm'],
        ['/oauth/introspect', 'TokenForm'],
      ]) {
        const op = doc.paths[path].post;
        expect(op.requestBody?.content).toEqual({
          'application/x-www-form-urlencoded': {
            schema: { $ref: `#/components/schemas/${form}` },
          },
        });
        for (const status of ['400', '401']) {
          expect(op.responses[status].content?.['application/json'].schema).toEqual({
            $ref: '#/components/schemas/OAuthError',
          });
        }
        expect(op.responses['429'].content?.['application/json'].schema).toEqual({
          $ref: '#/components/schemas/ErrorBody',
        });
        expect(op.security).toEqual([{ clientBasic: [] }]);
      }
    });

    describe('what the endpoints answer matches the documented schemas', () => {
      const ajv = new Ajv({ strict: false, allErrors: true });
      const check = (path: string, method: string, status: number, body: unknown) => {
        const content = doc.paths[path][method].responses[String(status)]?.content;
        const schema = content?.['application/json']?.schema;
        expect({ path, status, documented: schema !== undefined }).toEqual({
          path,
          status,
          documented: true,
        });
        const validate = ajv.compile({ ...(schema as object), components: doc.components });
        const ok = validate(body);
        expect({ path, status, errors: ok ? null : validate.errors }).toEqual({
          path,
          status,
          errors: null,
        });
      };
      const admin = { 'X-API-Key': 'docs-spec-key-4b1e' };

      it('the public endpoints and the admin API (200s)', async () => {
        for (const [path, headers] of [
          ['/health', {}],
          ['/ready', {}],
          ['/.well-known/jwks.json', {}],
          ['/api/gateway/status', {}],
          ['/api/gateway/services', admin],
          ['/api/gateway/routes', admin],
          ['/api/gateway/routes/explain?method=GET&path=/api/orders/1', admin],
          ['/api/gateway/routes/explain?method=GET&path=/nowhere', admin],
        ] as const) {
          const r = await jsonCall(gw.port, path, { headers });
          expect({ path, status: r.status }).toEqual({ path, status: 200 });
          check(path.split('?')[0], 'get', 200, r.json);
        }
        const reload = await jsonCall(gw.port, '/api/gateway/reload', {
          method: 'POST',
          headers: admin,
        });
        expect(reload.status).toBe(200);
        check('/api/gateway/reload', 'post', 200, reload.json);
      });

      it('the error bodies: 401, 403, 400 and a 422 reload with its problems', async () => {
        const none = await jsonCall(gw.port, '/api/gateway/services');
        expect(none.status).toBe(401);
        check('/api/gateway/services', 'get', 401, none.json);
        const user = await jsonCall(gw.port, '/api/gateway/routes', {
          headers: { 'X-API-Key': 'docs-user-key-7c2d' },
        });
        expect(user.status).toBe(403);
        check('/api/gateway/routes', 'get', 403, user.json);
        const bad = await jsonCall(gw.port, '/api/gateway/routes/explain?method=GET', {
          headers: admin,
        });
        expect(bad.status).toBe(400);
        check('/api/gateway/routes/explain', 'get', 400, bad.json);
        const file = join(gw.dir, 'services', 'broken.yaml');
        writeFileSync(file, 'name: broken\ntargets: []\nroutes: []\n');
        const rejected = await jsonCall(gw.port, '/api/gateway/reload', {
          method: 'POST',
          headers: admin,
        });
        expect(rejected.status).toBe(422);
        check('/api/gateway/reload', 'post', 422, rejected.json);
        writeFileSync(file, `name: broken\ntargets: [{ url: "${backend.url}" }]\nroutes: []\n`);
      });

      it('the OAuth endpoints: a token, its introspection, and the RFC 6749 errors', async () => {
        const token = await jsonCall(gw.port, '/oauth/token', {
          method: 'POST',
          headers: { ...FORM, Authorization: basic('docs', CLIENT_SECRET) },
          body: 'grant_type=client_credentials',
        });
        expect(token.status).toBe(200);
        check('/oauth/token', 'post', 200, token.json);
        const access = (token.json as { access_token: string }).access_token;
        for (const t of [access, 'not-a-token']) {
          const r = await jsonCall(gw.port, '/oauth/introspect', {
            method: 'POST',
            headers: { ...FORM, Authorization: basic('docs', CLIENT_SECRET) },
            body: `token=${encodeURIComponent(t)}`,
          });
          expect(r.status).toBe(200);
          check('/oauth/introspect', 'post', 200, r.json);
        }
        const wrong = await jsonCall(gw.port, '/oauth/token', {
          method: 'POST',
          headers: { ...FORM, Authorization: basic('docs', 'wrong-secret') },
          body: 'grant_type=client_credentials',
        });
        expect(wrong.status).toBe(401);
        check('/oauth/token', 'post', 401, wrong.json);
        const grant = await jsonCall(gw.port, '/oauth/token', {
          method: 'POST',
          headers: { ...FORM, Authorization: basic('docs', CLIENT_SECRET) },
          body: 'grant_type=password',
        });
        expect(grant.status).toBe(400);
        check('/oauth/token', 'post', 400, grant.json);
      });

      it('refuses a body the schema does not allow (the check can fail)', () => {
        expect(() => check('/api/gateway/status', 'get', 200, { version: 1 })).toThrow();
      });
    });

    it('carries the package version', () => {
      const pkg = JSON.parse(readFileSync(resolve(__dirname, '..', 'package.json'), 'utf8')) as {
        version: string;
      };
      expect(doc.info.version).toBe(pkg.version);
      expect(doc.info.title).toBe('API gateway');
    });
  });
});
