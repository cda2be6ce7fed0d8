import { request } from 'node:http';

import { startBackend, type TestBackend } from './support/backend';
import { waitUntil } from './support/poll';
import {
  call,
  type CheckedBackend,
  refusingUrl,
  type Reply,
  type StaleSocketBackend,
  startCheckedBackend,
  startStaleSocketBackend,
  startTrickleBackend,
  type TrickleBackend,
} from './support/resilience-kit';
import { startTestGateway, type TestGateway } from './support/test-gateway';

const SMALL_BREAKER =
  'circuitBreaker: { volumeThreshold: 4, errorThresholdPercentage: 50, resetTimeoutMs: 1000, rollingWindowMs: 10000 }\n';
const FAST_CHECKS =
  'healthCheck: { path: /health, intervalMs: 100, timeoutMs: 50, healthyThreshold: 2, unhealthyThreshold: 2 }\n';

function service(name: string, urls: string[], extra = ''): string {
  const targets = urls.map((u) => `{ url: "${u}" }`).join(', ');
  return `name: ${name}\ntargets: [${targets}]\n${extra}routes:\n  - path: /api/${name}/*\n`;
}

function label(url: string): string {
  return new URL(url).host;
}

interface ErrorJson {
  statusCode: number;
  error: string;
  message: string;
  requestId: string;
}

/** The contract's error body, checked against the response's own request id. */
function expectErrorBody(r: Reply, status: number, error: string, message: RegExp): void {
  expect(r.status).toBe(status);
  expect(r.headers['content-type']).toMatch(/^application\/json/);
  const body = JSON.parse(r.body) as ErrorJson;
  expect(body).toEqual({
    statusCode: status,
    error,
    message: expect.stringMatching(message),
    requestId: r.headers['x-request-id'],
  });
}

interface ReadyBody {
  status: string;
  details: {
    upstreams: {
      services: Record<
        string,
        { circuit: string; targets: { target: string; healthy: boolean }[] }
      >;
    };
  };
}

