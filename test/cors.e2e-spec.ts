import { type Received, startBackend, type TestBackend } from './support/backend';
import { rawRequest, type RawResponse } from './support/raw-http';
import { startTestGateway, type TestGateway } from './support/test-gateway';

const APP = 'http://app.test';
const EVIL = 'http://evil.test';

// The backend answers every call with its own, permissive CORS headers.
const BACKEND_CORS = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Credentials': 'false',
  'Access-Control-Allow-Methods': 'PUT',
  'Access-Control-Expose-Headers': 'X-Internal',
  'X-Backend-Version': '7',
  'Content-Type': 'text/plain',
};

function service(url: string): string {
  return [
    'name: app',
    `targets: [{ url: "${url}" }]`,
    'routes:',
    '  - { path: /api/items/*, auth: none }',
    '  - { path: /api/secure/*, auth: jwt }',
    '',
  ].join('\n');
}

interface Reply extends RawResponse {
  text: string;
  /** Every field name the response carried, lower-case, in order. */
  names: string[];
  /** The values of every field with this name. */
  all(name: string): string[];
  forwarded: Received[];
}

async function send(
  gw: TestGateway,
  backend: TestBackend,
  method: string,
  path: string,
  headers: Record<string, string>,
): Promise<Reply> {
  const before = backend.received.length;
  const r = await rawRequest({ port: gw.port, method, path, headers });
  const names: string[] = [];
  for (let i = 0; i < r.rawHeaders.length; i += 2) names.push(r.rawHeaders[i].toLowerCase());
  return {
    ...r,
    text: r.body.toString('utf8'),
    names,
    all: (name) =>
      r.rawHeaders.filter((_, i) => i % 2 === 1 && names[(i - 1) / 2] === name.toLowerCase()),
    forwarded: backend.received.slice(before),
  };
}

const corsNames = (r: Reply) => r.names.filter((n) => n.startsWith('access-control-'));

function preflight(origin: string, method = 'POST', requestHeaders = 'content-type,x-trace') {
  return {
    Origin: origin,
    'Access-Control-Request-Method': method,
    'Access-Control-Request-Headers': requestHeaders,
  };
}

