// Service discovery through a real DNS server (dns2 on 127.0.0.1) and real backends on
// several loopback addresses (127.0.0.2-7): A records (discovery: dns) and SRV records.
// No name is resolved outside the test's own server.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { startDnsServer, type TestDnsServer } from './support/dns-server';
import { poll, waitUntil } from './support/poll';
import { rawRequest } from './support/raw-http';
import { startTestGateway, type TestGateway } from './support/test-gateway';

const ADMIN_KEY = 'discovery-admin-key-0123456789abcdef';

interface Backend {
  readonly ip: string;
  readonly port: number;
  readonly hosts: string[];
  /** Calls other than /health. */
  count: number;
  /** What /health answers. */
  healthy: boolean;
  close(): Promise<void>;
}

/** A backend on `ip` (port 0 = any): answers its own address; `/slow` after 2 s. */
async function backendOn(ip: string, port = 0): Promise<Backend> {
  const hosts: string[] = [];
  const b = { ip, port: 0, hosts, count: 0, healthy: true } as Backend & { port: number };
  const server: Server = createServer((req, res) => {
    if (req.url === '/health') {
      res.writeHead(b.healthy ? 200 : 503).end();
      return;
    }
    b.count++;
    hosts.push(req.headers.host ?? '');
    req.resume();
    const answer = () => res.writeHead(200, { 'content-type': 'text/plain' }).end(ip);
    if (req.url?.endsWith('/slow')) setTimeout(answer, 2000);
    else answer();
  });
  await new Promise<void>((resolve) => server.listen(port, ip, resolve));
  b.port = (server.address() as AddressInfo).port;
  b.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return b;
}

