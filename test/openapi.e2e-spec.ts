import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

import { jsonCall } from './support/admin-kit';
import { startBackend, type TestBackend } from './support/backend';
import { validateOpenApi } from './support/openapi-validate';
import { startTestGateway, type TestGateway } from './support/test-gateway';

interface OpenApiDoc {
  openapi: string;
  info: { title: string; version: string };
  paths: Record<string, Record<string, { security?: Record<string, string[]>[] }>>;
  components?: { securitySchemes?: Record<string, Record<string, unknown>> };
}

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
      gateway:
        'auth:\n  apiKeys:\n    keys:\n      - { name: ops, key: docs-spec-key-4b1e, roles: [admin] }\n',
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
        ['apiKey', 'bearer'].sort(),
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

    it('carries the package version', () => {
      const pkg = JSON.parse(readFileSync(resolve(__dirname, '..', 'package.json'), 'utf8')) as {
        version: string;
      };
      expect(doc.info.version).toBe(pkg.version);
      expect(doc.info.title).toBe('API gateway');
    });
  });
});
