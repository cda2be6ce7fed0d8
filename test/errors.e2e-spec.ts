import request from 'supertest';

import { startBackend, type TestBackend } from './support/backend';
import { rawRequest, type RawResponse, rawSocket } from './support/raw-http';
import { startTestGateway, type TestGateway } from './support/test-gateway';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const REASONS: Record<number, string[]> = {
  400: ['Bad Request'],
  404: ['Not Found'],
  405: ['Method Not Allowed'],
  413: ['Payload Too Large', 'Content Too Large'],
  414: ['URI Too Long'],
  431: ['Request Header Fields Too Large'],
  502: ['Bad Gateway'],
  504: ['Gateway Timeout'],
};

// Small limits so that every limit can be passed cheaply; rate limiting off so that the
// calls of this file never meet a 429.
const GATEWAY = [
  'server:',
  '  bodyLimit: 1kb',
  '  maxUrlLength: 1kb',
  '  maxHeaderSize: 1kb',
  '  requestTimeoutMs: 900',
  'rateLimit:',
  '  enabled: false',
  '',
].join('\n');

function service(name: string, url: string, path: string, extra = ''): string {
  return `name: ${name}\ntargets: [{ url: "${url}" }]\n${extra}routes:\n  - path: ${path}\n`;
}

/** The contract's error body, checked whole; returns the parsed body. */
function expectGatewayError(
  status: number,
  got: { status: number; headers: Record<string, unknown>; body: string },
): Record<string, unknown> {
  expect(got.status).toBe(status);
  expect(got.headers['content-type']).toMatch(/^application\/json\b/);
  const id = got.headers['x-request-id'];
  expect(typeof id).toBe('string');
  const body = JSON.parse(got.body) as Record<string, unknown>;
  expect(Object.keys(body).sort()).toEqual(['error', 'message', 'requestId', 'statusCode']);
  expect(body.statusCode).toBe(status);
  expect(REASONS[status]).toContain(body.error);
  expect(typeof body.message).toBe('string');
  expect((body.message as string).length).toBeGreaterThan(0);
  expect(body.requestId).toBe(id);
  // No internals: no stack frames, no source file names.
  expect(got.body).not.toMatch(/\n\s+at |\bat [\w.<>]+ \(|\.(ts|js):\d+|node_modules/);
  return body;
}

function fromRaw(r: RawResponse): {
  status: number;
  headers: Record<string, unknown>;
  body: string;
} {
  return { status: r.status, headers: r.headers, body: r.body.toString() };
}

describe('Errors', () => {
  let good: TestBackend;
  let hang: TestBackend;
  let reset: TestBackend;
  let refusedUrl: string;
  let gw: TestGateway;

  beforeAll(async () => {
    let gone: TestBackend;
    [good, hang, reset, gone] = await Promise.all([
      startBackend(),
      startBackend({ kind: 'hang' }),
      startBackend({ kind: 'reset' }),
      startBackend(),
    ]);
    // Started and closed: its port now refuses connections.
    refusedUrl = gone.url;
    await gone.close();
    gw = await startTestGateway({
      gateway: GATEWAY,
      services: {
        good: [
          `name: good\ntargets: [{ url: "${good.url}" }]\nroutes:`,
          `  - path: /api/x/*`,
          `  - path: /api/m/*\n    methods: [GET, POST]`,
          '',
        ].join('\n'),
        slow: service('slow', hang.url, '/api/slow/*', 'timeoutMs: 300\n'),
        slowdefault: service('slowdefault', hang.url, '/api/slowdefault/*'),
        // One service per test: a refused target is then marked down (503 for 10 s).
        refusedget: service('refusedget', refusedUrl, '/api/refused-get/*'),
        refusedpost: service('refusedpost', refusedUrl, '/api/refused-post/*'),
        retry: [
          `name: retry\ntargets: [{ url: "${refusedUrl}" }, { url: "${good.url}" }]\nroutes:`,
          '  - path: /api/retry/*',
          '',
        ].join('\n'),
        reset: service('reset', reset.url, '/api/reset/*'),
      },
    });
  });

  afterAll(async () => {
    await gw.close();
    await Promise.all([good.close(), hang.close(), reset.close()]);
  });

  beforeEach(() => {
    for (const b of [good, hang, reset]) b.received.splice(0);
  });

  /** The process keeps serving: a good call after the error works end to end. */
  async function expectStillServing(): Promise<void> {
    const before = good.received.length;
    const res = await request(gw.url).get('/api/x/after').set('X-Request-ID', 'after-1');
    expect(res.status).toBe(200);
    expect(res.headers['x-request-id']).toBe('after-1');
    expect(res.headers['x-backend']).toBe('echo');
    expect(good.received).toHaveLength(before + 1);
    expect(good.received[before].url).toBe('/api/x/after');
  }

  describe('400', () => {
    it.each(['/api/x/%zz', '/api/x/%2', '/api/x/a%', '/api/x/%g0/y'])(
      'answers invalid percent-encoding (%s) with 400 and forwards nothing',
      async (path) => {
        const res = await rawRequest({ port: gw.port, path });
        expectGatewayError(400, fromRaw(res));
        expect(good.received).toHaveLength(0);
        await expectStillServing();
      },
    );

    it('answers a head the parser refuses with the JSON 400 from the clientError handler', async () => {
      const reply = await rawSocket(gw.port, 'GARBAGE\r\n\r\n');
      expect(reply.text.startsWith('HTTP/1.1 400 ')).toBe(true);
      const body = expectGatewayError(400, reply);
      expect(body.requestId).toMatch(UUID);
      expect(good.received).toHaveLength(0);
      await expectStillServing();
    });
  });

  describe('404', () => {
    it.each(['/nope', '/', '/api', '/api/y/1', '/API/x/1'])(
      'answers a path no route matches (%s) with 404',
      async (path) => {
        const res = await rawRequest({ port: gw.port, path });
        expectGatewayError(404, fromRaw(res));
        expect(res.headers['x-request-id']).toMatch(UUID);
        expect(good.received).toHaveLength(0);
        await expectStillServing();
      },
    );

    it("puts the client's sane X-Request-ID in the error body", async () => {
      const res = await request(gw.url).get('/nope').set('X-Request-ID', 'trace-404');
      const body = expectGatewayError(404, { ...res, body: res.text });
      expect(body.requestId).toBe('trace-404');
      expect(good.received).toHaveLength(0);
    });
  });

  describe('405', () => {
    it.each(['PUT', 'DELETE', 'PATCH', 'OPTIONS'])(
      'answers %s on a GET/POST route with 405 and Allow including HEAD',
      async (method) => {
        const res = await rawRequest({ port: gw.port, method, path: '/api/m/1' });
        expectGatewayError(405, fromRaw(res));
        const allow = String(res.headers.allow)
          .split(',')
          .map((m) => m.trim())
          .sort();
        expect(allow).toEqual(['GET', 'HEAD', 'POST']);
        expect(good.received).toHaveLength(0);
        await expectStillServing();
      },
    );

    it('lets HEAD through on a route that lists GET', async () => {
      const res = await rawRequest({ port: gw.port, method: 'HEAD', path: '/api/m/1' });
      expect(res.status).toBe(200);
      expect(res.headers['x-backend']).toBe('echo');
      expect(good.received).toHaveLength(1);
      expect(good.received[0].method).toBe('HEAD');
    });
  });

  describe('413', () => {
    it('accepts a body of exactly bodyLimit', async () => {
      const res = await rawRequest({
        port: gw.port,
        method: 'POST',
        path: '/api/x/upload',
        headers: { 'Content-Length': 1024 },
        body: Buffer.alloc(1024, 0x61),
      });
      expect(res.status).toBe(200);
      expect(good.received).toHaveLength(1);
      expect(good.received[0].body.length).toBe(1024);
    });

    it('answers a Content-Length over bodyLimit with 413 and forwards nothing', async () => {
      const res = await rawRequest({
        port: gw.port,
        method: 'POST',
        path: '/api/x/upload',
        headers: { 'Content-Length': 2048 },
        body: Buffer.alloc(2048, 0x61),
      });
      expectGatewayError(413, fromRaw(res));
      expect(res.headers.connection).toBe('close');
      expect(good.received).toHaveLength(0);
      await expectStillServing();
    });

    it('answers at once, before any body byte, when Content-Length is over bodyLimit', async () => {
      // The head alone: the gateway must not wait for the 10 MB it announces.
      const reply = await rawSocket(
        gw.port,
        'POST /api/x/upload HTTP/1.1\r\nHost: gw\r\nContent-Length: 10485760\r\n\r\n',
      );
      expectGatewayError(413, reply);
      expect(good.received).toHaveLength(0);
      await expectStillServing();
    });

    it('answers a chunked body over bodyLimit with 413 and the backend never gets it all', async () => {
      // The backend answers only once the whole body has arrived, so the gateway's 413 is
      // the answer (no backend head can have gone to the client first).
      const chunks = Array.from({ length: 64 }, (_, i) => Buffer.alloc(1024, 0x41 + (i % 26)));
      const res = await rawRequest({
        port: gw.port,
        method: 'POST',
        path: '/api/x/upload',
        headers: { 'Transfer-Encoding': 'chunked', 'Content-Type': 'application/octet-stream' },
        chunks,
      });
      expectGatewayError(413, fromRaw(res));
      expect(good.received).toHaveLength(0);
      await expectStillServing();
    });
  });

  describe('414', () => {
    it('accepts a URL of exactly maxUrlLength', async () => {
      const path = '/api/x/' + 'u'.repeat(1024 - '/api/x/'.length);
      expect(path).toHaveLength(1024);
      const res = await rawRequest({ port: gw.port, path });
      expect(res.status).toBe(200);
      expect(good.received).toHaveLength(1);
      expect(good.received[0].url).toBe(path);
    });

    it('answers a URL over maxUrlLength with 414 and forwards nothing', async () => {
      const path = '/api/x/' + 'u'.repeat(1100);
      const res = await rawRequest({ port: gw.port, path });
      expectGatewayError(414, fromRaw(res));
      expect(good.received).toHaveLength(0);
      await expectStillServing();
    });

    it('counts the query string in the URL length', async () => {
      const res = await rawRequest({ port: gw.port, path: '/api/x/q?' + 'q'.repeat(1100) });
      expectGatewayError(414, fromRaw(res));
      expect(good.received).toHaveLength(0);
    });
  });

  describe('431', () => {
    it('accepts a header block under maxHeaderSize', async () => {
      const reply = await rawSocket(
        gw.port,
        `GET /api/x/h HTTP/1.1\r\nHost: gw\r\nX-Pad: ${'p'.repeat(900)}\r\nConnection: close\r\n\r\n`,
      );
      expect(reply.status).toBe(200);
      expect(good.received).toHaveLength(1);
      expect(good.received[0].headers['x-pad']).toHaveLength(900);
    });

    it('answers headers over maxHeaderSize (under the parser limit) with 431', async () => {
      const res = await rawRequest({
        port: gw.port,
        path: '/api/x/h',
        headers: { 'X-Pad': 'p'.repeat(1100) },
      });
      expectGatewayError(431, fromRaw(res));
      expect(good.received).toHaveLength(0);
      await expectStillServing();
    });

    it.each([
      ['headers', `GET /api/x/h HTTP/1.1\r\nHost: gw\r\nX-Pad: ${'p'.repeat(3000)}\r\n\r\n`],
      ['the URL', `GET /api/x/${'u'.repeat(3000)} HTTP/1.1\r\nHost: gw\r\n\r\n`],
    ])(
      'answers a head whose %s pass both limits together with the JSON 431',
      async (_what, head) => {
        const reply = await rawSocket(gw.port, head);
        expect(reply.text.startsWith('HTTP/1.1 431 ')).toBe(true);
        const body = expectGatewayError(431, reply);
        expect(body.requestId).toMatch(UUID);
        expect(reply.headers['content-length']).toBe(String(Buffer.byteLength(reply.body)));
        expect(good.received).toHaveLength(0);
        await expectStillServing();
      },
    );
  });

  describe('502', () => {
    it.each([
      ['GET (retryable, but there is no other target)', 'GET', '/api/refused-get/x'],
      ['POST (never retried)', 'POST', '/api/refused-post/x'],
    ])('answers a refused connection with 502: %s', async (_name, method, path) => {
      const res = await rawRequest({ port: gw.port, method, path });
      const body = expectGatewayError(502, fromRaw(res));
      expect(body.message).not.toContain(refusedUrl);
      await expectStillServing();
    });

    it('retries a bodiless GET whose connection was refused once on the other target', async () => {
      // Round-robin over [refused, good]: one of two calls is sent to the refused target
      // first, so both succeeding means that one was retried.
      for (const n of [1, 2]) {
        const res = await rawRequest({ port: gw.port, path: `/api/retry/${n}` });
        expect(res.status).toBe(200);
        expect(res.headers['x-backend']).toBe('echo');
      }
      expect(good.received.map((r) => r.url)).toEqual(['/api/retry/1', '/api/retry/2']);
    });

    it('answers a backend that resets the socket with 502', async () => {
      const res = await rawRequest({ port: gw.port, method: 'POST', path: '/api/reset/x' });
      expectGatewayError(502, fromRaw(res));
      // It got the request, then cut the connection without a byte of answer.
      expect(reset.received).toHaveLength(1);
      expect(reset.received[0].url).toBe('/api/reset/x');
      await expectStillServing();
    });
  });

  describe('504', () => {
    it("answers a hanging backend with 504 at the service's timeoutMs", async () => {
      const res = await rawRequest({ port: gw.port, path: '/api/slow/x' });
      expectGatewayError(504, fromRaw(res));
      expect(res.ms).toBeGreaterThanOrEqual(270);
      expect(res.ms).toBeLessThan(600);
      expect(hang.received).toHaveLength(1);
      expect(hang.received[0].url).toBe('/api/slow/x');
      await expectStillServing();
    });

    it('uses server.requestTimeoutMs when the service sets no timeoutMs', async () => {
      const res = await rawRequest({ port: gw.port, path: '/api/slowdefault/x' });
      expectGatewayError(504, fromRaw(res));
      expect(res.ms).toBeGreaterThanOrEqual(870);
      expect(res.ms).toBeLessThan(1300);
      expect(hang.received).toHaveLength(1);
      expect(hang.received[0].url).toBe('/api/slowdefault/x');
      await expectStillServing();
    });
  });
});