describe('CORS (e2e)', () => {
  let backend: TestBackend;

  beforeAll(async () => {
    backend = await startBackend({
      kind: 'status',
      status: 200,
      headers: BACKEND_CORS,
      body: 'hello',
    });
  });

  afterAll(async () => {
    await backend?.close();
  });

  describe('with cors: { origins: ["http://app.test"], credentials: true }', () => {
    let gw: TestGateway;
    const call = (method: string, path: string, headers: Record<string, string> = {}) =>
      send(gw, backend, method, path, headers);

    beforeAll(async () => {
      gw = await startTestGateway({
        gateway: [
          'cors:',
          `  origins: ["${APP}"]`,
          '  credentials: true',
          '  methods: [GET, POST, DELETE]',
          '  allowedHeaders: [Authorization, Content-Type, X-Trace]',
          '  exposedHeaders: [X-Request-ID, X-Backend-Version]',
          '  maxAgeSeconds: 300',
          'auth:',
          '  jwt:',
          '    secret: cors-spec-secret-0123456789abcdef-xyz',
          'rateLimit:',
          '  enabled: false',
          '',
        ].join('\n'),
        services: { app: service(backend.url) },
      });
    });

    afterAll(async () => {
      await gw?.close();
    });

    describe('preflight', () => {
      it('is answered 204 by the gateway for an allowed origin, and not forwarded', async () => {
        const r = await call('OPTIONS', '/api/items/1', preflight(APP));
        expect(r.status).toBe(204);
        expect(r.text).toBe('');
        expect(r.forwarded).toHaveLength(0);
        expect(r.all('access-control-allow-origin')).toEqual([APP]);
        expect(r.all('access-control-allow-credentials')).toEqual(['true']);
        expect(r.all('access-control-allow-methods')).toEqual(['GET,POST,DELETE']);
        expect(r.all('access-control-allow-headers')).toEqual([
          'Authorization,Content-Type,X-Trace',
        ]);
        expect(r.all('access-control-max-age')).toEqual(['300']);
        expect(r.headers.vary).toMatch(/\bOrigin\b/);
        expect(typeof r.headers['x-request-id']).toBe('string');
      });

      it('is answered without authentication on a jwt route', async () => {
        const r = await call('OPTIONS', '/api/secure/1', preflight(APP, 'DELETE', 'authorization'));
        expect(r.status).toBe(204);
        expect(r.forwarded).toHaveLength(0);
        expect(r.names).not.toContain('www-authenticate');
        expect(r.all('access-control-allow-origin')).toEqual([APP]);
      });

      it('gets no Access-Control-* from a disallowed origin, and is not forwarded', async () => {
        const r = await call('OPTIONS', '/api/items/1', preflight(EVIL));
        expect(r.status).toBe(204);
        expect(r.text).toBe('');
        expect(corsNames(r)).toEqual([]);
        expect(r.forwarded).toHaveLength(0);
      });

      it('treats an origin that only starts like an allowed one as disallowed', async () => {
        for (const origin of [`${APP}.evil.test`, 'https://app.test', `${APP}:8080`, 'null']) {
          const r = await call('OPTIONS', '/api/items/1', preflight(origin));
          expect(corsNames(r)).toEqual([]);
          expect(r.forwarded).toHaveLength(0);
        }
      });
    });

    describe('actual requests', () => {
      it('from an allowed origin get our Allow-Origin, -Credentials and -Expose-Headers in place of the backend’s', async () => {
        const r = await call('GET', '/api/items/1', { Origin: APP });
        expect(r.status).toBe(200);
        expect(r.text).toBe('hello');
        expect(r.forwarded).toHaveLength(1);
        expect(r.forwarded[0].headers.origin).toBe(APP);
        expect(r.all('access-control-allow-origin')).toEqual([APP]);
        expect(r.all('access-control-allow-credentials')).toEqual(['true']);
        expect(r.all('access-control-expose-headers')).toEqual(['X-Request-ID,X-Backend-Version']);
        // The backend's other Access-Control-* are dropped too: the gateway owns them.
        expect(r.names).not.toContain('access-control-allow-methods');
        expect(corsNames(r).sort()).toEqual([
          'access-control-allow-credentials',
          'access-control-allow-origin',
          'access-control-expose-headers',
        ]);
        // The backend's own headers otherwise pass.
        expect(r.headers['x-backend-version']).toBe('7');
      });

      it('from a disallowed origin get no Access-Control-* at all, not even the backend’s', async () => {
        const r = await call('GET', '/api/items/1', { Origin: EVIL });
        expect(r.status).toBe(200);
        expect(r.text).toBe('hello');
        expect(r.forwarded).toHaveLength(1);
        expect(corsNames(r)).toEqual([]);
        expect(r.headers['x-backend-version']).toBe('7');
        // The answer depends on Origin even when refused: a shared cache must know it.
        expect(String(r.headers.vary).split(/,\s*/)).toContain('Origin');
      });

      it('without an Origin get no Access-Control-* either', async () => {
        const r = await call('POST', '/api/items/1', {});
        expect(r.status).toBe(200);
        expect(r.forwarded).toHaveLength(1);
        expect(corsNames(r)).toEqual([]);
      });

      it('the gateway’s own 401 to an allowed origin carries Allow-Origin, so the page can read it', async () => {
        const r = await call('GET', '/api/secure/1', { Origin: APP });
        expect(r.status).toBe(401);
        expect(r.forwarded).toHaveLength(0);
        expect(r.all('access-control-allow-origin')).toEqual([APP]);
        expect(r.all('access-control-allow-credentials')).toEqual(['true']);
      });

      it('a plain OPTIONS call (no Access-Control-Request-Method) is not a preflight: it is forwarded', async () => {
        // Fetch §3.2.2: a CORS-preflight request carries Access-Control-Request-Method.
        const r = await call('OPTIONS', '/api/items/1', { Origin: APP });
        expect(r.forwarded).toHaveLength(1);
        expect(r.forwarded[0].method).toBe('OPTIONS');
        expect(r.status).toBe(200);
        expect(r.text).toBe('hello');
        expect(r.all('access-control-allow-origin')).toEqual([APP]);
      });

      it('keeps Vary: Origin when the backend sends its own Vary', async () => {
        // The allowed origin is reflected: caches must key on Origin (Fetch §3.2.5).
        const before = backend.behaviour;
        backend.behaviour = {
          kind: 'status',
          status: 200,
          headers: { ...BACKEND_CORS, Vary: 'Accept-Encoding' },
          body: 'hello',
        };
        try {
          const r = await call('GET', '/api/items/1', { Origin: APP });
          expect(r.status).toBe(200);
          const vary = r.all('vary').join(', ');
          expect(vary).toMatch(/\bAccept-Encoding\b/);
          expect(vary).toMatch(/\bOrigin\b/);
        } finally {
          backend.behaviour = before;
        }
      });
    });
  });

  describe('without cors in the config', () => {
    let gw: TestGateway;
    const call = (method: string, path: string, headers: Record<string, string> = {}) =>
      send(gw, backend, method, path, headers);

    beforeAll(async () => {
      gw = await startTestGateway({
        gateway: 'rateLimit:\n  enabled: false\n',
        services: { app: service(backend.url) },
      });
    });

    afterAll(async () => {
      await gw?.close();
    });

    it('passes the backend’s CORS headers through untouched', async () => {
      const r = await call('GET', '/api/items/1', { Origin: APP });
      expect(r.status).toBe(200);
      expect(r.forwarded).toHaveLength(1);
      expect(r.all('access-control-allow-origin')).toEqual(['*']);
      expect(r.all('access-control-allow-credentials')).toEqual(['false']);
      expect(r.all('access-control-allow-methods')).toEqual(['PUT']);
      expect(r.all('access-control-expose-headers')).toEqual(['X-Internal']);
    });

    it('forwards preflights to the backend, whose answer passes through', async () => {
      const r = await call('OPTIONS', '/api/items/1', preflight(APP));
      expect(r.forwarded).toHaveLength(1);
      expect(r.forwarded[0].method).toBe('OPTIONS');
      expect(r.forwarded[0].headers['access-control-request-method']).toBe('POST');
      expect(r.status).toBe(200);
      expect(r.all('access-control-allow-origin')).toEqual(['*']);
      expect(r.all('access-control-allow-methods')).toEqual(['PUT']);
    });

    it('adds no Access-Control-* of its own to its own errors', async () => {
      const r = await call('GET', '/api/secure/1', { Origin: APP });
      expect(r.status).toBe(401);
      expect(corsNames(r)).toEqual([]);
    });
  });
});
