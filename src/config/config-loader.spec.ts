import { createHash, generateKeyPairSync } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

import { type ConfigSnapshot, loadConfig } from './config-loader';
import type { Env } from './env-substitution';

type Files = Record<string, string>;

const SECRET = 's3cr3t-value';
const OWNED =
  'can match a gateway-owned path (/health, /ready, /metrics, /oauth/*, /.well-known/*, /api/gateway/*)';
const JWT_WARNING =
  'gateway.yaml: auth.jwt.secret: empty; HS256 uses a random per-process key (tokens will not survive a restart or work across instances)';

const dirs: string[] = [];

/** Writes `files` (paths relative to the folder) into a new temp config folder. */
function folder(files: Files): string {
  const dir = mkdtempSync(join(tmpdir(), 'gw-loader-'));
  dirs.push(dir);
  mkdirSync(join(dir, 'services'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

function problemsOf(files: Files, env: Env = {}): readonly string[] {
  const r = loadConfig(folder(files), env);
  if (r.ok) throw new Error('expected the config to be invalid');
  return r.problems;
}

function snapshotOf(files: Files, env: Env = {}): ConfigSnapshot {
  const r = loadConfig(folder(files), env);
  if (!r.ok) throw new Error(`expected a valid config:\n${r.problems.join('\n')}`);
  return r.snapshot;
}

const ONE_SERVICE = {
  'services/w.yaml':
    'name: w\ntargets: [{ url: "http://127.0.0.1:1" }]\nroutes: [{ path: /api/w/* }]\n',
};
/** A folder with one service beside the given files: no "no service files" warning. */
function snapshotWithService(files: Files, env: Env = {}): ConfigSnapshot {
  return snapshotOf({ ...ONE_SERVICE, ...files }, env);
}

/** Problems compared as a set: their order is not part of the contract. */
function expectProblems(files: Files, expected: string[], env: Env = {}): void {
  expect([...problemsOf(files, env)].sort()).toEqual([...expected].sort());
}

/** A valid service file; `routes` is the YAML of the routes list, indented by two. */
function service(name: string, routes = '  - path: /api/' + name + '/*\n', extra = ''): string {
  return `name: ${name}\ntargets:\n  - url: http://127.0.0.1:3999\n${extra}routes:\n${routes}`;
}

afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('loadConfig', () => {
  describe('valid folders', () => {
    it('loads the shipped config/ folder with every default filled', () => {
      const r = loadConfig(resolve(__dirname, '../../config'), {});
      if (!r.ok) throw new Error(r.problems.join('\n'));
      const s = r.snapshot;
      expect(s.dir).toBe(resolve(__dirname, '../../config'));
      expect(s.redisUrl).toBeUndefined();
      expect(s.gateway).toEqual({
        server: {
          requestTimeoutMs: 30_000,
          bodyLimit: 1_048_576,
          shutdownTimeoutMs: 30_000,
          trustProxy: false,
          clientHeadersTimeoutMs: 10_000,
          clientRequestTimeoutMs: 300_000,
          keepAliveTimeoutMs: 65_000,
          maxConcurrentRequests: 1000,
          http2Cleartext: false,
          maxHeaderSize: 16_384,
          maxUrlLength: 8192,
          ambiguousPaths: 'keep',
        },
        auth: {
          jwt: {
            algorithms: ['HS256'],
            secret: '',
            issuer: 'api-gateway',
            audience: 'api',
            requireExp: true,
            clockToleranceSeconds: 0,
          },
          apiKeys: {
            header: 'X-API-Key',
            keys: [{ name: 'ci-bot', key: '', roles: ['service'] }],
          },
        },
        oauth: {
          tokenTtlSeconds: 3600,
          signing: { algorithm: 'HS256' },
          clients: [
            {
              clientId: 'acme',
              clientSecret: '',
              scopes: ['orders:read', 'orders:write'],
              roles: ['user'],
            },
          ],
        },
        rateLimit: {
          enabled: true,
          store: 'memory',
          redisKeyPrefix: 'gw:',
          onStoreError: 'allow',
          tiers: {
            public: { limit: 100, windowSeconds: 60 },
            authenticated: { limit: 1000, windowSeconds: 60 },
            admin: { limit: 10_000, windowSeconds: 60 },
          },
          tokenEndpoint: { limit: 10, windowSeconds: 60 },
          clientAuthFailures: { limit: 10, windowSeconds: 60 },
          ipv6Prefix: 64,
        },
        plugins: { files: [], global: [] },
        discovery: { refreshSeconds: 30 },
      });
      expect(s.services.map((x) => x.file)).toEqual([
        'services/service1.yaml',
        'services/service2.yaml',
      ]);
      expect(s.services[0].settings).toEqual({
        name: 'service1',
        targets: [{ url: 'http://127.0.0.1:3001', weight: 1 }],
        loadBalancing: 'round-robin',
        timeoutMs: 30_000,
        streamIdleTimeoutMs: 300_000,
        healthCheck: {
          path: '/health',
          intervalMs: 10_000,
          timeoutMs: 2000,
          healthyThreshold: 2,
          unhealthyThreshold: 3,
        },
        circuitBreaker: {
          errorThresholdPercentage: 50,
          rollingWindowMs: 60_000,
          resetTimeoutMs: 30_000,
          volumeThreshold: 10,
        },
        plugins: [],
        routes: [
          {
            path: '/api/service1/*',
            rewrite: '/api/*',
            methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
            auth: 'none',
            roles: [],
            scopes: [],
            plugins: [],
          },
        ],
      });
      expect(s.services[1].settings.targets).toEqual([{ url: 'http://127.0.0.1:3002', weight: 1 }]);
      expect(s.services[1].settings.routes).toEqual([
        {
          path: '/api/service2/*',
          rewrite: '/api/*',
          auth: 'none',
          roles: [],
          scopes: [],
          plugins: [],
        },
      ]);
    });

    it('substitutes the shipped variables from the environment', () => {
      const r = loadConfig(resolve(__dirname, '../../config'), {
        SERVICE1_URL: 'http://10.1.2.3:81',
        JWT_SECRET: 'j'.repeat(32),
        CI_BOT_KEY: 'k',
        ACME_SECRET: 'a',
      });
      if (!r.ok) throw new Error(r.problems.join('\n'));
      expect(r.snapshot.services[0].settings.targets[0].url).toBe('http://10.1.2.3:81');
      expect(r.snapshot.gateway.auth.jwt.secret).toBe('j'.repeat(32));
      expect(r.snapshot.gateway.auth.apiKeys.keys[0].key).toBe('k');
      expect(r.snapshot.gateway.oauth.clients[0].clientSecret).toBe('a');
      expect(r.snapshot.warnings).toEqual([]);
    });

    it('takes every gateway default when gateway.yaml is absent or empty', () => {
      const absent = snapshotOf({ 'services/a.yaml': service('a') });
      const empty = snapshotOf({ 'gateway.yaml': '', 'services/a.yaml': service('a') });
      expect(empty.gateway).toEqual(absent.gateway);
      expect(absent.gateway.server.bodyLimit).toBe(1_048_576);
      expect(absent.gateway.cors).toBeUndefined();
      expect(absent.gateway.auth.apiKeys).toEqual({ header: 'X-API-Key', keys: [] });
      expect(absent.gateway.oauth.clients).toEqual([]);
      expect(Object.keys(absent.files)).toEqual(['services/a.yaml']);
    });

    it('reads .yaml and .yml service files and ignores other files', () => {
      const s = snapshotOf({
        'services/a.yaml': service('a'),
        'services/b.yml': service('b'),
        'services/README.md': 'not: [yaml',
      });
      expect(s.services.map((x) => [x.file, x.settings.name])).toEqual([
        ['services/a.yaml', 'a'],
        ['services/b.yml', 'b'],
      ]);
    });

    it('reads numbers from env strings', () => {
      const files = { 'services/a.yaml': service('a', undefined, 'timeoutMs: ${T:-250}\n') };
      expect(snapshotOf(files).services[0].settings.timeoutMs).toBe(250);
      expect(snapshotOf(files, { T: '900' }).services[0].settings.timeoutMs).toBe(900);
    });

    it('reads booleans from env strings', () => {
      const s = snapshotOf({ 'gateway.yaml': 'rateLimit:\n  enabled: ${RL:-false}\n' });
      expect(s.gateway.rateLimit.enabled).toBe(false);
    });

    it('reads sizes in b, kb and mb', () => {
      const s = snapshotOf({
        'gateway.yaml': 'server:\n  bodyLimit: 2mb\n  maxHeaderSize: 32kb\n  maxUrlLength: 700b\n',
      });
      expect(s.gateway.server.bodyLimit).toBe(2_097_152);
      expect(s.gateway.server.maxHeaderSize).toBe(32_768);
      expect(s.gateway.server.maxUrlLength).toBe(700);
    });

    it('keeps a variable holding YAML syntax a plain string', () => {
      const s = snapshotOf(
        { 'gateway.yaml': 'auth:\n  apiKeys:\n    keys:\n      - name: k\n        key: ${K}\n' },
        { K: 'abc\n- x: 1\nroles: [admin]' },
      );
      expect(s.gateway.auth.apiKeys.keys).toEqual([
        { name: 'k', key: 'abc\n- x: 1\nroles: [admin]', roles: [] },
      ]);
    });

    it('reads a publicKeyFile relative to the config folder', () => {
      const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const s = snapshotOf({
        'gateway.yaml': 'auth:\n  jwt:\n    algorithms: [RS256]\n    publicKeyFile: keys/jwt.pub\n',
        'keys/jwt.pub': publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      });
      expect(s.gateway.auth.jwt.publicKeyFile).toBe('keys/jwt.pub');
    });

    it('accepts redis as the rate-limit store when REDIS_URL is set', () => {
      const s = snapshotOf(
        {
          'gateway.yaml': `auth:\n  jwt:\n    secret: ${'s'.repeat(32)}\nrateLimit:\n  store: redis\n`,
        },
        { REDIS_URL: 'redis://127.0.0.1:6390' },
      );
      expect(s.gateway.rateLimit.store).toBe('redis');
      expect(s.redisUrl).toBe('redis://127.0.0.1:6390');
    });

    it('accepts two routes with the same pattern and disjoint methods', () => {
      const s = snapshotOf({
        'services/a.yaml': service('a', '  - path: /x/:id\n    methods: [GET]\n'),
        'services/b.yaml': service('b', '  - path: /x/:other\n    methods: [POST, DELETE]\n'),
      });
      expect(s.services.map((x) => x.settings.routes[0].methods)).toEqual([
        ['GET'],
        ['POST', 'DELETE'],
      ]);
    });

    it('accepts roles and scopes on a route that authenticates', () => {
      const s = snapshotOf({
        'services/a.yaml': service('a', '  - path: /a\n    auth: jwt\n    roles: [admin]\n'),
      });
      expect(s.services[0].settings.routes[0].roles).toEqual(['admin']);
    });

    it('accepts paths near, but not on, gateway-owned ones', () => {
      const s = snapshotOf({
        'services/a.yaml': service('a', '  - path: /api/gw/*\n  - path: /healthz\n'),
      });
      expect(s.services[0].settings.routes.map((r) => r.path)).toEqual(['/api/gw/*', '/healthz']);
    });
  });

  describe('problems', () => {
    it('reports a folder that does not exist', () => {
      const missing = join(tmpdir(), 'gw-loader-does-not-exist-4711');
      const r = loadConfig(missing, {});
      expect(r).toEqual({ ok: false, problems: [`${missing}: (root): is not a readable folder`] });
    });

    it('reports unknown keys at the top level and nested', () => {
      expectProblems({ 'gateway.yaml': 'foo: 1\nserver:\n  bar: 2\n' }, [
        'gateway.yaml: foo: unknown key',
        'gateway.yaml: server.bar: unknown key',
      ]);
    });

    it('reports unknown keys in a route and a target', () => {
      expectProblems(
        {
          'services/a.yaml':
            'name: a\ntargets:\n  - url: http://h\n    wieght: 2\nroutes:\n  - path: /a\n    foo: 1\n',
        },
        [
          'services/a.yaml: routes[0].foo: unknown key',
          'services/a.yaml: targets[0].wieght: unknown key',
        ],
      );
    });

    it('reports missing required keys', () => {
      expectProblems({ 'services/a.yaml': 'name: a\n' }, [
        'services/a.yaml: targets: is required',
        'services/a.yaml: routes: is required',
      ]);
    });

    it('reports a route without a path', () => {
      expectProblems({ 'services/a.yaml': service('a', '  - methods: [GET]\n') }, [
        'services/a.yaml: routes[0].path: is required',
      ]);
    });

    it('reports a wrong type as the type expected, not as missing', () => {
      expectProblems(
        {
          'gateway.yaml':
            'server:\n  requestTimeoutMs: soon\nrateLimit:\n  enabled: maybe\nauth:\n  jwt:\n    issuer: [a, b]\n',
        },
        [
          'gateway.yaml: server.requestTimeoutMs: must be a number',
          'gateway.yaml: rateLimit.enabled: must be a boolean',
          'gateway.yaml: auth.jwt.issuer: must be a string',
        ],
      );
    });

    it('reports a list given as a scalar', () => {
      expectProblems({ 'services/a.yaml': 'name: a\ntargets: http://h\nroutes:\n  - path: /a\n' }, [
        'services/a.yaml: targets: must be an array',
      ]);
    });

    it('reports a value outside its range or set', () => {
      expectProblems(
        { 'gateway.yaml': 'server:\n  requestTimeoutMs: 0\nrateLimit:\n  store: disk\n' },
        [
          'gateway.yaml: server.requestTimeoutMs: must be at least 1',
          'gateway.yaml: rateLimit.store: must be one of memory, redis',
        ],
      );
    });

    it('reports a target URL that is not http(s)', () => {
      expectProblems(
        {
          'services/a.yaml':
            'name: a\ntargets:\n  - url: ftp://x\n  - url: not a url\n  - url: http://h/?q=1\nroutes:\n  - path: /a\n',
        },
        [
          'services/a.yaml: targets[0].url: must be an http:// or https:// URL',
          'services/a.yaml: targets[1].url: must be an http:// or https:// URL',
          'services/a.yaml: targets[2].url: must not have a query or fragment',
        ],
      );
    });

    it('reports an unset ${VAR} for a required URL', () => {
      const files = {
        'services/a.yaml': 'name: a\ntargets:\n  - url: ${A_URL}\nroutes:\n  - path: /a\n',
      };
      expectProblems(files, [
        'services/a.yaml: targets[0].url: must be an http:// or https:// URL',
      ]);
      expect(snapshotOf(files, { A_URL: 'http://h:1' }).services[0].settings.targets[0].url).toBe(
        'http://h:1',
      );
    });

    it('checks the discovery keys without resolving anything', () => {
      const svc = (targets: string) => `name: d\ntargets:\n${targets}routes:\n  - path: /api/d/*\n`;
      expectProblems(
        {
          'gateway.yaml': 'discovery:\n  resolvers: [dns.example:53]\n  refreshSeconds: 0\n',
          'services/a.yaml': svc('  - { url: http://x.invalid:1, srv: _http._tcp.x.invalid }\n'),
          'services/b.yaml': svc('  - { srv: _http._tcp.x.invalid, weight: 2 }\n'),
          'services/c.yaml': svc('  - { srv: x.invalid }\n'),
          'services/d.yaml': svc('  - { srv: _http._tcp.x.invalid, discovery: dns }\n'),
        },
        [
          'gateway.yaml: discovery.resolvers[0]: must be an IP address with an optional :port ([v6]:port for IPv6)',
          'gateway.yaml: discovery.refreshSeconds: must be at least 1',
          'services/a.yaml: targets[0].url: give url or srv, exactly one',
          'services/b.yaml: targets[0].weight: srv targets take their weights from the SRV records',
          'services/c.yaml: targets[0].srv: must be an SRV name like _http._tcp.orders.service.consul',
          'services/d.yaml: targets[0].discovery: srv targets are always discovered',
        ],
      );
      // Names that exist nowhere load fine: nothing is resolved at load (config:check in CI).
      const ok = snapshotOf({
        'gateway.yaml': 'discovery:\n  resolvers: ["10.0.0.2:53", "[::1]:5353"]\n',
        'services/e.yaml': svc(
          '  - { url: http://nowhere.invalid:8080, discovery: dns }\n  - { srv: _https._tcp.nowhere.invalid }\n',
        ),
      });
      expect(ok.gateway.discovery).toEqual({
        resolvers: ['10.0.0.2:53', '[::1]:5353'],
        refreshSeconds: 30,
      });
      expect(ok.services[0].settings.targets).toEqual([
        { url: 'http://nowhere.invalid:8080', discovery: 'dns', weight: 1 },
        { srv: '_https._tcp.nowhere.invalid', weight: 1 },
      ]);
    });

    it('reports a route path without a leading /', () => {
      expectProblems({ 'services/a.yaml': service('a', '  - path: api/a\n') }, [
        'services/a.yaml: routes[0].path: must start with /',
      ]);
    });

    it('reports a * that is not the last segment', () => {
      expectProblems({ 'services/a.yaml': service('a', '  - path: /a/*/b\n') }, [
        'services/a.yaml: routes[0].path: * may only be the last segment',
      ]);
    });

    it('reports every path and rewrite rule from the one rule module (common/route-pattern)', () => {
      expectProblems(
        {
          'services/a.yaml': service(
            'a',
            [
              '  - path: /a//b',
              '  - path: /:id/:id',
              '  - path: /c*',
              '  - path: /d e',
              '  - { path: /e/:id, rewrite: /x/:other }',
              '  - { path: /f/:id, rewrite: /x/* }',
              '  - { path: /g/*, rewrite: x/* }',
              '',
            ].join('\n'),
          ),
        },
        [
          'services/a.yaml: routes[0].path: has an empty segment',
          'services/a.yaml: routes[1].path: repeats the parameter :id',
          'services/a.yaml: routes[2].path: * may only be a whole segment',
          'services/a.yaml: routes[3].path: must be /-separated segments: literals, :name or a final *',
          'services/a.yaml: routes[4].rewrite: uses :other, not in path',
          'services/a.yaml: routes[5].rewrite: uses * but path has none',
          'services/a.yaml: routes[6].rewrite: must start with /',
        ],
      );
    });

    it('reports roles or scopes on a route with auth none, explicit or by default', () => {
      expectProblems(
        {
          'services/a.yaml': service(
            'a',
            '  - path: /a\n    auth: none\n    roles: [admin]\n  - path: /b\n    scopes: [read]\n',
          ),
        },
        [
          'services/a.yaml: routes[0].roles: needs auth jwt, apiKey or any (auth is none)',
          'services/a.yaml: routes[1].scopes: needs auth jwt, apiKey or any (auth is none)',
        ],
      );
    });

    it('reports duplicate service names with both files', () => {
      const problems = problemsOf({
        'services/a.yaml': service('same', '  - path: /a\n'),
        'services/b.yaml': service('same', '  - path: /b\n'),
      });
      expect(problems).toEqual([
        'services/b.yaml: name: duplicate service name (also in services/a.yaml)',
      ]);
    });

    it('reports two routes with the same pattern shape and overlapping methods', () => {
      expectProblems(
        {
          'services/a.yaml': service(
            'a',
            '  - path: /x/:id\n    methods: [GET]\n  - path: /x/:other\n    methods: [get, POST]\n',
          ),
        },
        ['services/a.yaml: routes[1].path: same pattern and methods as services/a.yaml routes[0]'],
      );
    });

    it('reports overlapping routes across services', () => {
      expectProblems(
        {
          'services/a.yaml': service('a', '  - path: /shared/*\n    methods: [PUT, PATCH]\n'),
          'services/b.yaml': service('b', '  - path: /shared/*\n    methods: [PATCH]\n'),
        },
        ['services/b.yaml: routes[0].path: same pattern and methods as services/a.yaml routes[0]'],
      );
    });

    it('treats a route without methods as overlapping every method', () => {
      expectProblems(
        {
          'services/a.yaml': service('a', '  - path: /m\n    methods: [DELETE]\n  - path: /m\n'),
        },
        ['services/a.yaml: routes[1].path: same pattern and methods as services/a.yaml routes[0]'],
      );
    });

    it('treats GET as overlapping HEAD', () => {
      expectProblems(
        {
          'services/a.yaml': service(
            'a',
            '  - path: /h\n    methods: [GET]\n  - path: /h\n    methods: [HEAD]\n',
          ),
        },
        ['services/a.yaml: routes[1].path: same pattern and methods as services/a.yaml routes[0]'],
      );
    });

    it('reports routes that can match a gateway-owned path', () => {
      expectProblems(
        {
          'services/a.yaml': service(
            'a',
            '  - path: /:x\n  - path: /health\n  - path: /api/:svc/*\n  - path: /oauth/:x\n  - path: /api/gateway\n  - path: /api/gw/*\n',
          ),
        },
        [0, 1, 2, 3, 4].map((i) => `services/a.yaml: routes[${i}].path: ${OWNED}`),
      );
    });

    it('reports rateLimit.store redis without REDIS_URL (unset or empty)', () => {
      const files = { 'gateway.yaml': 'rateLimit:\n  store: redis\n' };
      const line = 'gateway.yaml: rateLimit.store: redis needs the REDIS_URL environment variable';
      expectProblems(files, [line]);
      expectProblems(files, [line], { REDIS_URL: '' });
    });

    it('reports invalid YAML in one line with the file name and a line number', () => {
      const problems = problemsOf({
        'services/a.yaml': 'name: a\nroutes:\n  - path: /a\n   bad: 1\n',
      });
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(/^services\/a\.yaml: \(line 4\b[^)]*\): invalid YAML: \S/);
    });

    it('reports a duplicate YAML key with its line', () => {
      const problems = problemsOf({
        'gateway.yaml': 'server:\n  bodyLimit: 1mb\n  bodyLimit: 2mb\n',
      });
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(/^gateway\.yaml: \(line 3\b[^)]*\): invalid YAML: \S/);
    });

    it('reports a missing publicKeyFile', () => {
      expectProblems(
        {
          'gateway.yaml':
            'auth:\n  jwt:\n    algorithms: [RS256]\n    publicKeyFile: keys/missing.pub\n',
        },
        [
          'gateway.yaml: auth.jwt.publicKeyFile: cannot read the file (paths are relative to the config folder)',
        ],
      );
    });

    it('reports a publicKeyFile that is not a PEM key', () => {
      expectProblems(
        {
          'gateway.yaml': 'auth:\n  jwt:\n    publicKeyFile: keys/jwt.pub\n',
          'keys/jwt.pub': 'not a key\n',
        },
        ['gateway.yaml: auth.jwt.publicKeyFile: is not a PEM public key'],
      );
    });

    it('reports problems of every file at once', () => {
      expectProblems(
        {
          'gateway.yaml': 'serverr: {}\n',
          'services/a.yaml': service('a', '  - path: a\n'),
          'services/b.yaml': 'name: b\n',
        },
        [
          'gateway.yaml: serverr: unknown key',
          'services/a.yaml: routes[0].path: must start with /',
          'services/b.yaml: targets: is required',
          'services/b.yaml: routes: is required',
        ],
      );
    });

    it('reports a malformed size', () => {
      expectProblems({ 'gateway.yaml': 'server:\n  bodyLimit: 1gb\n' }, [
        'gateway.yaml: server.bodyLimit: must be a size such as 512kb or 1mb (b, kb, mb)',
      ]);
    });

    it('never echoes a value in a problem line', () => {
      const problems = problemsOf(
        {
          'gateway.yaml': [
            `foo: ${SECRET}`,
            'server:',
            `  requestTimeoutMs: ${SECRET}`,
            '  keepAliveTimeoutMs: ${FROM_ENV}',
            'rateLimit:',
            `  store: ${SECRET}`,
            'auth:',
            '  jwt:',
            `    secret: [${SECRET}]`,
            `    jwksUri: ${SECRET}`,
            '  apiKeys:',
            '    keys:',
            `      - { name: k, sha256: ${SECRET}, extra: ${SECRET} }`,
            'oauth:',
            '  clients:',
            `    - { clientId: c, secretHash: ${SECRET} }`,
            '',
          ].join('\n'),
          'services/a.yaml': `name: a\ntargets:\n  - url: ${SECRET}\nroutes:\n  - path: ${SECRET}\n`,
          'services/b.yaml': `name: b\nkey: "${SECRET}\n`,
        },
        { FROM_ENV: SECRET },
      );
      const keys = problems.map((p) => p.split(': ').slice(0, 2).join(': '));
      expect(keys).toEqual(
        expect.arrayContaining([
          'gateway.yaml: foo',
          'gateway.yaml: server.requestTimeoutMs',
          'gateway.yaml: server.keepAliveTimeoutMs',
          'gateway.yaml: rateLimit.store',
          'gateway.yaml: auth.jwt.secret',
          'gateway.yaml: auth.jwt.jwksUri',
          'gateway.yaml: auth.apiKeys.keys[0].sha256',
          'gateway.yaml: auth.apiKeys.keys[0].extra',
          'gateway.yaml: oauth.clients[0].secretHash',
          'services/a.yaml: targets[0].url',
          'services/a.yaml: routes[0].path',
        ]),
      );
      expect(problems.some((p) => p.startsWith('services/b.yaml: '))).toBe(true);
      for (const p of problems) expect(p).not.toContain('s3cr3t');
    });
  });

  describe('revision', () => {
    const files = {
      'gateway.yaml': 'server:\n  bodyLimit: 2mb\n',
      'services/a.yaml': service('a'),
    };

    it('is the same for the same files, in any folder', () => {
      const dir = folder(files);
      const copy = mkdtempSync(join(tmpdir(), 'gw-loader-'));
      dirs.push(copy);
      cpSync(dir, copy, { recursive: true });
      const a = snapshotOf(files);
      const again = loadConfig(dir, {});
      const copied = loadConfig(copy, {});
      if (!again.ok || !copied.ok) throw new Error('expected valid configs');
      expect(a.revision).toMatch(/^[0-9a-f]{16}$/);
      expect(again.snapshot.revision).toBe(a.revision);
      expect(copied.snapshot.revision).toBe(a.revision);
    });

    it('changes when one byte changes', () => {
      const a = snapshotOf(files);
      const b = snapshotOf({ ...files, 'gateway.yaml': 'server:\n  bodyLimit: 3mb\n' });
      expect(b.revision).not.toBe(a.revision);
    });

    it('changes when a file is renamed', () => {
      const a = snapshotOf(files);
      const b = snapshotOf({
        'gateway.yaml': files['gateway.yaml'],
        'services/b.yaml': service('a'),
      });
      expect(b.revision).not.toBe(a.revision);
    });

    it('keeps the sha256 of each file', () => {
      const s = snapshotOf(files);
      const sha = (t: string) => createHash('sha256').update(t).digest('hex');
      expect(Object.entries(s.files)).toEqual([
        ['gateway.yaml', sha(files['gateway.yaml'])],
        ['services/a.yaml', sha(files['services/a.yaml'])],
      ]);
    });
  });

  describe('snapshot', () => {
    const files = {
      'gateway.yaml':
        'server:\n  trustProxy: [10.0.0.0/8]\nauth:\n  apiKeys:\n    keys:\n      - { name: k, key: x, roles: [a] }\n',
      'services/a.yaml': service('a', '  - path: /a\n    methods: [GET]\n'),
    };

    it('is deeply frozen', () => {
      const s = snapshotOf(files);
      const unfrozen: string[] = [];
      const walk = (v: unknown, at: string) => {
        if (v === null || typeof v !== 'object' || v instanceof Map || v instanceof Date) return;
        // Plugin instances are live objects, not config data.
        if (at === 'snapshot.plugins') return;
        if (!Object.isFrozen(v)) unfrozen.push(at);
        for (const [k, child] of Object.entries(v)) walk(child, `${at}.${k}`);
      };
      walk(s, 'snapshot');
      expect(unfrozen).toEqual([]);
      expect(Object.isFrozen(s.files)).toBe(true);
      expect(() => {
        (s.gateway.server as { bodyLimit: number }).bodyLimit = 1;
      }).toThrow(TypeError);
      expect(() => (s.services[0].settings.routes[0].methods as string[]).push('POST')).toThrow(
        TypeError,
      );
      expect(() => s.gateway.auth.apiKeys.keys[0].roles.push('admin')).toThrow(TypeError);
      expect(s.gateway.server.bodyLimit).toBe(1_048_576);
    });

    it('does not let its file hashes be changed', () => {
      const s = snapshotOf(files);
      const before = s.files['services/a.yaml'];
      const hashes = s.files as Record<string, string>;
      expect(() => {
        hashes['services/a.yaml'] = 'tampered';
      }).toThrow(TypeError);
      expect(() => delete hashes['gateway.yaml']).toThrow(TypeError);
      expect(s.files['services/a.yaml']).toBe(before);
      expect(s.files['gateway.yaml']).toBeDefined();
    });
  });

  describe('warnings', () => {
    const snapshotOf = snapshotWithService;

    it('warns when no service file was found', () => {
      const NONE = /^services\/: no service files \(\*\.yaml, \*\.yml\) in .*: nothing is routed$/;
      const r = loadConfig(folder({ 'gateway.yaml': '' }), {});
      expect(r.ok && r.snapshot.warnings.filter((w) => NONE.test(w))).toHaveLength(1);
      expect(snapshotOf({ 'gateway.yaml': '' }).warnings.filter((w) => NONE.test(w))).toEqual([]);
    });

    const gateway = [
      'auth:',
      '  jwt:',
      '    secret: ${JWT_SECRET}',
      '  apiKeys:',
      '    keys:',
      '      - { name: bot, key: "${BOT_KEY}" }',
      '      - { name: hashed, sha256: ' + 'a'.repeat(64) + ' }',
      'oauth:',
      '  clients:',
      '    - { clientId: acme, clientSecret: "${ACME_SECRET}" }',
      '',
    ].join('\n');

    it('warns once each for an empty API key, client secret and JWT secret', () => {
      const s = snapshotOf({ 'gateway.yaml': gateway });
      expect([...s.warnings].sort()).toEqual(
        [
          JWT_WARNING,
          'gateway.yaml: auth.apiKeys.keys[0].key: empty; skipped',
          'gateway.yaml: oauth.clients[0].clientSecret: empty; skipped',
        ].sort(),
      );
    });

    it('refuses an empty HS256 secret while REDIS_URL is set', () => {
      expect(
        problemsOf({ 'gateway.yaml': gateway }, { REDIS_URL: 'redis://127.0.0.1:6379' }),
      ).toContain(
        "gateway.yaml: auth.jwt.secret: empty while REDIS_URL is set: instances would not accept each other's tokens",
      );
    });

    it('refuses an empty HS256 secret with more than one worker', () => {
      expect(
        problemsOf({ 'gateway.yaml': gateway }, { GATEWAY_WORKERS: '2', REDIS_URL: '' }),
      ).toContain(
        "gateway.yaml: auth.jwt.secret: empty with GATEWAY_WORKERS=2: workers would not accept each other's tokens",
      );
      expect(snapshotOf({ 'gateway.yaml': gateway }, { GATEWAY_WORKERS: '1' }).warnings).toContain(
        JWT_WARNING,
      );
    });

    it('refuses the memory rate-limit store with more than one worker, in one line', () => {
      const yaml = 'auth:\n  jwt:\n    secret: ' + 's'.repeat(32) + '\n';
      expect(problemsOf({ 'gateway.yaml': yaml }, { GATEWAY_WORKERS: '3' })).toEqual([
        'gateway.yaml: rateLimit.store: memory with GATEWAY_WORKERS=3: each worker would count on its own (limits would not be exact); use store redis with REDIS_URL, or one worker',
      ]);
      const off = yaml + 'rateLimit:\n  enabled: false\n';
      expect(snapshotOf({ 'gateway.yaml': off }, { GATEWAY_WORKERS: '3' }).warnings).toEqual([]);
      // The OAuth failure budget counts with limits off: per worker it would be N times wider.
      const oauth =
        off +
        'oauth:\n  clients:\n    - { clientId: a, clientSecret: a-secret-0123456789, scopes: [x] }\n';
      expect(problemsOf({ 'gateway.yaml': oauth }, { GATEWAY_WORKERS: '3' })).toEqual([
        'gateway.yaml: rateLimit.store: memory with GATEWAY_WORKERS=3: each worker would count on its own (limits would not be exact); use store redis with REDIS_URL, or one worker',
      ]);
      const redis = yaml + 'rateLimit:\n  store: redis\n';
      expect(
        snapshotOf(
          { 'gateway.yaml': redis },
          { GATEWAY_WORKERS: '3', REDIS_URL: 'redis://127.0.0.1:6379' },
        ).warnings,
      ).toEqual([]);
    });

    it('refuses it too when only OAuth signs with HS256 (RS256-only verification)', () => {
      const yaml =
        'auth:\n  jwt:\n    algorithms: [RS256]\n    jwksUri: https://keys.example.com/jwks\n' +
        'oauth:\n  clients:\n    - { clientId: a, clientSecret: a-secret-0123456789, scopes: [x] }\n';
      expect(
        problemsOf({ 'gateway.yaml': yaml }, { REDIS_URL: 'redis://127.0.0.1:6379' }),
      ).toContain(
        "gateway.yaml: auth.jwt.secret: empty while REDIS_URL is set: instances would not accept each other's tokens",
      );
      expect(snapshotOf({ 'gateway.yaml': yaml }).gateway.oauth.clients).toHaveLength(1);
    });

    it('warns about a jwksUri on plain http to a non-loopback host only', () => {
      const yaml = (uri: string) => `auth:\n  jwt:\n    algorithms: [RS256]\n    jwksUri: ${uri}\n`;
      expect(snapshotOf({ 'gateway.yaml': yaml('http://keys.example.com/jwks') }).warnings).toEqual(
        [
          'gateway.yaml: auth.jwt.jwksUri: plain http to a non-loopback host; keys can be tampered with in transit',
        ],
      );
      for (const ok of [
        'https://keys.example.com/jwks',
        'http://127.0.0.1:9/j',
        'http://[::1]:9/j',
        'http://localhost/j',
      ]) {
        expect(snapshotOf({ 'gateway.yaml': yaml(ok) }).warnings).toEqual([]);
      }
    });

    it('has no warnings when every secret is set', () => {
      const s = snapshotOf(
        { 'gateway.yaml': gateway },
        { JWT_SECRET: 'j'.repeat(32), BOT_KEY: 'b', ACME_SECRET: 'c' },
      );
      expect(s.warnings).toEqual([]);
    });

    it('does not warn about the JWT secret when HS256 is not used', () => {
      const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const s = snapshotOf({
        'gateway.yaml': 'auth:\n  jwt:\n    algorithms: [RS256]\n    publicKeyFile: k.pub\n',
        'k.pub': publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      });
      expect(s.warnings).toEqual([]);
    });

    it('warns that weights are ignored with round-robin', () => {
      const s = snapshotOf({
        'gateway.yaml': `auth:\n  jwt:\n    secret: ${'j'.repeat(32)}\n`,
        'services/a.yaml':
          'name: a\ntargets:\n  - { url: "http://h1", weight: 3 }\nroutes:\n  - path: /a\n',
      });
      expect(s.warnings).toEqual([
        'services/a.yaml: targets: weights are ignored unless loadBalancing is weighted',
      ]);
    });
  });
});