describe('Service discovery (DNS A/AAAA and SRV)', () => {
  let dns: TestDnsServer;
  let gw: TestGateway;
  const backends: Record<string, Backend> = {};
  const get = async (path: string, headers: Record<string, string> = {}) => {
    const r = await rawRequest({ port: gw.port, path, headers, agent: undefined });
    return { status: r.status, body: r.body.toString(), headers: r.headers };
  };
  const reset = () => {
    for (const b of Object.values(backends)) {
      b.count = 0;
      b.hosts.length = 0;
    }
  };

  beforeAll(async () => {
    dns = await startDnsServer();
    backends.b2 = await backendOn('127.0.0.2');
    const P = backends.b2.port;
    backends.b3 = await backendOn('127.0.0.3', P);
    backends.b4 = await backendOn('127.0.0.4', P);
    backends.w1 = await backendOn('127.0.0.5');
    backends.w2 = await backendOn('127.0.0.6');
    backends.w3 = await backendOn('127.0.0.7');
    backends.v6 = await backendOn('::1', P);
    backends.c8 = await backendOn('127.0.0.8', P);
    backends.c8.healthy = false;
    dns.set('dual.test', { a: ['127.0.0.2'], aaaa: ['::1'], ttl: 1 });
    dns.set('checked.test', { a: ['127.0.0.3'], ttl: 1 });
    dns.set('api.test', { a: ['127.0.0.2', '127.0.0.3'], ttl: 1 });
    dns.set('w1.test', { a: ['127.0.0.5'], ttl: 30 });
    dns.set('w2.test', { a: ['127.0.0.6'], ttl: 30 });
    dns.set('w3.test', { a: ['127.0.0.7'], ttl: 30 });
    dns.set('_http._tcp.orders.test', {
      srv: [
        { target: 'w1.test', port: backends.w1.port, weight: 3, priority: 0 },
        { target: 'w2.test', port: backends.w2.port, weight: 1, priority: 0 },
        // A backup (higher priority number): no calls while priority 0 has a healthy target.
        { target: 'w3.test', port: backends.w3.port, weight: 100, priority: 10 },
      ],
    });
    gw = await startTestGateway({
      gateway: [
        'auth:',
        '  apiKeys:',
        `    keys: [{ name: ops, key: ${ADMIN_KEY}, roles: [admin] }]`,
        'rateLimit:',
        '  enabled: false',
        'discovery:',
        `  resolvers: ["${dns.address}"]`,
        '  refreshSeconds: 1',
        '',
      ].join('\n'),
      services: {
        api: `name: api\ntargets:\n  - url: http://api.test:${P}\n    discovery: dns\nroutes:\n  - path: /api/dns/*\n`,
        orders: `name: orders\ntargets:\n  - srv: _http._tcp.orders.test\nroutes:\n  - path: /api/srv/*\n`,
        dual: `name: dual\ntargets:\n  - url: http://dual.test:${P}\n    discovery: dns\nroutes:\n  - path: /api/dual/*\n`,
        checked: `name: checked\ntargets:\n  - url: http://checked.test:${P}\n    discovery: dns\nhealthCheck: { path: /health, intervalMs: 200, healthyThreshold: 3 }\nroutes:\n  - path: /api/checked/*\n`,
        ghost: `name: ghost\ntargets:\n  - url: http://never.test:${P}\n    discovery: dns\nroutes:\n  - path: /api/ghost/*\n`,
      },
    });
    // The first resolutions run at start; calls succeed once they landed.
    await poll(
      async () => ((await get('/api/dns/x')).status === 200 ? true : undefined),
      5000,
      'the first resolution of api.test',
    );
    await poll(
      async () => ((await get('/api/srv/x')).status === 200 ? true : undefined),
      5000,
      'the first resolution of the SRV name',
    );
  });

  afterAll(async () => {
    await gw?.close();
    await dns?.close();
    for (const b of Object.values(backends)) await b.close();
  });

  it('gives each A address the calls in turn, with the configured name as Host', async () => {
    reset();
    for (let i = 0; i < 20; i++) expect((await get('/api/dns/x')).status).toBe(200);
    expect(backends.b2.count).toBe(10);
    expect(backends.b3.count).toBe(10);
    expect(backends.b4.count).toBe(0);
    const hosts = new Set([...backends.b2.hosts, ...backends.b3.hosts]);
    expect(hosts).toEqual(new Set([`api.test:${backends.b2.port}`]));
  });

  it('makes every AAAA address a target too ([v6]:port)', async () => {
    reset();
    for (let i = 0; i < 10; i++) expect((await get('/api/dual/x')).status).toBe(200);
    expect(backends.v6.count).toBe(5);
    expect(backends.b2.count).toBe(5);
    const metrics = (await get('/metrics')).body;
    expect(metrics).toContain(
      `gateway_upstream_target_up{service="dual",target="[::1]:${backends.b2.port}"} 1`,
    );
  });

  it('with a healthCheck, a new address serves only after its first passing check', async () => {
    reset();
    dns.set('checked.test', { a: ['127.0.0.3', '127.0.0.8'], ttl: 1 });
    // Resolved (the target is listed) but its checks fail: no call reaches it.
    await waitUntil(
      async () => {
        const r = await get('/api/gateway/services', { 'x-api-key': ADMIN_KEY });
        const svc = (JSON.parse(r.body) as { name: string; targets: unknown[] }[]).find(
          (x) => x.name === 'checked',
        );
        return svc?.targets.length === 2;
      },
      4000,
      '127.0.0.8 to be resolved',
    );
    for (let i = 0; i < 10; i++) expect((await get('/api/checked/x')).status).toBe(200);
    expect(backends.c8.count).toBe(0);
    // One passing check brings it in (healthyThreshold 3 is for targets that went down).
    backends.c8.healthy = true;
    await waitUntil(
      async () => {
        await get('/api/checked/x');
        return backends.c8.count > 0;
      },
      3000,
      '127.0.0.8 to get a call',
    );
  });

  it('lists the discovered targets in the admin API, with their source and resolution time', async () => {
    const r = await get('/api/gateway/services', { 'x-api-key': ADMIN_KEY });
    expect(r.status).toBe(200);
    const services = JSON.parse(r.body) as {
      name: string;
      targets: { target: string; source: string }[];
      discovery: { source: string; name: string; resolvedAt: string | null }[];
    }[];
    const api = services.find((s) => s.name === 'api');
    expect(api?.targets.map((t) => [t.target, t.source]).sort()).toEqual([
      [`127.0.0.2:${backends.b2.port}`, 'dns'],
      [`127.0.0.3:${backends.b2.port}`, 'dns'],
    ]);
    expect(api?.discovery).toEqual([
      {
        source: 'dns',
        name: `api.test:${backends.b2.port}`,
        resolvedAt: expect.any(String),
        error: null,
      },
    ]);
    expect(Date.now() - Date.parse(api?.discovery[0].resolvedAt ?? '')).toBeLessThan(5000);
    const ghost = services.find((s) => s.name === 'ghost');
    expect(ghost?.targets).toEqual([]);
    expect(ghost?.discovery[0]).toMatchObject({ resolvedAt: null, error: expect.any(String) });
  });

  it('an address added to the records starts serving within refreshSeconds', async () => {
    dns.set('api.test', { a: ['127.0.0.2', '127.0.0.3', '127.0.0.4'], ttl: 1 });
    const added = Date.now();
    reset();
    await waitUntil(
      async () => {
        await get('/api/dns/x');
        return backends.b4.count > 0;
      },
      4000,
      '127.0.0.4 to get a call',
    );
    expect(Date.now() - added).toBeLessThan(3000);
  });

  it('an address removed gets no new calls, and its call in flight finishes with 200', async () => {
    dns.set('api.test', { a: ['127.0.0.2', '127.0.0.3', '127.0.0.4'], ttl: 1 });
    reset();
    // Three slow calls in turn: one lands on each address, 127.0.0.2 included.
    const slow = [get('/api/dns/slow'), get('/api/dns/slow'), get('/api/dns/slow')];
    await waitUntil(() => backends.b2.count === 1, 1000, 'the slow call on 127.0.0.2');
    dns.set('api.test', { a: ['127.0.0.3', '127.0.0.4'], ttl: 1 });
    await waitUntil(
      async () => {
        const r = await get('/api/gateway/services', { 'x-api-key': ADMIN_KEY });
        const api = (JSON.parse(r.body) as { name: string; targets: unknown[] }[]).find(
          (s) => s.name === 'api',
        );
        return api?.targets.length === 2;
      },
      4000,
      'the removal to be resolved',
    );
    const before = backends.b2.count;
    for (let i = 0; i < 20; i++) expect((await get('/api/dns/x')).status).toBe(200);
    expect(backends.b2.count).toBe(before);
    const answers = await Promise.all(slow);
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
    expect(answers.map((a) => a.body).sort()).toEqual(['127.0.0.2', '127.0.0.3', '127.0.0.4']);
    // Its series is released.
    const metrics = (await get('/metrics')).body;
    expect(metrics).not.toContain(`{service="api",target="127.0.0.2:${backends.b2.port}"}`);
    expect(metrics).toContain(
      `gateway_upstream_target_up{service="api",target="127.0.0.3:${backends.b2.port}"} 1`,
    );
  });

  it('splits SRV calls by weight (3:1) within 5% over 2,000 calls; the backup priority gets none', async () => {
    reset();
    const statuses = new Map<number, number>();
    let next = 0;
    await Promise.all(
      Array.from({ length: 20 }, async () => {
        while (next < 2000) {
          next++;
          const r = await get('/api/srv/x');
          statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        }
      }),
    );
    expect([...statuses]).toEqual([[200, 2000]]);
    const share = backends.w1.count / 2000;
    expect(Math.abs(share - 0.75)).toBeLessThan(0.05);
    expect(backends.w1.count + backends.w2.count).toBe(2000);
    expect(backends.w3.count).toBe(0);
    // Host and TLS name: the service's name from the SRV name.
    expect(new Set(backends.w1.hosts)).toEqual(new Set(['orders.test']));
  }, 30_000);

  it('a service whose name never resolved answers 503, and /ready shows it without failing', async () => {
    const r = await get('/api/ghost/x');
    expect(r.status).toBe(503);
    expect(JSON.parse(r.body)).toMatchObject({
      statusCode: 503,
      message: 'no healthy target for service ghost',
    });
    const ready = await get('/ready');
    expect(ready.status).toBe(200);
    const details = (
      JSON.parse(ready.body) as { details: { upstreams: { services: Record<string, unknown> } } }
    ).details.upstreams.services;
    expect(details.ghost).toMatchObject({
      targets: [],
      discovery: [{ source: 'dns', resolvedAt: null, error: expect.any(String) }],
    });
  });

  it('with the DNS server down, the last resolved set keeps serving and each failure is counted', async () => {
    const errors = async () => {
      const m = /gateway_discovery_errors_total\{service="api"\} (\d+)/.exec(
        (await get('/metrics')).body,
      );
      return Number(m?.[1] ?? 0);
    };
    const warned = () =>
      gw.logs.filter(
        (l) =>
          l.msg === 'service discovery failed; the last resolved targets stay in use' &&
          l.service === 'api',
      ).length;
    const before = await errors();
    const warnedBefore = warned();
    await dns.stop();
    try {
      await waitUntil(async () => (await errors()) >= before + 2, 8000, 'two failed resolutions');
      reset();
      for (let i = 0; i < 10; i++) expect((await get('/api/dns/x')).status).toBe(200);
      expect(backends.b3.count + backends.b4.count).toBe(10);
      // Logged once per outage, counted every time.
      expect(warned()).toBe(warnedBefore + 1);
    } finally {
      await dns.start();
    }
    await waitUntil(
      async () => {
        const r = await get('/api/gateway/services', { 'x-api-key': ADMIN_KEY });
        const api = (
          JSON.parse(r.body) as { name: string; discovery: { error: string | null }[] }[]
        ).find((s) => s.name === 'api');
        return api?.discovery[0].error === null;
      },
      8000,
      'the resolution to recover',
    );
  }, 30_000);
});
