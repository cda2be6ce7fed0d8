// Tracing (contract, Tracing): the real gateway exports to a real OTLP/HTTP receiver; real
// backends see the traceparent the gateway sends. Export is flushed quickly
// (OTEL_BSP_SCHEDULE_DELAY) and the specs poll the receiver.
import { randomBytes } from 'node:crypto';

import { startBackend, type TestBackend } from './support/backend';
import { type OtlpReceiver, type ReceivedSpan, startOtlpReceiver } from './support/otlp-receiver';
import { poll } from './support/poll';
import { rawRequest } from './support/raw-http';
import { refusingUrl } from './support/resilience-kit';
import { startTestGateway, type TestGateway } from './support/test-gateway';

const SERVER = 2;
const CLIENT = 3;
const ERROR = 2;

const services = (backend: string, refused: string) => ({
  api: `name: api\ntargets:\n  - url: ${backend}\nroutes:\n  - path: /api/t/:id\n  - path: /api/fail/*\n`,
  down: `name: down\ntargets:\n  - url: ${refused}\n  - url: ${backend}\nroutes:\n  - path: /api/retry/*\n`,
});

describe('Tracing (OTLP/HTTP)', () => {
  let receiver: OtlpReceiver;
  let backend: TestBackend;
  let gw: TestGateway;
  let refused: string;

  const get = (path: string, headers: Record<string, string> = {}) =>
    rawRequest({ port: gw.port, path, headers });
  const spansOf = (traceId: string, n: number) =>
    poll(
      () => {
        const found = receiver.spans.filter((s) => s.traceId === traceId);
        return found.length >= n ? found : undefined;
      },
      5000,
      `${n} spans of trace ${traceId}`,
    );
  const one = (spans: ReceivedSpan[], kind: number) => {
    const found = spans.filter((s) => s.kind === kind);
    expect(found).toHaveLength(1);
    return found[0];
  };

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    backend = await startBackend();
    refused = await refusingUrl();
    gw = await startTestGateway(
      {
        gateway: 'rateLimit:\n  enabled: false\n',
        services: services(backend.url, refused),
      },
      {
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
        OTEL_BSP_SCHEDULE_DELAY: '50',
        OTEL_SERVICE_NAME: 'edge-gw',
      },
    );
  });

  afterAll(async () => {
    await gw?.close();
    await backend?.close();
    await receiver?.close();
  });

  it("continues the client's trace; the backend's parent is the exported CLIENT span", async () => {
    const traceId = randomBytes(16).toString('hex');
    const parent = randomBytes(8).toString('hex');
    backend.received.length = 0;
    const r = await get('/api/t/42?x=1', {
      traceparent: `00-${traceId}-${parent}-01`,
      tracestate: 'vendor=abc',
    });
    expect(r.status).toBe(200);
    const sent = backend.received[0].headers;
    const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(String(sent.traceparent));
    expect(m?.[1]).toBe(traceId);
    expect(sent.tracestate).toBe('vendor=abc');

    const spans = await spansOf(traceId, 2);
    const server = one(spans, SERVER);
    const client = one(spans, CLIENT);
    expect(server.parentSpanId).toBe(parent);
    expect(client.parentSpanId).toBe(server.spanId);
    expect(m?.[2]).toBe(client.spanId);
    expect(server.name).toBe('GET /api/t/:id');
    expect(server.serviceName).toBe('edge-gw');
    expect(server.attributes).toMatchObject({
      'http.request.method': 'GET',
      'http.route': '/api/t/:id',
      'http.response.status_code': 200,
      'url.path': '/api/t/42',
      'client.address': '127.0.0.1',
      'gateway.service': 'api',
      'gateway.target': new URL(backend.url).host,
    });
    expect(client.attributes).toMatchObject({
      'http.request.method': 'GET',
      'http.response.status_code': 200,
      'server.address': '127.0.0.1',
      'server.port': backend.port,
    });
    expect(server.statusCode).toBe(0);
    expect(receiver.contentTypes[0]).toBe('application/x-protobuf');
  });

  it('starts a trace when the client sent none, and puts its ids in the access log', async () => {
    backend.received.length = 0;
    const r = await get('/api/t/7');
    expect(r.status).toBe(200);
    const requestId = String(r.headers['x-request-id']);
    const tp = String(backend.received[0].headers.traceparent);
    const [, traceId, spanId] = tp.split('-');
    const spans = await spansOf(traceId, 2);
    const server = one(spans, SERVER);
    expect(server.parentSpanId).toBe('');
    expect(one(spans, CLIENT).spanId).toBe(spanId);
    const line = await poll(
      () => gw.logs.find((l) => l.requestId === requestId && l.msg === 'request'),
      2000,
      'the access line',
    );
    expect(line).toMatchObject({ traceId, spanId: server.spanId });
  });

  it('marks a 5xx from the backend as an error on both spans', async () => {
    backend.behaviour = { kind: 'status', status: 502, body: 'bad' };
    try {
      const r = await get('/api/fail/x');
      expect(r.status).toBe(502);
    } finally {
      backend.behaviour = { kind: 'echo' };
    }
    const tp = String(backend.received[backend.received.length - 1].headers.traceparent);
    const spans = await spansOf(tp.split('-')[1], 2);
    expect(one(spans, SERVER)).toMatchObject({
      name: 'GET /api/fail/*',
      statusCode: ERROR,
      attributes: expect.objectContaining({ 'http.response.status_code': 502 }) as unknown,
    });
    expect(one(spans, CLIENT)).toMatchObject({ statusCode: ERROR });
  });

  it('records a retry as two CLIENT spans under one SERVER span', async () => {
    // Round robin: one of two calls starts on the refusing target and is retried.
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      const traceId = randomBytes(16).toString('hex');
      ids.push(traceId);
      const r = await get('/api/retry/x', {
        traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01`,
      });
      expect(r.status).toBe(200);
    }
    await poll(
      () =>
        ids.every((id) => receiver.spans.some((s) => s.traceId === id && s.kind === SERVER))
          ? true
          : undefined,
      5000,
      'both SERVER spans',
    );
    const retried = ids
      .map((id) => receiver.spans.filter((s) => s.traceId === id))
      .find((spans) => spans.filter((s) => s.kind === CLIENT).length === 2);
    expect(retried).toBeDefined();
    const server = one(retried ?? [], SERVER);
    const clients = (retried ?? []).filter((s) => s.kind === CLIENT);
    expect(clients.every((c) => c.parentSpanId === server.spanId)).toBe(true);
    const failed = clients.find((c) => c.statusCode === ERROR);
    expect(failed?.attributes['error.type']).toBe('refused');
    expect(failed?.attributes['server.port']).toBe(Number(new URL(refused).port));
    expect(
      clients.some((c) => c.statusCode === 0 && c.attributes['http.response.status_code'] === 200),
    ).toBe(true);
  });

  it("an untrusted peer's sampled=0 does not decide: the trace is continued and sampled", async () => {
    const traceId = randomBytes(16).toString('hex');
    backend.received.length = 0;
    const r = await get('/api/t/1', {
      traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-00`,
    });
    expect(r.status).toBe(200);
    expect(String(backend.received[0].headers.traceparent)).toMatch(
      new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`),
    );
    expect((await spansOf(traceId, 2)).map((s) => s.kind).sort()).toEqual([SERVER, CLIENT]);
  });

  it('starts its own trace for a malformed or all-zero traceparent, and never forwards it', async () => {
    for (const bad of [
      '00-00000000000000000000000000000000-0000000000000000-01',
      'ff-' + 'a'.repeat(32) + '-' + 'b'.repeat(16) + '-01',
      '00-' + 'A'.repeat(32) + '-' + 'b'.repeat(16) + '-01',
      'x'.repeat(2000),
    ]) {
      backend.received.length = 0;
      const r = await get('/api/t/9', { traceparent: bad, tracestate: 'k=v' });
      expect(r.status).toBe(200);
      const sent = String(backend.received[0].headers.traceparent);
      expect(sent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
      expect(sent).not.toBe(bad);
      const traceId = sent.split('-')[1];
      expect(traceId).not.toBe('0'.repeat(32));
      const server = one(await spansOf(traceId, 2), SERVER);
      expect(server.parentSpanId).toBe('');
      // No valid parent: the client's tracestate goes nowhere either.
      expect(backend.received[0].headers.tracestate).toBeUndefined();
    }
  });

  it('names an unmatched call by its method alone (404), with no CLIENT span', async () => {
    const traceId = randomBytes(16).toString('hex');
    const r = await get('/nowhere', {
      traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01`,
    });
    expect(r.status).toBe(404);
    const [server] = await spansOf(traceId, 1);
    expect(server).toMatchObject({ name: 'GET', kind: SERVER, statusCode: 0 });
    expect(server.attributes['http.route']).toBeUndefined();
    await new Promise((res) => setTimeout(res, 200));
    expect(receiver.spans.filter((s) => s.traceId === traceId)).toHaveLength(1);
  });
});

