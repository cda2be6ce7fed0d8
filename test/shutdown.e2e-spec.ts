import { type ChildProcess, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { Agent } from 'node:http';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

import { startBackend, type TestBackend } from './support/backend';
import { buildDist } from './support/build';
import { waitUntil } from './support/poll';
import {
  call,
  connectOnce,
  parseReply,
  rawConnection,
  startTrickleBackend,
  type TrickleBackend,
} from './support/resilience-kit';
import { startTestGateway, type TestGateway, writeConfigDir } from './support/test-gateway';

const ROOT = join(__dirname, '..');
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const PIECES = Array.from({ length: 10 }, (_, i) => `piece-${i};`);

function service(name: string, url: string): string {
  return `name: ${name}\ntargets: [{ url: "${url}" }]\nroutes:\n  - path: /api/${name}/*\n`;
}

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  at: number;
}

interface TerminusBody {
  status: string;
  info: Record<string, Record<string, unknown>>;
  error: Record<string, Record<string, unknown>>;
  details: Record<string, Record<string, unknown>>;
}

describe('Graceful shutdown of the real process (node dist/src/main.js)', () => {
  let backend: TrickleBackend;
  let dir: string;
  let child: ChildProcess | undefined;
  let exited: Promise<Exit>;
  const logs: Record<string, unknown>[] = [];
  let port = 0;

  beforeAll(async () => {
    // The real process runs the build: compile what the tests are about to exercise.
    buildDist();
    backend = await startTrickleBackend(PIECES, 200);
    dir = writeConfigDir({
      gateway: 'server:\n  shutdownTimeoutMs: 10000\nrateLimit:\n  enabled: false\n',
      services: { slow: service('slow', backend.url) },
    });
    const proc = spawn(process.execPath, [join(ROOT, 'dist/src/main.js')], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH,
        PORT: '0',
        HOST: '127.0.0.1',
        GATEWAY_CONFIG_DIR: dir,
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = proc;
    exited = new Promise<Exit>((resolve) =>
      proc.once('exit', (code, signal) => resolve({ code, signal, at: performance.now() })),
    );
    const listening = new Promise<number>((resolve, reject) => {
      createInterface({ input: proc.stdout }).on('line', (line) => {
        const entry = JSON.parse(line) as Record<string, unknown>;
        logs.push(entry);
        if (entry.msg === 'gateway listening') resolve(entry.port as number);
      });
      proc.once('exit', (code) => reject(new Error(`gateway exited early with code ${code}`)));
    });
    port = await listening;
  });

  afterAll(async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
    await backend?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('finishes the request in flight, answers /ready 503 on open connections, refuses new ones, then exits 0', async () => {
    const proc = child as ChildProcess;
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const before = await call(port, '/ready', { agent });
      expect(before.status).toBe(200);
      expect(before.reusedSocket).toBe(false);

      const startedAt = performance.now();
      const slow = call(port, '/api/slow/download').then((r) => ({
        ...r,
        endedAt: performance.now(),
      }));
      // Awaited below; handled here too so that an early failure does not also report it.
      slow.catch(() => undefined);
      await waitUntil(() => backend.hits === 1, 2000, 'the slow call reached the backend');

      expect(proc.kill('SIGTERM')).toBe(true);
      await waitUntil(() => logs.some((l) => l.msg === 'draining'), 2000, 'draining logged');

      await expect(connectOnce(port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });

      const during = await call(port, '/ready', { agent });
      expect(during.reusedSocket).toBe(true);
      expect(during.status).toBe(503);
      expect(during.headers.connection).toBe('close');
      expect(during.headers['cache-control']).toBe('no-store');
      expect(during.headers['x-request-id']).toMatch(UUID);
      const body = JSON.parse(during.body) as TerminusBody;
      // Draining fails readiness through the gateway entry alone; upstreams are only reported.
      expect(body.status).toBe('error');
      expect(body.error).toEqual({
        gateway: { status: 'down', phase: 'draining', configRevision: expect.any(String) },
      });
      expect(body.info.upstreams).toEqual({
        status: 'up',
        services: {
          slow: {
            circuit: 'closed',
            targets: [{ target: new URL(backend.url).host, healthy: true }],
          },
        },
      });
      expect(body.details).toEqual({ ...body.info, ...body.error });
      expect(proc.exitCode).toBeNull();

      const reply = await slow;
      expect(reply.status).toBe(200);
      expect(reply.body).toBe(PIECES.join(''));
      expect(reply.endedAt - startedAt).toBeGreaterThanOrEqual(1900);

      const exit = await exited;
      expect(exit).toMatchObject({ code: 0, signal: null });
      // Not before the slow call was done, and not at the end of the 10 s drain time either.
      expect(exit.at - startedAt).toBeGreaterThanOrEqual(1900);
      expect(exit.at - reply.endedAt).toBeLessThan(1500);
      expect(backend.hits).toBe(1);
      expect(logs.map((l) => l.msg)).toEqual(
        expect.arrayContaining(['shutdown signal received', 'draining', 'gateway stopped']),
      );
      expect(logs.find((l) => l.msg === 'shutdown signal received')).toMatchObject({
        signal: 'SIGTERM',
      });
      expect(logs.some((l) => l.msg === 'drain time ran out: requests cut')).toBe(false);
    } finally {
      agent.destroy();
    }
  });
});

describe('In-process drain with a short shutdownTimeoutMs', () => {
  let backend: TestBackend;
  let gw: TestGateway;

  beforeAll(async () => {
    backend = await startBackend({ kind: 'hang' });
    gw = await startTestGateway({
      gateway: 'server:\n  shutdownTimeoutMs: 300\nrateLimit:\n  enabled: false\n',
      services: { hang: `${service('hang', backend.url)}` },
    });
  });

  afterAll(async () => {
    // shutdown() has closed the app; only the config folder is left.
    if (gw) rmSync(gw.dir, { recursive: true, force: true });
    await backend?.close();
  });

  it('cuts a request still waiting after shutdownTimeoutMs and logs it', async () => {
    const pending = call(gw.port, '/api/hang/x');
    const outcome = pending.then(
      () => 'answered',
      (err: NodeJS.ErrnoException) => err.code,
    );
    await waitUntil(() => backend.received.length === 1, 2000, 'the call reached the backend');

    const t0 = performance.now();
    await gw.shutdown();
    const took = performance.now() - t0;
    expect(took).toBeGreaterThanOrEqual(290);
    expect(took).toBeLessThan(1000);
    await expect(outcome).resolves.toBe('ECONNRESET');
    expect(gw.logs.find((l) => l.msg === 'drain time ran out: requests cut')).toMatchObject({
      cut: 1,
    });
    expect(gw.logs.some((l) => l.msg === 'gateway stopped')).toBe(true);
    await expect(connectOnce(gw.port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });
});

describe('Client timeouts and malformed requests', () => {
  let gw: TestGateway;

  beforeAll(async () => {
    gw = await startTestGateway({
      gateway: 'server:\n  clientHeadersTimeoutMs: 1000\nrateLimit:\n  enabled: false\n',
    });
  });

  afterAll(async () => {
    await gw?.close();
  });

  it('answers a slowloris client 408 within ~2.5 s while serving others meanwhile', async () => {
    const raw = await rawConnection(gw.port);
    const started = performance.now();
    // A header line left unfinished, then one more header every 300 ms, never the blank line.
    raw.socket.write('GET /health HTTP/1.1\r\nHost: gateway\r\nX-Drip-0: ');
    let n = 0;
    const drip = setInterval(() => {
      n++;
      if (!raw.socket.destroyed) raw.socket.write(`${n}\r\nX-Drip-${n}: `);
    }, 300);
    let done = false;
    const served: number[] = [];
    const others = (async () => {
      while (!done) {
        served.push((await call(gw.port, '/health')).status);
        await new Promise<void>((resolve) => setTimeout(resolve, 100));
      }
    })();
    const { text, at } = await raw.closed;
    clearInterval(drip);
    done = true;
    await others;

    expect(at - started).toBeLessThanOrEqual(2500);
    expect(n).toBeGreaterThanOrEqual(2);
    const reply = parseReply(text);
    expect(reply.status).toBe(408);
    expect(reply.headers['content-type']).toMatch(/^application\/json/);
    expect(reply.headers.connection).toBe('close');
    expect(JSON.parse(reply.body)).toEqual({
      statusCode: 408,
      error: 'Request Timeout',
      message: expect.any(String),
      requestId: reply.headers['x-request-id'],
    });
    expect(served.length).toBeGreaterThanOrEqual(5);
    expect(served.every((s) => s === 200)).toBe(true);
  });

  it('answers a malformed request line 400 with the JSON body and keeps serving', async () => {
    const raw = await rawConnection(gw.port);
    raw.socket.write('GARBAGE\r\n\r\n');
    const reply = parseReply((await raw.closed).text);
    expect(reply.status).toBe(400);
    expect(reply.headers['content-type']).toMatch(/^application\/json/);
    expect(reply.headers['x-request-id']).toMatch(UUID);
    expect(JSON.parse(reply.body)).toEqual({
      statusCode: 400,
      error: 'Bad Request',
      message: expect.any(String),
      requestId: reply.headers['x-request-id'],
    });
    const after = await call(gw.port, '/health');
    expect(after.status).toBe(200);
  });
});
