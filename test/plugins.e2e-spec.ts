// Plugins (contract, Plugins): the four built-ins and code plugins from plugins.files,
// through the real gateway and a recording backend.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import jwt from 'jsonwebtoken';

import { patternBytes, startBackend, type TestBackend } from './support/backend';
import { nowSeconds } from './support/keys';
import { rawRequest, sha256 } from './support/raw-http';
import { startTestGateway, type TestGateway } from './support/test-gateway';

const SECRET = 'plugins-e2e-secret-0123456789abcdef-xyz';
const ADMIN_KEY = 'plugins-e2e-admin-key-0123456789abcdef';

const gatewayYaml = (extra = '') => `server:
  trustProxy: ["127.0.0.1/32"]
auth:
  jwt:
    algorithms: [HS256]
    secret: ${SECRET}
  apiKeys:
    keys:
      - name: ops
        key: ${ADMIN_KEY}
        roles: [admin]
rateLimit:
  enabled: false
plugins:
  files: [plugins/trace.js, plugins/gate.js]
  global:
    - name: trace
      options: { tag: global }
    - name: response-headers
      options: { set: { X-Content-Type-Options: nosniff }, remove: [X-Backend] }
${extra}`;

const serviceYaml = (url: string) => `name: shop
targets:
  - url: ${url}
plugins:
  - name: trace
    options: { tag: service }
routes:
  - path: /api/open/*
    plugins:
      - name: trace
        options: { tag: route }
  - path: /api/jwt/*
    auth: jwt
    plugins:
      - name: request-headers
        options:
          set:
            X-Tenant: "{{claim.tenant}}"
            X-Caller: "user {{identity.id}} ({{identity.roles}})"
            X-Client: "{{client.ip}}"
            X-Req: "{{request.id}}"
          add: { X-Extra: one }
          remove: [X-Remove-Me]
  - path: /api/office/*
    plugins:
      - name: ip-filter
        options: { allow: [10.0.0.0/8, "2001:db8::/32"], deny: [10.9.0.0/16] }
  - path: /api/orders
    methods: [POST]
    plugins:
      - name: request-validation
        options: { schema: schemas/order.json, maxBodySize: 1kb }
  - path: /api/gate/*
    plugins:
      - name: gate
`;

const ORDER_SCHEMA = JSON.stringify({
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  type: 'object',
  required: ['sku', 'qty'],
  properties: {
    sku: { type: 'string', pattern: '^[A-Z]{3}-\\d+$' },
    qty: { type: 'integer', minimum: 1 },
    email: { type: 'string', format: 'email' },
  },
  additionalProperties: false,
});

// Appends its tag to X-Trace upstream: shows the order global → service → route.
const TRACE_JS = `module.exports = {
  name: 'trace',
  phase: 'request',
  optionsSchema: { type: 'object', properties: { tag: { type: 'string' } }, required: ['tag'] },
  create(options) {
    return (call) => call.upstream.headers.append('X-Trace', options.tag);
  },
};`;

// An access plugin whose behaviour the path picks; close() is recorded in a file.
const gateJs = (closeLog: string, version: string) => `const fs = require('node:fs');
exports.default = {
  name: 'gate',
  phase: 'access',
  create() {
    const hook = async (call) => {
      if (call.identity !== null) throw new Error('identity in access');
      const what = call.path.split('/')[3];
      if (what === 'reject') call.reject(401, 'no ticket', { 'WWW-Authenticate': 'Ticket' });
      if (what === 'throw') throw new Error('boom');
      if (what === 'async-throw') { await new Promise((r) => setTimeout(r, 5)); throw new Error('later'); }
      if (what === 'bad-status') call.reject(302, 'elsewhere');
      if (what === 'slow') await new Promise((r) => setTimeout(r, 6000));
      call.upstream.headers.set('X-Gate', '${version}');
    };
    hook.close = () => fs.appendFileSync(${JSON.stringify(closeLog)}, '${version}\\n');
    return hook;
  },
};`;