describe('Resilience', () => {
  let gw: TestGateway;
  let failing: TestBackend;
  let hangingForBreaker: TestBackend;
  let hanging: TestBackend;
  let checkedA: CheckedBackend;
  let checkedB: CheckedBackend;
  let checkedC: CheckedBackend;
  let checkedD: CheckedBackend;
  let retryEcho: TestBackend;
  let postEcho: TestBackend;
  let stale: StaleSocketBackend;
  let trickle: TrickleBackend;
  let refused: string[];

  const get = (path: string) => call(gw.port, path);
  const logged = (msg: string, fields: Record<string, unknown>) =>
    gw.logs.filter((l) => l.msg === msg && Object.entries(fields).every(([k, v]) => l[k] === v));
  const ready = async (): Promise<ReadyBody> => JSON.parse((await get('/ready')).body) as ReadyBody;

  beforeAll(async () => {
    [failing, hangingForBreaker, hanging, retryEcho, postEcho] = await Promise.all([
      startBackend({ kind: 'echo' }),
      startBackend({ kind: 'hang' }),
      startBackend({ kind: 'hang' }),
      startBackend({ kind: 'echo' }),
      startBackend({ kind: 'echo' }),
    ]);
    [checkedA, checkedB, checkedC, checkedD] = await Promise.all([
      startCheckedBackend(),
      startCheckedBackend(),
      startCheckedBackend(),
      startCheckedBackend(),
    ]);
    stale = await startStaleSocketBackend();
    trickle = await startTrickleBackend(['one;', 'two;', 'three;', 'four;', 'five;'], 200);
    refused = await Promise.all(Array.from({ length: 7 }, () => refusingUrl()));
    gw = await startTestGateway({
      gateway: 'rateLimit:\n  enabled: false\n',
      services: {
        brk: service('brk', [failing.url], SMALL_BREAKER),
        tmo: service('tmo', [hangingForBreaker.url], `timeoutMs: 200\n${SMALL_BREAKER}`),
        conn: service('conn', refused.slice(0, 4), SMALL_BREAKER),
        hc: service('hc', [checkedA.url, checkedB.url], FAST_CHECKS),
        hcdown: service('hcdown', [checkedC.url, checkedD.url], FAST_CHECKS),
        pas: service('pas', [refused[4], retryEcho.url]),
        post: service('post', [refused[5], postEcho.url]),
        single: service('single', [refused[6]]),
        // A breaker that opens on any counted failure: a stale socket must not be one.
        stale: service(
          'stale',
          [stale.url],
          'circuitBreaker: { volumeThreshold: 1, errorThresholdPercentage: 1, resetTimeoutMs: 10000 }\n',
        ),
        slow: service('slow', [hanging.url], 'timeoutMs: 400\n'),
        trickle: service('trickle', [trickle.url], 'timeoutMs: 400\n'),
      },
    });
  });

  afterAll(async () => {
    await gw?.close();
    await Promise.all(
      [
        failing,
        hangingForBreaker,
        hanging,
        retryEcho,
        postEcho,
        checkedA,
        checkedB,
        checkedC,
        checkedD,
        stale,
        trickle,
      ].map((b) => b?.close()),
    );
  });

  describe('circuit breaker (in order: each test builds on the state the one before left)', () => {
    let openedAt = 0;

    it('passes the backend 500 through unchanged and opens after volumeThreshold failures', async () => {
      failing.behaviour = {
        kind: 'status',
        status: 500,
        headers: { 'Content-Type': 'text/plain', 'X-Backend-Error': 'db down' },
        body: 'backend exploded',
      };
      for (let i = 1; i <= 4; i++) {
        const r = await get('/api/brk/orders');
        expect(r.status).toBe(500);
        expect(r.body).toBe('backend exploded');
        expect(r.headers['content-type']).toBe('text/plain');
        expect(r.headers['x-backend-error']).toBe('db down');
        expect(failing.received).toHaveLength(i);
      }
      openedAt = performance.now();

      for (let i = 0; i < 3; i++) {
        const r = await get('/api/brk/orders');
        expectErrorBody(r, 503, 'Service Unavailable', /circuit open/);
        expect(r.headers['retry-after']).toMatch(/^\d+$/);
        expect(Number(r.headers['retry-after'])).toBeGreaterThanOrEqual(1);
        expect(Number(r.headers['retry-after'])).toBeLessThanOrEqual(1);
      }
      expect(failing.received).toHaveLength(4);
      expect(logged('circuit open', { service: 'brk' })).toHaveLength(1);
      expect((await ready()).details.upstreams.services.brk.circuit).toBe('open');
    });

    it('lets exactly one probe through after resetTimeoutMs; a failing probe re-opens it', async () => {
      await waitUntil(
        () => logged('circuit half-open', { service: 'brk' }).length === 1,
        2000,
        'brk half-open',
      );
      expect(performance.now() - openedAt).toBeGreaterThanOrEqual(900);
      expect((await ready()).details.upstreams.services.brk.circuit).toBe('half-open');

      const replies = await Promise.all([1, 2, 3].map(() => get('/api/brk/orders')));
      expect(replies.map((r) => r.status).sort()).toEqual([500, 503, 503]);
      expect(failing.received).toHaveLength(5);

      expect(logged('circuit open', { service: 'brk' })).toHaveLength(2);
      const r = await get('/api/brk/orders');
      expectErrorBody(r, 503, 'Service Unavailable', /circuit open/);
      expect(failing.received).toHaveLength(5);
      expect((await ready()).details.upstreams.services.brk.circuit).toBe('open');
    });

    it('closes when the half-open probe succeeds, and traffic flows again', async () => {
      failing.behaviour = { kind: 'echo' };
      await waitUntil(
        () => logged('circuit half-open', { service: 'brk' }).length === 2,
        2000,
        'brk half-open again',
      );
      const probe = await get('/api/brk/orders');
      expect(probe.status).toBe(200);
      expect(probe.headers['x-backend']).toBe('echo');
      expect(failing.received).toHaveLength(6);
      expect(logged('circuit closed', { service: 'brk' })).toHaveLength(1);
      expect((await ready()).details.upstreams.services.brk.circuit).toBe('closed');

      for (let i = 0; i < 3; i++) expect((await get('/api/brk/orders')).status).toBe(200);
      expect(failing.received).toHaveLength(9);
    });

    it('counts timeouts as failures', async () => {
      for (let i = 1; i <= 4; i++) {
        const r = await get('/api/tmo/x');
        expectErrorBody(r, 504, 'Gateway Timeout', /no response within 200 ms/);
        expect(hangingForBreaker.received).toHaveLength(i);
      }
      const r = await get('/api/tmo/x');
      expectErrorBody(r, 503, 'Service Unavailable', /circuit open/);
      expect(r.headers['retry-after']).toBe('1');
      expect(hangingForBreaker.received).toHaveLength(4);
      expect(logged('circuit open', { service: 'tmo' })).toHaveLength(1);
    });

    it("does not close a half-open breaker when the probe's client goes away", async () => {
      // The breaker on `tmo` opened in the test above; its backend still never answers.
      await waitUntil(
        () => logged('circuit half-open', { service: 'tmo' }).length === 1,
        2000,
        'tmo half-open',
      );
      const abandoned = request({ host: '127.0.0.1', port: gw.port, path: '/api/tmo/probe' });
      abandoned.on('error', () => undefined);
      abandoned.end();
      await waitUntil(() => hangingForBreaker.received.length === 5, 1000, 'the probe reached tmo');
      abandoned.destroy();
      await waitUntil(
        () => gw.logs.some((l) => l.msg === 'request' && l.service === 'tmo' && l.aborted === true),
        1000,
        'the gateway saw the client go',
      );
      // Nothing proved the backend healthy: the next call must not be let through as if it had.
      expect(logged('circuit closed', { service: 'tmo' })).toEqual([]);
      expect((await ready()).details.upstreams.services.tmo.circuit).not.toBe('closed');
    });

    it('counts refused connections as failures', async () => {
      // POSTs with a body are never retried: one attempt, one refused target, per call.
      for (let i = 0; i < 4; i++) {
        const r = await call(gw.port, '/api/conn/x', {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: '{"n":1}',
        });
        expectErrorBody(r, 502, 'Bad Gateway', /unreachable/);
      }
      expect(logged('circuit open', { service: 'conn' })).toHaveLength(1);
      expect((await ready()).details.upstreams.services.conn.circuit).toBe('open');
    });
  });

  describe('active health checks', () => {
    const hcCall = async (path: string) => {
      const r = await get(path);
      expect(r.status).toBe(200);
      return r;
    };

    it('takes a target that fails its checks out of rotation and brings it back', async () => {
      for (let i = 0; i < 4; i++) await hcCall('/api/hc/x');
      expect(checkedA.hits).toHaveLength(2);
      expect(checkedB.hits).toHaveLength(2);

      checkedA.health = 'fail';
      await waitUntil(
        () => logged('target down', { service: 'hc', target: label(checkedA.url) }).length === 1,
        1500,
        'A marked down by its checks',
      );
      const probesWhileDown = checkedA.probes;
      for (let i = 0; i < 6; i++) {
        const r = await hcCall('/api/hc/x');
        expect(r.body).toBe(`hello from ${checkedB.port}`);
      }
      expect(checkedA.hits).toHaveLength(2);
      expect(checkedB.hits).toHaveLength(8);
      const hc = (await ready()).details.upstreams.services.hc;
      expect(hc.targets).toEqual([
        { target: label(checkedA.url), healthy: false },
        { target: label(checkedB.url), healthy: true },
      ]);

      checkedA.health = 'ok';
      await waitUntil(
        () => logged('target up', { service: 'hc', target: label(checkedA.url) }).length === 1,
        1500,
        'A back up after healthyThreshold checks',
      );
      expect(checkedA.probes).toBeGreaterThanOrEqual(probesWhileDown + 2);
      for (let i = 0; i < 4; i++) await hcCall('/api/hc/x');
      expect(checkedA.hits).toHaveLength(4);
      expect(checkedB.hits).toHaveLength(10);
    });

    it('answers 503 at once, forwarding nothing, when every target is down', async () => {
      checkedC.health = 'fail';
      checkedD.health = 'hang'; // a check that gets no answer within timeoutMs fails too
      await waitUntil(
        () => logged('target down', { service: 'hcdown' }).length === 2,
        1500,
        'both hcdown targets down',
      );
      const r = await get('/api/hcdown/x');
      expectErrorBody(r, 503, 'Service Unavailable', /no healthy target/);
      expect(r.ms).toBeLessThan(100);
      expect(checkedC.hits).toEqual([]);
      expect(checkedD.hits).toEqual([]);
    });
  });

  describe('passive health and retries', () => {
    it('retries a refused GET once on the other target and takes the refused one out', async () => {
      // Round robin starts at the first target, the refusing one.
      const first = await get('/api/pas/items?x=1');
      expect(first.status).toBe(200);
      expect(first.headers['x-backend']).toBe('echo');
      expect(retryEcho.received).toHaveLength(1);
      expect(retryEcho.received[0].url).toBe('/api/pas/items?x=1');
      expect(logged('target down', { service: 'pas', target: label(refused[4]) })).toHaveLength(1);

      for (let i = 0; i < 4; i++) expect((await get('/api/pas/items')).status).toBe(200);
      expect(retryEcho.received).toHaveLength(5);
      const pas = (await ready()).details.upstreams.services.pas;
      expect(pas.targets).toEqual([
        { target: label(refused[4]), healthy: false },
        { target: label(retryEcho.url), healthy: true },
      ]);
    });

    it('never retries a POST with a body: 502', async () => {
      const post = () =>
        call(gw.port, '/api/post/orders', {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: '{"order":42}',
        });
      const first = await post();
      expectErrorBody(first, 502, 'Bad Gateway', /unreachable \(ECONNREFUSED\)/);
      expect(postEcho.received).toHaveLength(0);

      const second = await post();
      expect(second.status).toBe(200);
      expect(postEcho.received).toHaveLength(1);
      expect(postEcho.received[0].body.toString()).toBe('{"order":42}');
    });

    it('answers a GET on a lone refused target 502, then 503 while it rests', async () => {
      const first = await get('/api/single/x');
      expectErrorBody(first, 502, 'Bad Gateway', /unreachable \(ECONNREFUSED\)/);
      const second = await get('/api/single/x');
      expectErrorBody(second, 503, 'Service Unavailable', /no healthy target/);
    });

    it('retries a GET whose reused keep-alive socket was closed, without marking the target down', async () => {
      const first = await get('/api/stale/a');
      expect(first.status).toBe(200);
      expect(first.body).toBe('answer 1');
      expect(stale.closedUnanswered).toBe(0);

      for (let i = 2; i <= 4; i++) {
        const r = await get('/api/stale/a');
        expect(r.status).toBe(200);
        expect(r.body).toBe(`answer ${i}`);
        expect(stale.answered).toBe(i);
        // The gateway reused its pooled socket, found it closed, and sent the call again.
        expect(stale.closedUnanswered).toBe(i - 1);
      }
      expect(logged('target down', { service: 'stale' })).toEqual([]);
      expect(logged('circuit open', { service: 'stale' })).toEqual([]);
      const s = (await ready()).details.upstreams.services.stale;
      expect(s).toEqual({
        circuit: 'closed',
        targets: [{ target: label(stale.url), healthy: true }],
      });
    });

    it('does not retry a POST on a closed keep-alive socket (502) and keeps the target up', async () => {
      const r = await call(gw.port, '/api/stale/a', {
        method: 'POST',
        headers: { 'Content-Type': 'text/plain' },
        body: 'once only',
      });
      expectErrorBody(r, 502, 'Bad Gateway', /unreachable/);
      expect(stale.answered).toBe(4);
      expect(stale.closedUnanswered).toBe(4);

      const next = await get('/api/stale/a');
      expect(next.status).toBe(200);
      expect(next.body).toBe('answer 5');
      expect(logged('target down', { service: 'stale' })).toEqual([]);
    });
  });

  describe('upstream deadline', () => {
    it('answers 504 when no response head arrives within timeoutMs (400 ms ± 10%)', async () => {
      const r = await get('/api/slow/x');
      expectErrorBody(r, 504, 'Gateway Timeout', /no response within 400 ms/);
      expect(r.ms).toBeGreaterThanOrEqual(360);
      expect(r.ms).toBeLessThanOrEqual(440);
      expect(hanging.received).toHaveLength(1);
    });

    it('does not cut a body that trickles in for longer than timeoutMs', async () => {
      const r = await get('/api/trickle/x');
      expect(r.status).toBe(200);
      expect(r.headers['x-trickle']).toBe('yes');
      expect(r.body).toBe('one;two;three;four;five;');
      expect(r.ms).toBeGreaterThanOrEqual(950);
      expect(trickle.hits).toBe(1);
    });
  });
});
