// Medium tier: the Nest module graph of the gateway compiles with every module's real
// providers, and the per-snapshot state is built from a config folder, without a server
// (no port is opened, no request is sent).
import 'reflect-metadata';

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { type INestApplicationContext, Module } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { ModulesContainer } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import pino from 'pino';

import { ApiKeyStrategy } from '../../src/auth/api-key.strategy';
import { GatewayConfig } from '../../src/config/gateway-config';
import { isOwnedPath, OWNED_EXACT_PATHS, OWNED_PREFIXES } from '../../src/config/owned-paths';
import { GatewayModule } from '../../src/gateway.module';
import { GatewaySigningKeys } from '../../src/oauth/signing-keys';
import { GatewayRoutes } from '../../src/routing/gateway-routes';
import { writeConfigDir } from '../support/test-gateway';

const SECRET = 'medium-tier-secret-0123456789abcdefgh';
const gatewayYaml = (header: string) => `auth:
  jwt:
    algorithms: [HS256]
    secret: ${SECRET}
  apiKeys:
    header: ${header}
    keys:
      - { name: ops, key: medium-admin-key-0123456789, roles: [admin] }
`;
const serviceYaml = (extra = '') => `name: api
targets:
  - url: http://127.0.0.1:9
routes:
  - path: /api/a/*
    auth: apiKey
    plugins:
      - name: response-headers
        options: { set: { X-A: "1" } }
${extra}`;

/** Every path the controllers of the compiled graph serve (controller prefix + method path). */
function controllerPaths(app: INestApplicationContext): string[] {
  const paths: string[] = [];
  for (const mod of app.get(ModulesContainer).values()) {
    for (const wrapper of mod.controllers.values()) {
      const cls = wrapper.metatype as (new () => object) | null;
      if (!cls) continue;
      const base = String(Reflect.getMetadata(PATH_METADATA, cls) ?? '');
      const proto = cls.prototype as Record<string, unknown>;
      for (const name of Object.getOwnPropertyNames(proto)) {
        const handler = proto[name];
        if (typeof handler !== 'function' || name === 'constructor') continue;
        if (Reflect.getMetadata(METHOD_METADATA, handler) === undefined) continue;
        const sub = String(Reflect.getMetadata(PATH_METADATA, handler) ?? '');
        const joined = `/${base}/${sub}`.replace(/\/+/g, '/').replace(/(.)\/$/, '$1');
        paths.push(joined);
      }
    }
  }
  return paths.sort();
}

describe('Gateway state (medium tier: the module graph, no server)', () => {
  let dir: string;
  let app: INestApplicationContext;

  beforeAll(async () => {
    dir = writeConfigDir({ gateway: gatewayYaml('X-API-Key'), services: { api: serviceYaml() } });
    const moduleRef = await Test.createTestingModule({
      imports: [
        GatewayModule.forRoot({ configDir: dir, env: {}, logger: pino({ level: 'silent' }) }),
      ],
    }).compile();
    app = await moduleRef.init();
  });

  afterAll(async () => {
    await app?.close();
  });

  it('builds the route table, the per-route plugins and the services from the folder', () => {
    const state = app.get(GatewayRoutes).current;
    const [route] = state.table.routes;
    expect(state.table.routes.map((r) => r.pattern)).toEqual(['/api/a/*']);
    expect(route.data.service.name).toBe('api');
    expect(route.data.settings.auth).toBe('apiKey');
    expect(route.data.plugins.response.map((h) => h.plugin)).toEqual(['response-headers']);
    expect(state.snapshot).toBe(app.get(GatewayConfig).current);
  });

  it('the own-endpoint matcher covers exactly the paths the registered controllers serve', () => {
    const paths = controllerPaths(app);
    expect(paths).toEqual(
      expect.arrayContaining(['/health', '/ready', '/metrics', '/oauth/token']),
    );
    for (const p of paths) expect({ p, owned: isOwnedPath(p) }).toEqual({ p, owned: true });
    // and every owned entry is served by some controller (none listed for nothing)
    for (const exact of OWNED_EXACT_PATHS) expect(paths).toContain(exact);
    for (const prefix of OWNED_PREFIXES) {
      expect({ prefix, served: paths.some((p) => p.startsWith(`${prefix}/`)) }).toEqual({
        prefix,
        served: true,
      });
    }
  });

  it('a rejected reload changes nothing; an applied one swaps the whole state and its parts', () => {
    const config = app.get(GatewayConfig);
    const routes = app.get(GatewayRoutes);
    const keys = app.get(ApiKeyStrategy);
    const signing = app.get(GatewaySigningKeys);
    const before = routes.current;
    const snapshot = config.current;
    const signingBefore = signing.of(snapshot);

    // An unknown plugin: the whole reload is refused, nothing moved.
    writeFileSync(
      join(dir, 'services', 'api.yaml'),
      serviceYaml('  - path: /api/b/*\n    plugins: [{ name: no-such-plugin }]\n'),
    );
    writeFileSync(join(dir, 'gateway.yaml'), gatewayYaml('X-Other-Key'));
    const rejected = config.reload();
    expect(rejected.ok).toBe(false);
    expect(routes.current).toBe(before);
    expect(config.current).toBe(snapshot);
    expect(keys.headerOf(config.current)).toBe('x-api-key');

    writeFileSync(join(dir, 'services', 'api.yaml'), serviceYaml('  - path: /api/b/*\n'));
    const applied = config.reload();
    expect(applied).toMatchObject({ ok: true, changed: ['gateway.yaml', 'services/api.yaml'] });
    const after = routes.current;
    expect(after).not.toBe(before);
    expect(after.snapshot).toBe(config.current);
    expect(after.table.routes.map((r) => r.pattern)).toEqual(['/api/a/*', '/api/b/*']);
    // The parts follow the snapshot they were built from: a call pinned to the old one
    // still reads the old key table and signing keys.
    expect(keys.headerOf(config.current)).toBe('x-other-key');
    expect(keys.headerOf(snapshot)).toBe('x-api-key');
    expect(signing.of(snapshot)).toBe(signingBefore);
    expect(signing.of(config.current)).not.toBe(signingBefore);
  });
});

describe('GatewayModule.forRootAsync (medium tier)', () => {
  const CONFIG_DIR = Symbol('CONFIG_DIR');

  it('takes the config folder from an injected provider', async () => {
    const dir = writeConfigDir({
      gateway: gatewayYaml('X-Async-Key'),
      services: { api: serviceYaml() },
    });
    @Module({ providers: [{ provide: CONFIG_DIR, useValue: dir }], exports: [CONFIG_DIR] })
    class SourceModule {}
    const moduleRef = await Test.createTestingModule({
      imports: [
        GatewayModule.forRootAsync({
          imports: [SourceModule],
          inject: [CONFIG_DIR],
          useFactory: (configDir: string) => Promise.resolve({ configDir, env: {} }),
          logger: pino({ level: 'silent' }),
        }),
      ],
    }).compile();
    const app = await moduleRef.init();
    try {
      expect(app.get(GatewayConfig).current.dir).toBe(dir);
      expect(app.get(ApiKeyStrategy).headerOf(app.get(GatewayConfig).current)).toBe('x-async-key');
      expect(app.get(GatewayRoutes).current.table.routes.map((r) => r.pattern)).toEqual([
        '/api/a/*',
      ]);
    } finally {
      await app.close();
    }
  });
});
