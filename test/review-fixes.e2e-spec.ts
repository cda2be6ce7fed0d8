// Regressions found in review: each of these failed before its fix.
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import jwt from 'jsonwebtoken';
import request from 'supertest';

import { loadConfig } from '../src/config/config-loader';
import { startBackend, type TestBackend } from './support/backend';
import { startTestGateway, type TestGateway, writeConfigDir } from './support/test-gateway';

const SECRET = 'review-secret-0123456789abcdef-xyz';

describe('Review regressions (e2e)', () => {
  let backend: TestBackend;
  let streamer: Server;
  let streamClosed: Promise<void>;
  let gw: TestGateway;

  beforeAll(async () => {
    backend = await startBackend();
    let closed!: () => void;
    streamClosed = new Promise((resolve) => (closed = resolve));
    // Streams a chunk every 20 ms, forever: only a closed connection stops it.
    streamer = createServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      const timer = setInterval(() => res.write('x'.repeat(1024)), 20);
      res.on('close', () => {
        clearInterval(timer);
        closed();
      });
    });
    await new Promise<void>((resolve) => streamer.listen(0, '127.0.0.1', resolve));
    const streamUrl = `http://127.0.0.1:${(streamer.address() as AddressInfo).port}`;
    gw = await startTestGateway(
      {
        gateway: `rateLimit: { enabled: false }\nauth:\n  jwt: { algorithms: [HS256], secret: "\${JWT_SECRET}" }`,
        services: {
          s: [
            'name: s',
            `targets: [{ url: "${backend.url}" }]`,
            'timeoutMs: 2000',
            'routes:',
            '  - { path: /jwt/*, auth: jwt }',
            '  - { path: /getonly/*, methods: [GET] }',
            '  - { path: /pub/* }',
          ].join('\n'),
          stream: `name: stream\ntargets: [{ url: "${streamUrl}" }]\nroutes:\n  - { path: /stream/* }\n`,
        },
      },
      { JWT_SECRET: SECRET },
    );
  });

  afterAll(async () => {
    await gw.close();
    await backend.close();
    streamer.closeAllConnections();
    await new Promise((resolve) => streamer.close(resolve));
  });

  beforeEach(() => backend.received.splice(0));

  it('refuses at once a token whose subject cannot be a header value', async () => {
    const token = jwt.sign({ sub: '日本' }, SECRET, { expiresIn: 60 });
    const started = Date.now();
    const res = await request(gw.url).get('/jwt/x').set('Authorization', `Bearer ${token}`);
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toContain('error="invalid_token"');
    expect(Date.now() - started).toBeLessThan(1000);
    expect(backend.received).toHaveLength(0);
    // The service is unharmed: the next caller is served.
    const ok = jwt.sign({ sub: 'alice' }, SECRET, { expiresIn: 60 });
    expect((await request(gw.url).get('/jwt/x').set('Authorization', `Bearer ${ok}`)).status).toBe(
      200,
    );
  });

  it('applies the .. rule whatever the method: POST out of a GET-only prefix is 404', async () => {
    const send = (method: string, path: string) =>
      new Promise<number>((resolve, reject) => {
        const req = httpRequest({ host: '127.0.0.1', port: gw.port, method, path }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end();
      });
    expect(await send('POST', '/getonly/../pub/x')).toBe(404);
    expect(await send('POST', '/pub/../getonly/x')).toBe(404);
    expect(await send('GET', '/getonly/../pub/x')).toBe(404);
    expect(backend.received).toHaveLength(0);
  });

  it('frees the upstream connection when the client hangs up mid-body', async () => {
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port: gw.port, path: '/stream/x' }, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', () => undefined);
      req.on('close', () => resolve());
      req.end();
      setTimeout(() => reject(new Error('no body arrived')), 2000);
    });
    const timeout = new Promise<string>((resolve) => setTimeout(() => resolve('still open'), 2000));
    expect(await Promise.race([streamClosed.then(() => 'closed'), timeout])).toBe('closed');
  });

  it('rejects roles that cannot be sent in X-User-Roles at load time', () => {
    const dir = writeConfigDir({
      gateway: 'auth:\n  apiKeys:\n    keys:\n      - { name: k, key: x, roles: ["a,b"] }\n',
    });
    const r = loadConfig(dir, {});
    expect(r.ok).toBe(false);
    expect(r.ok ? [] : r.problems).toContain(
      'gateway.yaml: auth.apiKeys.keys[0].roles[0]: must be visible ASCII without commas',
    );
  });
});
