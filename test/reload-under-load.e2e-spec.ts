// A reload under load changes plugins (options and a plugin file), API keys and routes: no
// call is lost, and no call mixes two snapshots (issue "compiled pipeline": done when).
// Every stage a call passes stamps the version it saw; the backend and the client see them.
import { writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import { join } from 'node:path';

import { listen, type Listening } from './support/listen';
import { startTestGateway, type TestGateway } from './support/test-gateway';

const ADMIN_KEY = 'reload-under-load-admin-key-0123456789';
const USER_KEY = 'reload-under-load-user-key-0123456789';

/** Waits a random few milliseconds in the access phase: a reload can land mid-call. */
const JITTER = `module.exports = {
  name: 'jitter',
  phase: 'access',
  create() {
    return () => new Promise((resolve) => setTimeout(resolve, Math.random() * 12));
  },
};
`;
/** A request plugin whose code carries the version: a reload recompiles the file. */
const stamp = (v: string) => `module.exports = {
  name: 'stamp',
  phase: 'request',
  create() {
    return async (call) => {
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 8));
      call.upstream.headers.set('X-Stamp', '${v}');
    };
  },
};
`;

const gatewayYaml = (v: string) => `auth:
  jwt:
    algorithms: [HS256]
    secret: reload-under-load-secret-0123456789abcdef
  apiKeys:
    keys:
      - { name: ops, key: ${ADMIN_KEY}, roles: [admin] }
      - { name: user, key: ${USER_KEY}, roles: [role-${v}] }
rateLimit:
  enabled: false
plugins:
  files: [plugins/jitter.js, plugins/stamp.js]
  global:
    - name: jitter
    - name: request-headers
      options: { set: { X-Config: "${v}", X-Seen-Roles: "{{identity.roles}}" } }
    - name: stamp
    - name: response-headers
      options: { set: { X-Config-Response: "${v}" } }
`;

const serviceYaml = (url: string, v: string) => `name: api
targets:
  - url: ${url}
routes:
  - path: /api/main/*
    auth: apiKey
${v === 'B' ? '  - path: /api/extra/*\n    auth: apiKey\n' : ''}`;

interface Seen {
  status: number;
  config?: string;
  roles?: string;
  stamp?: string;
  response?: string;
  path: string;
}

describe('Reload under load', () => {
  let backend: Listening;
  let gw: TestGateway;

  beforeAll(async () => {
    // Echoes the stamps it received, after a random delay (the response hooks then run
    // after some reloads).
    backend = await listen(
      createServer((req: IncomingMessage, res) => {
        req.resume();
        req.on('end', () =>
          setTimeout(() => {
            res.writeHead(200, { 'Content-Type': 'application/json' });
            res.end(
              JSON.stringify({
                config: req.headers['x-config'],
                roles: req.headers['x-seen-roles'],
                stamp: req.headers['x-stamp'],
              }),
            );
          }, Math.random() * 15),
        );
      }),
    );
    gw = await startTestGateway({
      gateway: gatewayYaml('A'),
      services: { api: serviceYaml(backend.url, 'A') },
      extra: { 'plugins/jitter.js': JITTER, 'plugins/stamp.js': stamp('A') },
    });
  });

  afterAll(async () => {
    await gw?.close();
    await backend?.close();
  });

  const write = (v: string) => {
    writeFileSync(join(gw.dir, 'gateway.yaml'), gatewayYaml(v));
    writeFileSync(join(gw.dir, 'services', 'api.yaml'), serviceYaml(backend.url, v));
    writeFileSync(join(gw.dir, 'plugins', 'stamp.js'), stamp(v));
  };

  const call = async (path: string): Promise<Seen> => {
    const r = await fetch(`${gw.url}${path}`, { headers: { 'x-api-key': USER_KEY } });
    const text = await r.text();
    const body = r.status === 200 ? (JSON.parse(text) as Omit<Seen, 'status' | 'path'>) : {};
    return {
      status: r.status,
      path,
      ...body,
      response: r.headers.get('x-config-response') ?? undefined,
    };
  };

  it('loses no call and mixes no snapshots while routes, keys and plugins change', async () => {
    const seen: Seen[] = [];
    const failures: unknown[] = [];
    let running = true;
    const loop = async (path: string) => {
      while (running) {
        try {
          seen.push(await call(path));
        } catch (err) {
          failures.push(err);
        }
      }
    };
    const loops = [
      ...Array.from({ length: 5 }, () => loop('/api/main/x')),
      loop('/api/extra/y'),
      loop('/api/extra/z'),
    ];
    const reloads: number[] = [];
    for (let i = 1; i <= 16; i++) {
      await new Promise((r) => setTimeout(r, 60));
      write(i % 2 === 1 ? 'B' : 'A');
      const r = await fetch(`${gw.url}/api/gateway/reload`, {
        method: 'POST',
        headers: { 'x-api-key': ADMIN_KEY },
      });
      reloads.push(r.status);
    }
    await new Promise((r) => setTimeout(r, 60));
    running = false;
    await Promise.all(loops);

    expect(failures).toEqual([]);
    expect(reloads).toEqual(Array(16).fill(200));
    const main = seen.filter((s) => s.path === '/api/main/x');
    const extra = seen.filter((s) => s.path !== '/api/main/x');
    expect(main.length).toBeGreaterThan(100);
    // Nothing lost: every call was answered by the backend, or (extra, under A) 404.
    expect(main.filter((s) => s.status !== 200)).toEqual([]);
    expect(extra.filter((s) => s.status !== 200 && s.status !== 404)).toEqual([]);
    // One snapshot per call: the plugin options, the API key table (roles), the plugin
    // file's code and the response hook all say the same version.
    for (const s of seen.filter((x) => x.status === 200)) {
      const v = s.config;
      expect({ ...s, ok: v === 'A' || v === 'B' }).toEqual({
        ...s,
        ok: true,
        roles: `role-${v}`,
        stamp: v,
        response: v,
      });
    }
    // The extra route exists only in B: a 200 there was served under B.
    expect(extra.filter((s) => s.status === 200).every((s) => s.config === 'B')).toBe(true);
    // Both versions actually served calls, before and after reloads.
    expect(new Set(main.map((s) => s.config))).toEqual(new Set(['A', 'B']));
    expect(extra.some((s) => s.status === 404)).toBe(true);
    expect(extra.some((s) => s.status === 200)).toBe(true);
  }, 30_000);
});