describe('Tracing off and http/json', () => {
  it('sends nothing and adds no traceparent without an endpoint', async () => {
    const backend = await startBackend();
    const gw = await startTestGateway({
      gateway: 'rateLimit:\n  enabled: false\n',
      services: {
        api: `name: api\ntargets:\n  - url: ${backend.url}\nroutes:\n  - path: /api/x/*\n`,
      },
    });
    try {
      const r = await rawRequest({ port: gw.port, path: '/api/x/y' });
      expect(r.status).toBe(200);
      expect(backend.received[0].headers.traceparent).toBeUndefined();
      const line = gw.logs.find((l) => l.msg === 'request');
      expect(line?.traceId).toBeUndefined();
    } finally {
      await gw.close();
      await backend.close();
    }
  });

  it('honours sampled=0 from a peer inside trustProxy: nothing exported, -00 upstream', async () => {
    const receiver = await startOtlpReceiver();
    const backend = await startBackend();
    const gw = await startTestGateway(
      {
        gateway: 'server:\n  trustProxy: [127.0.0.0/8]\nrateLimit:\n  enabled: false\n',
        services: {
          api: `name: api\ntargets:\n  - url: ${backend.url}\nroutes:\n  - path: /api/x/*\n`,
        },
      },
      { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, OTEL_BSP_SCHEDULE_DELAY: '20' },
    );
    const traceId = randomBytes(16).toString('hex');
    try {
      const r = await rawRequest({
        port: gw.port,
        path: '/api/x/y',
        headers: { traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-00` },
      });
      expect(r.status).toBe(200);
      expect(String(backend.received[0].headers.traceparent)).toMatch(
        new RegExp(`^00-${traceId}-[0-9a-f]{16}-00$`),
      );
      await new Promise((res) => setTimeout(res, 300));
    } finally {
      await gw.close();
      await backend.close();
    }
    expect(receiver.spans).toEqual([]);
    await receiver.close();
  });

  it('exports OTLP/JSON when asked, and flushes at shutdown', async () => {
    const receiver = await startOtlpReceiver();
    const backend = await startBackend();
    const gw = await startTestGateway(
      {
        gateway: 'rateLimit:\n  enabled: false\n',
        services: {
          api: `name: api\ntargets:\n  - url: ${backend.url}\nroutes:\n  - path: /api/x/*\n`,
        },
      },
      {
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${receiver.endpoint}/v1/traces`,
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
        // Long: only the flush at shutdown exports.
        OTEL_BSP_SCHEDULE_DELAY: '60000',
      },
    );
    try {
      expect((await rawRequest({ port: gw.port, path: '/api/x/y' })).status).toBe(200);
    } finally {
      await gw.close();
      await backend.close();
    }
    expect(receiver.contentTypes).toEqual(['application/json']);
    expect(receiver.spans.map((s) => [s.kind, s.serviceName])).toEqual(
      expect.arrayContaining([
        [SERVER, 'api-gateway'],
        [CLIENT, 'api-gateway'],
      ]),
    );
    await receiver.close();
  });
});