describe('Plugins', () => {
  let backend: TestBackend;
  let gw: TestGateway;
  const token = (claims: Record<string, unknown> = {}) =>
    jwt.sign(
      {
        sub: 'alice',
        roles: ['user', 'buyer'],
        iat: nowSeconds(),
        exp: nowSeconds() + 600,
        ...claims,
      },
      SECRET,
      {
        algorithm: 'HS256',
      },
    );
  const last = () => backend.received[backend.received.length - 1];
  const closeLog = () => join(gw.dir, 'closed.log');

  beforeAll(async () => {
    backend = await startBackend();
    gw = await startTestGateway({
      gateway: gatewayYaml(),
      services: { shop: serviceYaml(backend.url) },
      extra: {
        'schemas/order.json': ORDER_SCHEMA,
        'plugins/trace.js': TRACE_JS,
        'plugins/gate.js': gateJs('/dev/null', 'v1'),
      },
    });
    // The close log lives in the config folder, known only now.
    writeFileSync(join(gw.dir, 'plugins/gate.js'), gateJs(closeLog(), 'v1'));
    writeFileSync(closeLog(), '');
    const r = await fetch(`${gw.url}/api/gateway/reload`, {
      method: 'POST',
      headers: { 'x-api-key': ADMIN_KEY },
    });
    expect(r.status).toBe(200);
  });
  afterAll(async () => {
    await gw.close();
    await backend.close();
  });

  it('runs request plugins global → service → route, and response plugins on the answer', async () => {
    const before = backend.received.length;
    const r = await rawRequest({ port: gw.port, path: '/api/open/x' });
    expect(r.status).toBe(200);
    expect(backend.received.length).toBe(before + 1);
    expect(last().headers['x-trace']).toBe('global, service, route');
    expect(r.headers['x-content-type-options']).toBe('nosniff');
    expect(r.headers['x-backend']).toBeUndefined();
    expect(r.headers['x-request-id']).toBeDefined();
  });

  it('request-headers: per-call values, add, remove; an absent claim sends no header', async () => {
    const r = await rawRequest({
      port: gw.port,
      path: '/api/jwt/me',
      headers: {
        authorization: `Bearer ${token({ tenant: 'acme' })}`,
        'x-remove-me': 'please',
        'x-tenant': 'forged',
      },
    });
    expect(r.status).toBe(200);
    const h = last().headers;
    expect(h['x-tenant']).toBe('acme');
    expect(h['x-caller']).toBe('user alice (user,buyer)');
    expect(h['x-client']).toBe('127.0.0.1');
    expect(h['x-req']).toBe(r.headers['x-request-id']);
    expect(h['x-extra']).toBe('one');
    expect(h['x-remove-me']).toBeUndefined();
    expect(h['x-user-id']).toBe('alice');

    await rawRequest({
      port: gw.port,
      path: '/api/jwt/me',
      headers: { authorization: `Bearer ${token()}`, 'x-tenant': 'forged' },
    });
    expect(last().headers['x-tenant']).toBeUndefined();
  });

  it("response plugins also shape the gateway's own answers (401)", async () => {
    const before = backend.received.length;
    const r = await rawRequest({ port: gw.port, path: '/api/jwt/me' });
    expect(r.status).toBe(401);
    expect(r.headers['x-content-type-options']).toBe('nosniff');
    expect(r.headers['www-authenticate']).toMatch(/^Bearer/);
    expect(backend.received.length).toBe(before);
  });

  it('ip-filter: allow and deny lists on the client IP per trustProxy; 403 before anything is forwarded', async () => {
    const call = (xff: string) =>
      rawRequest({ port: gw.port, path: '/api/office/x', headers: { 'x-forwarded-for': xff } });
    const before = backend.received.length;
    expect((await call('10.1.2.3')).status).toBe(200);
    expect((await call('2001:db8::7')).status).toBe(200);
    const denied = await call('10.9.0.1');
    expect(denied.status).toBe(403);
    expect(JSON.parse(denied.body.toString())).toMatchObject({
      statusCode: 403,
      message: 'address not allowed',
    });
    expect((await call('192.0.2.1')).status).toBe(403);
    expect(backend.received.length).toBe(before + 2);
  });

  describe('request-validation', () => {
    const post = (
      body: string | Buffer | undefined,
      type = 'application/json',
      chunks?: Buffer[],
    ) =>
      rawRequest({
        port: gw.port,
        method: 'POST',
        path: '/api/orders',
        headers: type ? { 'content-type': type } : {},
        body,
        chunks,
      });

    it('forwards a valid body byte for byte', async () => {
      const body = '{ "sku": "ABC-12",\n  "qty": 2, "email": "a@example.com" }';
      const before = backend.received.length;
      const r = await post(body, 'application/vnd.shop+json; charset=utf-8');
      expect(r.status).toBe(200);
      expect(backend.received.length).toBe(before + 1);
      expect(last().body.toString()).toBe(body);
      expect(last().headers['content-length']).toBe(String(Buffer.byteLength(body)));
    });

    it('a chunked valid body reaches the backend whole, with its length', async () => {
      const r = await post(undefined, 'application/json', [
        Buffer.from('{"sku":"XYZ-1",'),
        Buffer.from('"qty":5}'),
      ]);
      expect(r.status).toBe(200);
      expect(last().body.toString()).toBe('{"sku":"XYZ-1","qty":5}');
    });

    it.each([
      [
        'a schema violation',
        '{"sku":"abc","qty":0,"other":1}',
        [
          '/: must NOT have additional properties',
          '/sku: must match pattern "^[A-Z]{3}-\\d+$"',
          '/qty: must be >= 1',
        ],
      ],
      [
        'a bad format',
        '{"sku":"ABC-1","qty":1,"email":"nope"}',
        ['/email: must match format "email"'],
      ],
      ['no body', undefined, ['/: a JSON body is required']],
      ['broken JSON', '{"sku":', ['/: is not valid JSON']],
    ])('%s is 400 with problems, nothing forwarded', async (_n, body, problems) => {
      const before = backend.received.length;
      const r = await post(body);
      expect(r.status).toBe(400);
      const got = JSON.parse(r.body.toString()) as { problems: string[] };
      expect(got).toMatchObject({ statusCode: 400, message: expect.any(String) });
      expect([...got.problems].sort()).toEqual([...problems].sort());
      expect(backend.received.length).toBe(before);
    });

    it('415 for a body that is not JSON or not UTF-8; 413 over maxBodySize', async () => {
      const before = backend.received.length;
      expect((await post('sku=ABC-1', 'application/x-www-form-urlencoded')).status).toBe(415);
      expect(
        (await post('{"sku":"ABC-1","qty":1}', 'application/json; charset=latin1')).status,
      ).toBe(415);
      const big = JSON.stringify({ sku: 'ABC-1', qty: 1, pad: 'x'.repeat(2000) });
      expect((await post(big)).status).toBe(413);
      expect(
        (
          await post(undefined, 'application/json', [
            Buffer.from(big.slice(0, 900)),
            Buffer.from(big.slice(900)),
          ])
        ).status,
      ).toBe(413);
      expect(backend.received.length).toBe(before);
    });
  });

  describe('code plugins', () => {
    it('an access hook runs before authentication and without identity; it may set upstream headers', async () => {
      const r = await rawRequest({ port: gw.port, path: '/api/gate/ok' });
      expect(r.status).toBe(200);
      expect(last().headers['x-gate']).toBe('v1');
    });

    it('reject ends the call with its status, message and headers; nothing is forwarded', async () => {
      const before = backend.received.length;
      const r = await rawRequest({ port: gw.port, path: '/api/gate/reject' });
      expect(r.status).toBe(401);
      expect(r.headers['www-authenticate']).toBe('Ticket');
      expect(r.headers['x-content-type-options']).toBe('nosniff');
      expect(JSON.parse(r.body.toString())).toMatchObject({
        statusCode: 401,
        message: 'no ticket',
        requestId: r.headers['x-request-id'],
      });
      expect(backend.received.length).toBe(before);
    });

    it.each([['throw'], ['async-throw'], ['bad-status']])(
      'a hook that fails (%s) is 500, logged with the plugin name and counted',
      async (what) => {
        const before = backend.received.length;
        const r = await rawRequest({ port: gw.port, path: `/api/gate/${what}` });
        expect(r.status).toBe(500);
        expect(backend.received.length).toBe(before);
        const line = gw.logs.find(
          (l) => l.plugin === 'gate' && l.requestId === r.headers['x-request-id'],
        );
        expect(line).toMatchObject({ msg: 'plugin hook failed', level: 50 });
      },
    );

    it('a hook that has not settled after 5 s is 504', async () => {
      const r = await rawRequest({ port: gw.port, path: '/api/gate/slow' });
      expect(r.status).toBe(504);
      expect(r.ms).toBeGreaterThanOrEqual(4900);
      const metrics = await (await fetch(`${gw.url}/metrics`)).text();
      expect(metrics).toMatch(/gateway_plugin_errors_total\{plugin="gate"\} 4/);
    }, 15_000);

    it('a reload loads the changed file and closes the old instances', async () => {
      writeFileSync(join(gw.dir, 'plugins/gate.js'), gateJs(closeLog(), 'v2'));
      const r = await fetch(`${gw.url}/api/gateway/reload`, {
        method: 'POST',
        headers: { 'x-api-key': ADMIN_KEY },
      });
      expect(r.status).toBe(200);
      await rawRequest({ port: gw.port, path: '/api/gate/ok' });
      expect(last().headers['x-gate']).toBe('v2');
      expect(readFileSync(closeLog(), 'utf8')).toBe('v1\n');
    });
  });

  it('a response hook that waits holds the head; a 3 MB body streams through intact', async () => {
    // A gateway of its own: an async response plugin on a streaming route.
    const slowJs = `module.exports = { name: 'slow-head', phase: 'response', create: () => async (call, res) => {
      await new Promise((r) => setTimeout(r, 50)); res.headers.set('X-Seen-Status', String(res.status)); } };`;
    const big = await startBackend({ kind: 'bytes', size: 3 * 1024 * 1024, chunked: true });
    const g = await startTestGateway({
      gateway: 'rateLimit: { enabled: false }\nplugins:\n  files: [slow.js]\n',
      services: {
        big: `name: big\ntargets: [{ url: "${big.url}" }]\nroutes:\n  - path: /big\n    plugins: [{ name: slow-head }]\n`,
      },
      extra: { 'slow.js': slowJs },
    });
    try {
      const r = await rawRequest({ port: g.port, path: '/big' });
      expect(r.status).toBe(200);
      expect(r.headers['x-seen-status']).toBe('200');
      expect(sha256(r.body)).toBe(sha256(patternBytes(3 * 1024 * 1024)));
    } finally {
      await g.close();
      await big.close();
    }
  });
});

