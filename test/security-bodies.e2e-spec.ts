// Own endpoints' bodies (contract, Security): a body the parser cannot read is 413, 415 or
// 400 with a plain message, the RFC 6749 §5.2 body at /oauth/*, never 500, no error-level
// stack in the log, and no X-Powered-By on any own endpoint.
import { gzipSync } from 'node:zlib';

import { rawRequest } from './support/raw-http';
import { startTestGateway, type TestGateway } from './support/test-gateway';

const ADMIN_KEY = 'security-bodies-admin-key-0123456789';
const FORM = 'application/x-www-form-urlencoded';

describe('Security: own endpoints answer unreadable bodies as client errors', () => {
  let gw: TestGateway;

  beforeAll(async () => {
    gw = await startTestGateway({
      gateway: `auth:
  jwt:
    algorithms: [HS256]
    secret: security-bodies-secret-0123456789abcdef
  apiKeys:
    keys:
      - name: ops
        key: ${ADMIN_KEY}
        roles: [admin]
oauth:
  clients:
    - clientId: acme
      clientSecret: acme-secret
      scopes: [orders:read]
rateLimit:
  enabled: false
`,
    });
  });
  afterAll(() => gw.close());

  const post = (path: string, headers: Record<string, string>, body: Buffer | string) =>
    rawRequest({ port: gw.port, method: 'POST', path, headers, body });
  const json = (b: Buffer) => JSON.parse(b.toString()) as Record<string, unknown>;
  const errorLines = () => gw.logs.filter((l) => (l.level as number) >= 50);

  const oauthCases: [string, Record<string, string>, Buffer | string, number, string][] = [
    [
      'a 300 kB form',
      { 'content-type': FORM },
      `a=${'x'.repeat(300_000)}`,
      413,
      'request body is larger than 64 kb',
    ],
    [
      'charset=utf-7',
      { 'content-type': `${FORM}; charset=utf-7` },
      'grant_type=client_credentials',
      415,
      'unsupported charset in Content-Type',
    ],
    [
      'an unknown Content-Encoding',
      { 'content-type': FORM, 'content-encoding': 'bogus' },
      'grant_type=x',
      415,
      'unsupported Content-Encoding',
    ],
    [
      'a broken gzip body',
      { 'content-type': FORM, 'content-encoding': 'gzip' },
      'not gzip at all',
      400,
      'the request body is malformed',
    ],
    [
      'a JSON body that does not parse',
      { 'content-type': 'application/json' },
      '{"grant_type":',
      400,
      'the request body is malformed',
    ],
  ];

  it.each(oauthCases)(
    '/oauth/token with %s: 413/415/400, RFC 6749 §5.2 body, plain message',
    async (_n, headers, body, status, message) => {
      const before = errorLines().length;
      const r = await post('/oauth/token', headers, body);
      expect(r.status).toBe(status);
      expect(r.headers['content-type']).toMatch(/^application\/json/);
      expect(r.headers['cache-control']).toBe('no-store');
      expect(r.headers['x-powered-by']).toBeUndefined();
      expect(json(r.body)).toEqual({ error: 'invalid_request', error_description: message });
      expect(errorLines().length).toBe(before);
    },
  );

  it('the same errors at /oauth/revoke and /oauth/introspect', async () => {
    for (const path of ['/oauth/revoke', '/oauth/introspect']) {
      const r = await post(path, { 'content-type': FORM }, `token=${'x'.repeat(70_000)}`);
      expect(r.status).toBe(413);
      expect(json(r.body)).toEqual({
        error: 'invalid_request',
        error_description: 'request body is larger than 64 kb',
      });
    }
  });

  it('a gzip form within the limit is still read (the parsers work)', async () => {
    const r = await post(
      '/oauth/token',
      { 'content-type': FORM, 'content-encoding': 'gzip' },
      gzipSync('grant_type=client_credentials&client_id=acme&client_secret=acme-secret'),
    );
    expect(r.status).toBe(200);
    expect(json(r.body).token_type).toBe('Bearer');
  });

  it('elsewhere the gateway error body: 400 for bad JSON, 413 over 64 kb', async () => {
    const headers = { 'content-type': 'application/json', 'x-api-key': ADMIN_KEY };
    const bad = await post('/api/gateway/reload', headers, '{bad');
    expect(bad.status).toBe(400);
    expect(json(bad.body)).toMatchObject({
      statusCode: 400,
      message: 'the request body is malformed',
    });
    expect(bad.body.toString()).not.toContain('JSON at position');
    const big = await post(
      '/api/gateway/reload',
      headers,
      JSON.stringify({ a: 'x'.repeat(70_000) }),
    );
    expect(big.status).toBe(413);
    expect(json(big.body)).toMatchObject({
      statusCode: 413,
      message: 'request body is larger than 64 kb',
    });
    expect(big.headers['x-request-id']).toBeDefined();
  });

  it('no own endpoint sends X-Powered-By', async () => {
    for (const path of ['/health', '/ready', '/metrics', '/api/gateway/services', '/nope']) {
      const r = await rawRequest({ port: gw.port, path, headers: { 'x-api-key': ADMIN_KEY } });
      expect(r.status).toBeLessThan(500);
      expect(r.headers['x-powered-by']).toBeUndefined();
    }
  });

  it('nothing above was logged at error level', () => {
    expect(errorLines()).toEqual([]);
  });
});
