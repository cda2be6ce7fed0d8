import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Test } from '@nestjs/testing';

import { type ConfigSnapshot, loadConfig } from '../config/config-loader';
import { GatewayConfig } from '../config/gateway-config';
import { GatewayRoutes, RoutingState } from '../routing/gateway-routes';
import { ServiceRegistry } from '../routing/upstream/service-registry';
import type { UpstreamService } from '../routing/upstream/upstream-service';
import { UpstreamTarget } from '../routing/upstream/upstream-target';
import { GatewayAdminService } from './gateway-admin.service';
import { packageVersion } from './package-version';

const FILES: Record<string, string> = {
  'services/cat.yaml': `name: cat
targets: [{ url: "http://10.0.0.1:8080" }, { url: "http://10.0.0.2:8080", weight: 3 }]
loadBalancing: weighted
timeoutMs: 1234
routes:
  - { path: /api/cat/*, rewrite: /v1/*, methods: [GET, POST] }
  - { path: /api/cat/:id, methods: [GET], auth: jwt }
  - { path: /api/cat/new, methods: [post], auth: apiKey, roles: [writer] }
`,
  'services/dog.yaml': `name: dog
targets: [{ url: "http://10.0.0.3:80" }]
routes:
  - { path: /dog/*, rateLimit: { limit: 5, windowSeconds: 10 } }
`,
};

const targets: UpstreamTarget[] = [];

/** A service as the admin service reads it: real targets (no sockets opened), a fake breaker. */
function fakeService(
  snapshot: ConfigSnapshot,
  name: string,
  state: string,
  errorRate: number,
  healthy: boolean[],
): UpstreamService {
  const settings = snapshot.services.find((s) => s.settings.name === name)?.settings;
  if (!settings) throw new Error(`no service ${name}`);
  return {
    name,
    settings,
    timeoutMs: settings.timeoutMs ?? snapshot.gateway.server.requestTimeoutMs,
    breaker: { state, errorRate },
    targets: settings.targets.map((t, i) => {
      const target = new UpstreamTarget(t.url ?? '', t.weight);
      if (!healthy[i]) target.health.markDown();
      targets.push(target);
      return target;
    }),
  } as unknown as UpstreamService;
}