describe('Plugins: config problems', () => {
  it.each([
    [
      'an unknown name',
      `routes:\n  - path: /a\n    plugins: [{ name: nope }]\n`,
      'services/a.yaml: routes[0].plugins[0].name: unknown plugin "nope"',
    ],
    [
      'a CIDR that is none',
      `routes:\n  - path: /a\n    plugins:\n      - { name: request-headers, options: { set: { X-A: b } } }\n      - { name: ip-filter, options: { allow: [10.0.0.0/33] } }\n`,
      'services/a.yaml: routes[0].plugins[1].options.allow[0]: not a CIDR',
    ],
    [
      'options its schema refuses',
      `routes:\n  - path: /a\n    plugins: [{ name: ip-filter, options: { allow: [1], extra: true } }]\n`,
      'services/a.yaml: routes[0].plugins[0].options.allow[0]: must be string',
    ],
    [
      'a header the gateway owns',
      `plugins: [{ name: request-headers, options: { set: { X_User_Id: x } } }]\nroutes:\n  - path: /a\n`,
      'services/a.yaml: plugins[0].options.set.X_User_Id: X_User_Id cannot be changed by a plugin',
    ],
    [
      'an unknown placeholder',
      `routes:\n  - path: /a\n    plugins: [{ name: request-headers, options: { set: { X-A: "{{secret}}" } } }]\n`,
      'services/a.yaml: routes[0].plugins[0].options.set.X-A: unknown placeholder {{secret}}',
    ],
    [
      'a missing schema file',
      `routes:\n  - path: /a\n    plugins: [{ name: request-validation, options: { schema: nope.json } }]\n`,
      'services/a.yaml: routes[0].plugins[0].options.schema: cannot read the file (paths are relative to the config folder)',
    ],
    [
      'a response header the gateway owns',
      `routes:\n  - path: /a\n    plugins: [{ name: response-headers, options: { remove: [Retry-After] } }]\n`,
      'services/a.yaml: routes[0].plugins[0].options.remove[0]: Retry-After cannot be changed by a plugin',
    ],
  ])('%s is one problem line', async (_n, rest, line) => {
    await expect(
      startTestGateway({
        services: { a: `name: a\ntargets: [{ url: "http://127.0.0.1:9" }]\n${rest}` },
      }),
    ).rejects.toThrow(line);
  });

  it('a plugin file that is missing or not a plugin', async () => {
    await expect(startTestGateway({ gateway: 'plugins:\n  files: [none.js]\n' })).rejects.toThrow(
      'gateway.yaml: plugins.files[0]: cannot read the file (paths are relative to the config folder)',
    );
    await expect(
      startTestGateway({
        gateway: 'plugins:\n  files: [p.js]\n',
        extra: {
          'p.js': "module.exports = { name: 'ip-filter', phase: 'access', create: () => () => {} }",
        },
      }),
    ).rejects.toThrow('gateway.yaml: plugins.files[0]: plugin name "ip-filter" is a built-in name');
    await expect(
      startTestGateway({
        gateway: 'plugins:\n  files: [p.js]\n',
        extra: {
          'p.js': "module.exports = { name: 'Bad Name', phase: 'access', create: () => () => {} }",
        },
      }),
    ).rejects.toThrow(
      'gateway.yaml: plugins.files[0]: name must be lower-case letters, digits and -',
    );
  });
});
