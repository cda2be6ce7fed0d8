// Streams through the gateway (contract, Protocols: Streams): server-sent events pass event
// by event, a service's timeoutMs bounds the response head only, and streamIdleTimeoutMs
// cuts a body that goes silent.
import { createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';

import { listen, type Listening } from './support/listen';
import { poll } from './support/poll';
import { startTestGateway, type TestGateway } from './support/test-gateway';

interface Streamed {
  status: number;
  headers: IncomingMessage['headers'];
  /** Each chunk as it arrived, with ms since the request was sent. */
  chunks: { at: number; text: string }[];
  /** Resolves when the response ends or is cut: `complete` false when cut. */
  done: Promise<{ complete: boolean; at: number }>;
}

/** Sends a GET and resolves at the response head; chunks keep arriving into `chunks`. */
function stream(port: number, path: string): Promise<Streamed> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      const chunks: Streamed['chunks'] = [];
      res.setEncoding('utf8');
      res.on('data', (text: string) => chunks.push({ at: performance.now() - started, text }));
      const done = new Promise<{ complete: boolean; at: number }>((ok) => {
        res.once('end', () => ok({ complete: true, at: performance.now() - started }));
        res.once('aborted', () => ok({ complete: false, at: performance.now() - started }));
        res.once('error', () => ok({ complete: false, at: performance.now() - started }));
      });
      resolve({ status: res.statusCode ?? 0, headers: res.headers, chunks, done });
    });
    req.on('error', reject);
    req.end();
  });
}

describe('Streams (e2e)', () => {
  let backend: Listening;
  let gw: TestGateway;
  /** The test's signal for the SSE backend to send its second event. */
  let sendSecond: (() => void) | undefined;
  let silentClosed = false;

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    if (req.url === '/events') {
      res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store' });
      res.write('id: 1\ndata: first\n\n');
      sendSecond = () => res.end('id: 2\ndata: second\n\n');
      return;
    }
    if (req.url === '/slow-body') {
      // The head at once, then a chunk every 200 ms for 1 s: longer than timeoutMs (300).
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      let n = 0;
      const t = setInterval(() => {
        n += 1;
        if (n === 5) {
          clearInterval(t);
          res.end(`chunk-${n}\n`);
        } else res.write(`chunk-${n}\n`);
      }, 200);
      return;
    }
    if (req.url === '/silent') {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.write('hello\n');
      res.on('close', () => (silentClosed = true));
      return; // and nothing more
    }
    res.writeHead(404).end();
  };

  beforeAll(async () => {
    backend = await listen(createServer(handler));
    gw = await startTestGateway({
      services: {
        st: `
name: st
targets: [{ url: "${backend.url}" }]
timeoutMs: 300
streamIdleTimeoutMs: 600
routes: [{ path: /api/st/*, rewrite: /* }]
`,
      },
    });
  });

  afterAll(async () => {
    await gw?.close();
    await backend?.close();
  });

  it('passes server-sent events one by one: the first arrives before the second is sent', async () => {
    const s = await stream(gw.port, '/api/st/events');
    expect(s.status).toBe(200);
    expect(s.headers['content-type']).toBe('text/event-stream');
    expect(s.headers['content-length']).toBeUndefined();
    await poll(() => (s.chunks.length > 0 ? true : undefined), 2000, 'the first event');
    expect(s.chunks.map((c) => c.text).join('')).toBe('id: 1\ndata: first\n\n');
    expect(sendSecond).toBeDefined();
    sendSecond!();
    const end = await s.done;
    expect(end.complete).toBe(true);
    expect(s.chunks.map((c) => c.text).join('')).toBe(
      'id: 1\ndata: first\n\nid: 2\ndata: second\n\n',
    );
  });

  it('bounds only the response head with timeoutMs: a 1 s body after a fast head is whole', async () => {
    const s = await stream(gw.port, '/api/st/slow-body');
    expect(s.status).toBe(200);
    const end = await s.done;
    expect(end.complete).toBe(true);
    expect(end.at).toBeGreaterThan(900);
    expect(s.chunks.map((c) => c.text).join('')).toBe(
      'chunk-1\nchunk-2\nchunk-3\nchunk-4\nchunk-5\n',
    );
    // Chunks arrived as sent, not all at the end.
    expect(s.chunks[0].at).toBeLessThan(end.at - 500);
  });

  it('cuts a body silent for streamIdleTimeoutMs: closed without the last chunk, upstream closed', async () => {
    const s = await stream(gw.port, '/api/st/silent');
    expect(s.status).toBe(200);
    // Never cut within 3 s: the test fails instead of waiting forever.
    const end = await Promise.race([
      s.done,
      new Promise<{ complete: boolean; at: number }>((ok) =>
        setTimeout(() => ok({ complete: true, at: 3000 }), 3000),
      ),
    ]);
    expect(end.complete).toBe(false);
    expect(s.chunks.map((c) => c.text).join('')).toBe('hello\n');
    // Between streamIdleTimeoutMs (600) and 2 s after it.
    expect(end.at).toBeGreaterThanOrEqual(590);
    expect(end.at).toBeLessThan(2600);
    await poll(() => (silentClosed ? true : undefined), 2000, 'the backend to see the close');
  });
});