describe('GatewayAdminService', () => {
  let dir: string;
  let admin: GatewayAdminService;
  let snapshot: ConfigSnapshot;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gw-admin-'));
    mkdirSync(join(dir, 'services'));
    for (const [name, text] of Object.entries(FILES)) writeFileSync(join(dir, name), text);
    const loaded = loadConfig(dir, {});
    if (!loaded.ok) throw new Error(loaded.problems.join('\n'));
    snapshot = loaded.snapshot;
    const services = [
      fakeService(snapshot, 'cat', 'closed', 2 / 3, [true, false]),
      fakeService(snapshot, 'dog', 'open', 1, [true]),
    ];
    const state = new RoutingState(snapshot, new Map(services.map((s) => [s.name, s])));
    const moduleRef = await Test.createTestingModule({
      providers: [
        GatewayAdminService,
        { provide: GatewayConfig, useValue: { current: snapshot } },
        { provide: GatewayRoutes, useValue: { current: state } },
        { provide: ServiceRegistry, useValue: { all: () => services, discoveryOf: () => [] } },
      ],
    }).compile();
    admin = moduleRef.get(GatewayAdminService);
  });

  afterEach(() => {
    for (const t of targets.splice(0)) t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  describe('status', () => {
    it('reports version, uptime, the revision and counts, and nothing about targets', () => {
      const s = admin.status();
      expect(s).toEqual({
        version: packageVersion(),
        uptimeSeconds: 0,
        config: { revision: snapshot.revision, loadedAt: snapshot.loadedAt },
        counts: { services: 2, routes: 4, targets: 3 },
      });
      expect(JSON.stringify(s)).not.toContain('10.0.0.');
    });
  });

  describe('services', () => {
    it('shows targets with health, the circuit state and the error rate to 3 places', () => {
      expect(admin.services()).toEqual([
        {
          name: 'cat',
          loadBalancing: 'weighted',
          timeoutMs: 1234,
          circuit: { state: 'closed', errorRate: 0.667 },
          targets: [
            {
              target: '10.0.0.1:8080',
              url: 'http://10.0.0.1:8080',
              weight: 1,
              healthy: true,
              source: 'static',
            },
            {
              target: '10.0.0.2:8080',
              url: 'http://10.0.0.2:8080',
              weight: 3,
              healthy: false,
              source: 'static',
            },
          ],
          discovery: [],
        },
        {
          name: 'dog',
          loadBalancing: 'round-robin',
          timeoutMs: 30_000,
          circuit: { state: 'open', errorRate: 1 },
          targets: [
            {
              target: '10.0.0.3:80',
              url: 'http://10.0.0.3:80',
              weight: 1,
              healthy: true,
              source: 'static',
            },
          ],
          discovery: [],
        },
      ]);
    });
  });

  describe('routeTable', () => {
    it('lists the routes in match order with their settings', () => {
      const routes = admin.routeTable();
      expect(routes.filter((r) => r.service === 'cat').map((r) => r.route)).toEqual([
        '/api/cat/new',
        '/api/cat/:id',
        '/api/cat/*',
      ]);
      expect(routes.find((r) => r.route === '/api/cat/new')).toEqual({
        route: '/api/cat/new',
        service: 'cat',
        file: 'services/cat.yaml',
        methods: ['POST'],
        rewrite: null,
        auth: 'apiKey',
        roles: ['writer'],
        scopes: [],
        rateLimit: null,
      });
      expect(routes.find((r) => r.route === '/api/cat/*')).toMatchObject({
        methods: ['GET', 'HEAD', 'POST'],
        rewrite: '/v1/*',
        auth: 'none',
      });
      expect(routes.find((r) => r.route === '/dog/*')).toMatchObject({
        methods: null,
        rateLimit: { limit: 5, windowSeconds: 10, scope: 'ip' },
      });
    });
  });

  describe('explain', () => {
    it('selects the literal over :param over *, and says why the others lost', () => {
      expect(admin.explain('POST', '/api/cat/new')).toEqual({
        status: 200,
        match: {
          service: 'cat',
          route: '/api/cat/new',
          upstreamPath: '/api/cat/new',
          auth: 'apiKey',
          methods: ['POST'],
          targets: [
            { target: '10.0.0.1:8080', source: 'static', healthy: true },
            { target: '10.0.0.2:8080', source: 'static', healthy: false },
          ],
        },
        candidates: [
          { route: '/api/cat/new', service: 'cat', reason: 'selected' },
          { route: '/api/cat/:id', service: 'cat', reason: 'method POST not allowed' },
          { route: '/api/cat/*', service: 'cat', reason: 'lower priority' },
        ],
      });
    });

    it('reads the method case-insensitively and applies the rewrite', () => {
      const e = admin.explain('get', '/api/cat/a/b');
      expect(e.status).toBe(200);
      expect(e.match).toMatchObject({ route: '/api/cat/*', upstreamPath: '/v1/a/b' });
    });

    it('normalises the path before matching, as the entry does', () => {
      const e = admin.explain('GET', '/api/cat//%61/./b');
      expect(e.status).toBe(200);
      expect(e.match).toMatchObject({ route: '/api/cat/*', upstreamPath: '/v1/a/b' });
    });

    it('answers 405 when every candidate refuses the method', () => {
      expect(admin.explain('DELETE', '/api/cat/7')).toEqual({
        status: 405,
        match: null,
        candidates: [
          { route: '/api/cat/:id', service: 'cat', reason: 'method DELETE not allowed' },
          { route: '/api/cat/*', service: 'cat', reason: 'method DELETE not allowed' },
        ],
      });
    });

    it('answers 404 without candidates when nothing matches', () => {
      expect(admin.explain('GET', '/nothing')).toEqual({
        status: 404,
        match: null,
        candidates: [],
      });
    });

    it('answers 400 for invalid percent-encoding', () => {
      expect(admin.explain('GET', '/dog/%G1')).toEqual({
        status: 400,
        match: null,
        candidates: [],
      });
    });

    it('answers 404 when .. leaves the route the path matched as sent', () => {
      const e = admin.explain('GET', '/api/cat/../../dog/x');
      expect(e.status).toBe(404);
      expect(e.match).toBeNull();
      expect(e.candidates).toHaveLength(1);
      expect(e.candidates[0]).toMatchObject({ route: '/dog/*', service: 'dog' });
      expect(e.candidates[0].reason).not.toBe('selected');
    });
  });
});
