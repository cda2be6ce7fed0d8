import { createServer, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';

import { Test } from '@nestjs/testing';

import { ServerLifecycle } from './server-lifecycle';

async function listening(): Promise<Server> {
  const server = createServer((_req, res) => res.end('ok'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

function port(server: Server): number {
  return (server.address() as { port: number }).port;
}

/** An open, idle client connection to `server`, and a promise of its close. */
async function idleConnection(server: Server): Promise<{ socket: Socket; closed: Promise<void> }> {
  const socket = connect(port(server), '127.0.0.1');
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  return { socket, closed };
}

describe('ServerLifecycle', () => {
  let lifecycle: ServerLifecycle;
  let server: Server | undefined;

  beforeEach(async () => {
    const moduleRef = await Test.createTestingModule({ providers: [ServerLifecycle] }).compile();
    lifecycle = moduleRef.get(ServerLifecycle);
  });

  afterEach(async () => {
    jest.useRealTimers();
    if (server?.listening) await new Promise((resolve) => server?.close(resolve));
    server?.closeAllConnections();
    server = undefined;
  });

  describe('phase', () => {
    it('goes starting, ready, draining', async () => {
      expect(lifecycle.phase).toBe('starting');
      expect(lifecycle.draining).toBe(false);
      lifecycle.markReady();
      expect(lifecycle.phase).toBe('ready');
      server = await listening();
      await lifecycle.drain(server, 1000);
      expect(lifecycle.phase).toBe('draining');
      expect(lifecycle.draining).toBe(true);
    });

    it('does not leave draining on a late markReady', async () => {
      server = await listening();
      await lifecycle.drain(server, 1000);
      lifecycle.markReady();
      expect(lifecycle.phase).toBe('draining');
    });
  });

  it('counts requests in flight', () => {
    lifecycle.requestStarted();
    lifecycle.requestStarted();
    lifecycle.requestEnded();
    expect(lifecycle.requestsInFlight).toBe(1);
  });

  describe('drain', () => {
    it('with nothing in flight: stops listening, closes idle connections, resolves 0', async () => {
      server = await listening();
      const idle = await idleConnection(server);
      await expect(lifecycle.drain(server, 10_000)).resolves.toBe(0);
      expect(server.listening).toBe(false);
      await idle.closed;
    });

    it('keeps open connections, idle ones too, until the requests in flight end', async () => {
      server = await listening();
      const idle = await idleConnection(server);
      let idleClosed = false;
      void idle.closed.then(() => (idleClosed = true));
      lifecycle.requestStarted();
      let resolved: number | undefined;
      const drained = lifecycle.drain(server, 10_000).then((cut) => (resolved = cut));

      expect(server.listening).toBe(false);
      await new Promise<void>((resolve) => setImmediate(resolve));
      expect(resolved).toBeUndefined();
      expect(idleClosed).toBe(false);
      expect(idle.socket.destroyed).toBe(false);

      lifecycle.requestEnded();
      await drained;
      expect(resolved).toBe(0);
      await idle.closed;
    });

    it('gives up after timeoutMs, cuts every connection and reports how many requests were cut', async () => {
      server = await listening();
      const open = await idleConnection(server);
      jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick'] });
      lifecycle.requestStarted();
      lifecycle.requestStarted();
      let resolved: number | undefined;
      const drained = lifecycle.drain(server, 300).then((cut) => (resolved = cut));

      await jest.advanceTimersByTimeAsync(299);
      expect(resolved).toBeUndefined();
      await jest.advanceTimersByTimeAsync(1);
      await drained;
      expect(resolved).toBe(2);
      jest.useRealTimers();
      await open.closed;
    });

    it('resolves when the last request ends, not at the first', async () => {
      server = await listening();
      lifecycle.requestStarted();
      lifecycle.requestStarted();
      let resolved = false;
      const drained = lifecycle.drain(server, 10_000).then(() => (resolved = true));
      lifecycle.requestEnded();
      await new Promise<void>((resolve) => setImmediate(resolve));
      expect(resolved).toBe(false);
      lifecycle.requestEnded();
      await drained;
      expect(lifecycle.requestsInFlight).toBe(0);
    });
  });
});
