// Load shedding (contract, Scale): past server.maxConcurrentRequests proxied calls in flight
// (arrival to response head), a call is answered 503 `overloaded` with Retry-After: 1 at
// once, nothing forwarded, counted in gateway_requests_shed_total; the probes and /metrics
// are never shed; a call whose head has come back no longer holds a slot.
import type { ClientRequest } from 'node:http';
import { request } from 'node:http';

import { startBackend, type TestBackend } from './support/backend';
import { poll } from './support/poll';
import { counterOf, parseExposition, valueOf } from './support/prom-text';
import { rawRequest } from './support/raw-http';
import { startTestGateway, type TestGateway } from './support/test-gateway';

describe('Load shedding (e2e)', () => {
  let hanging: TestBackend;
  let streaming: TestBackend;
  let echo: TestBackend;
  let gw: TestGateway;
  let finishStream: (rest: string) => void = () => undefined;

  beforeAll(async () => {
    hanging = await startBackend({ kind: 'hang' });
    streaming = await startBackend({
      kind: 'stream',
      first: 'head-and-first-chunk\n',
      rest: new Promise<string>((ok) => (finishStream = ok)),
    });
    echo = await startBackend({ kind: 'echo' });
    const svc = (name: string, url: string) =>
      `name: ${name}\ntargets: [{ url: "${url}" }]\ntimeoutMs: 20000\nroutes: [{ path: /api/${name}/* }]\n`;
    gw = await startTestGateway({
      gateway: 'server:\n  maxConcurrentRequests: 2\n',
      services: {
        hang: svc('hang', hanging.url),
        stream: svc('stream', streaming.url),
        echo: svc('echo', echo.url),
      },
    });
  });

  afterAll(async () => {
    await gw?.close();
    await hanging?.close();
    await streaming?.close();
    await echo?.close();
  });

  const open: ClientRequest[] = [];
  const hold = (path: string) => {
    const req = request({ host: '127.0.0.1', port: gw.port, path, agent: false });
    req.on('error', () => undefined);
    req.end();
    open.push(req);
    return req;
  };

  it('sheds the call past the cap with 503 overloaded and Retry-After: 1, forwarding nothing', async () => {
    hold('/api/hang/1');
    hold('/api/hang/2');
    await poll(() => (hanging.received.length === 2 ? true : undefined), 2000, 'two calls held');
    const before = echo.received.length;
    const shed = await rawRequest({ port: gw.port, path: '/api/echo/x' });
    expect(shed.status).toBe(503);
    expect(shed.headers['retry-after']).toBe('1');
    expect(JSON.parse(shed.body.toString('utf8'))).toMatchObject({
      statusCode: 503,
      message: 'overloaded',
      requestId: shed.headers['x-request-id'],
    });
    expect(shed.ms).toBeLessThan(500);
    expect(echo.received.length).toBe(before);
  });

  it('never sheds /health, /ready or /metrics, and counts the shed call under route none', async () => {
    expect((await rawRequest({ port: gw.port, path: '/health' })).status).toBe(200);
    expect((await rawRequest({ port: gw.port, path: '/ready' })).status).toBe(200);
    const m = await rawRequest({ port: gw.port, path: '/metrics' });
    expect(m.status).toBe(200);
    const e = parseExposition(m.body.toString('utf8'));
    expect(valueOf(e, 'gateway_requests_shed_total', {})).toBe(1);
    expect(
      counterOf(e, 'gateway_requests_total', {
        method: 'GET',
        route: 'none',
        service: 'none',
        status: '503',
      }),
    ).toBe(1);
  });

  it.each([
    '/oauth/../api/echo/x',
    '/api/gateway/%2e%2e/%2e%2e/api/echo/x',
    '/health/../api/echo/x',
  ])('cannot slip past the cap by dressing a proxied call as an own path: %s', async (path) => {
    const before = echo.received.length;
    const r = await rawRequest({ port: gw.port, path });
    expect([503, 404, 400]).toContain(r.status);
    expect(echo.received.length).toBe(before);
  });

  it('frees the slots when the calls end, and a streamed call holds none after its head', async () => {
    for (const r of open.splice(0)) r.destroy();
    await poll(
      async () =>
        (await rawRequest({ port: gw.port, path: '/api/echo/y' })).status === 200
          ? true
          : undefined,
      3000,
      'a call to pass again',
    );
    // Two streams whose heads came back, bodies still open: they hold no slot.
    const heads: Promise<void>[] = [];
    for (const n of [1, 2]) {
      heads.push(
        new Promise((ok) => {
          const req = request(
            { host: '127.0.0.1', port: gw.port, path: `/api/stream/${n}`, agent: false },
            (res) => {
              res.resume();
              ok();
            },
          );
          req.on('error', () => undefined);
          req.end();
          open.push(req);
        }),
      );
    }
    await Promise.all(heads);
    expect((await rawRequest({ port: gw.port, path: '/api/echo/z' })).status).toBe(200);
    finishStream('rest\n');
    for (const r of open.splice(0)) r.destroy();
  });
});
