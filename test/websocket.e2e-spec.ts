// WebSocket through the gateway (contract, Protocols): `ws` clients against a real `ws` echo
// backend. Auth, Origin and limits are checked on the upgrade request (answered as HTTP
// before any upgrade), messages and ping/pong pass unchanged both ways, a close on either
// side closes the other with its code and reason, the gauge follows, other upgrades are 400,
// and the drain ends open sockets with 1001.
import { rmSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';

import jwt from 'jsonwebtoken';
import WebSocket, { WebSocketServer } from 'ws';

import { loadConfig } from '../src/config/config-loader';
import { nowSeconds } from './support/keys';
import { listen, type Listening } from './support/listen';
import { poll } from './support/poll';
import { counterOf, parseExposition } from './support/prom-text';
import { rawRequest } from './support/raw-http';
import { refusingUrl } from './support/resilience-kit';
import { startTestGateway, type TestGateway, writeConfigDir } from './support/test-gateway';

const SECRET = 'websocket-spec-hs256-secret-3e8a1c5f7b';
const APP = 'https://app.example.com';

function token(sub = 'ws-user'): string {
  const now = nowSeconds();
  return jwt.sign({ sub, iat: now, exp: now + 300, roles: ['user'] }, SECRET, {
    algorithm: 'HS256',
  });
}

interface Upgraded {
  url: string | undefined;
  headers: IncomingMessage['headers'];
}

/** Opens a client; resolves with it once open, or with the HTTP status that refused it. */
function connect(
  url: string,
  headers: Record<string, string> = {},
  protocols: string[] = [],
): Promise<{ ws?: WebSocket; status?: number; body?: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols, { headers, perMessageDeflate: false });
    ws.once('open', () => resolve({ ws }));
    ws.once('unexpected-response', (_req, res: IncomingMessage) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    ws.once('error', (err) => reject(err));
  });
}

const nextMessage = (ws: WebSocket) =>
  new Promise<{ data: Buffer; isBinary: boolean }>((ok) =>
    ws.once('message', (data: Buffer, isBinary: boolean) => ok({ data, isBinary })),
  );
const closed = (ws: WebSocket) =>
  new Promise<{ code: number; reason: string }>((ok) =>
    ws.once('close', (code: number, reason: Buffer) => ok({ code, reason: reason.toString() })),
  );

describe('WebSocket (e2e)', () => {
  let backendHttp: Listening;
  let backend: WebSocketServer;
  const upgrades: Upgraded[] = [];
  const backendSockets: WebSocket[] = [];
  let gw: TestGateway;
  let refused: string;

  beforeAll(async () => {
    const server = createServer((_req, res) => res.writeHead(404).end());
    backend = new WebSocketServer({ noServer: true, perMessageDeflate: false });
    server.on('upgrade', (req, socket, head) => {
      upgrades.push({ url: req.url, headers: req.headers });
      backend.handleUpgrade(req, socket, head, (ws) => {
        backendSockets.push(ws);
        ws.on('message', (data: Buffer, isBinary) => {
          if (!isBinary && data.toString() === 'close-me') ws.close(4001, 'bye from backend');
          else ws.send(data, { binary: isBinary });
        });
      });
    });
    backendHttp = await listen(server);
    refused = await refusingUrl();
    const ws = backendHttp.url;
    gw = await startTestGateway({
      gateway: `auth:\n  jwt:\n    secret: ${SECRET}\ncors:\n  origins: ["${APP}"]\n`,
      services: {
        wsvc: `
name: wsvc
targets: [{ url: "${ws}" }]
routes:
  - { path: /ws/echo/*, websocket: true, auth: jwt }
  - { path: /ws/open/*, websocket: true }
  - { path: /ws/qt/*, websocket: true, auth: jwt, websocketQueryToken: true }
  - { path: /ws/limited/*, websocket: true, rateLimit: { limit: 1, windowSeconds: 60 } }
  - { path: /api/plain/* }
`,
        wdown: `name: wdown\ntargets: [{ url: "${refused}" }]\nroutes: [{ path: /ws/down/*, websocket: true }]\n`,
      },
    });
  });

  afterAll(async () => {
    await gw?.close();
    backend?.close();
    await backendHttp?.close();
  });

  const url = (path: string) => `ws://127.0.0.1:${gw.port}${path}`;
  const gauge = async () => {
    const text = (await rawRequest({ port: gw.port, path: '/metrics' })).body.toString('utf8');
    return counterOf(parseExposition(text), 'gateway_websocket_connections', { service: 'wsvc' });
  };

  it('answers 401 before any upgrade when the route needs a JWT and none came', async () => {
    const before = upgrades.length;
    const r = await connect(url('/ws/echo/chat'));
    expect(r.status).toBe(401);
    expect(JSON.parse(r.body ?? '{}')).toMatchObject({ statusCode: 401 });
    expect(upgrades.length).toBe(before);
  });

  it('relays text, binary (1 MB) and ping/pong unchanged, with the identity headers upstream', async () => {
    const r = await connect(url('/ws/echo/chat?room=1'), {
      Authorization: `Bearer ${token('alice')}`,
    });
    const ws = r.ws!;
    const seen = upgrades.at(-1)!;
    expect(seen.url).toBe('/ws/echo/chat?room=1');
    expect(seen.headers['x-user-id']).toBe('alice');
    expect(seen.headers['x-forwarded-for']).toBe('127.0.0.1');

    ws.send('hello');
    expect(await nextMessage(ws)).toEqual({ data: Buffer.from('hello'), isBinary: false });
    const big = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31) % 251;
    ws.send(big, { binary: true });
    const back = await nextMessage(ws);
    expect(back.isBinary).toBe(true);
    expect(back.data.equals(big)).toBe(true);
    const pong = new Promise<Buffer>((ok) => ws.once('pong', ok));
    ws.ping(Buffer.from('are-you-there'));
    expect((await pong).toString()).toBe('are-you-there');

    expect(await gauge()).toBe(1);
    const backendSide = backendSockets.at(-1)!;
    const backendClosed = closed(backendSide);
    ws.close(4000, 'done here');
    expect(await backendClosed).toEqual({ code: 4000, reason: 'done here' });
    await poll(async () => ((await gauge()) === 0 ? true : undefined), 2000, 'the gauge at 0');
  });

  it('closes the client with the code and reason the backend closed with', async () => {
    const { ws } = await connect(url('/ws/open/x'));
    const c = closed(ws!);
    ws!.send('close-me');
    expect(await c).toEqual({ code: 4001, reason: 'bye from backend' });
  });

  it('passes the subprotocol the backend chose', async () => {
    const { ws } = await connect(url('/ws/open/x'), {}, ['chat.v2', 'chat.v1']);
    expect(ws!.protocol).toBe('chat.v2');
    const offered = String(upgrades.at(-1)?.headers['sec-websocket-protocol']);
    expect(offered.split(',').map((p) => p.trim())).toEqual(['chat.v2', 'chat.v1']);
    ws!.close();
  });

  it('answers 400 to an upgrade on a route without websocket: true and on own endpoints', async () => {
    const before = upgrades.length;
    for (const path of ['/api/plain/x', '/health', '/nowhere']) {
      const r = await connect(url(path));
      expect({ path, status: r.status }).toEqual({
        path,
        status: path === '/nowhere' ? 404 : 400,
      });
    }
    // Not a WebSocket upgrade (h2c), on a websocket route.
    const h2c = await rawRequest({
      port: gw.port,
      path: '/ws/open/x',
      headers: {
        Connection: 'Upgrade, HTTP2-Settings',
        Upgrade: 'h2c',
        'HTTP2-Settings': 'AAMAAABkAAQAoAAAAAIAAAAA',
      },
    });
    expect(h2c.status).toBe(400);
    expect(upgrades.length).toBe(before);
  });

  it('checks Origin against cors: 403 for another site, open for the allowed one', async () => {
    const bad = await connect(url('/ws/open/x'), { Origin: 'https://evil.example' });
    expect(bad.status).toBe(403);
    const good = await connect(url('/ws/open/x'), { Origin: APP });
    expect(good.ws).toBeDefined();
    good.ws!.close();
  });

  it('takes the JWT from access_token on a websocketQueryToken route and never forwards it', async () => {
    const none = await connect(url('/ws/qt/feed?access_token=garbage&x=1'));
    expect(none.status).toBe(401);
    const { ws } = await connect(url(`/ws/qt/feed?x=1&access_token=${token('bob')}`));
    const seen = upgrades.at(-1)!;
    expect(seen.url).toBe('/ws/qt/feed?x=1');
    expect(seen.headers['x-user-id']).toBe('bob');
    ws!.close();
    // On a route without it, the query is left alone and does not authenticate.
    const other = await connect(url(`/ws/echo/feed?access_token=${token('bob')}`));
    expect(other.status).toBe(401);
  });

  it('answers 429 to an upgrade over the limit, and 502 when the backend refuses', async () => {
    const first = await connect(url('/ws/limited/x'));
    expect(first.ws).toBeDefined();
    first.ws!.close();
    const second = await connect(url('/ws/limited/x'));
    expect(second.status).toBe(429);
    const down = await connect(url('/ws/down/x'));
    expect(down.status).toBe(502);
  });
});

describe('WebSocket route keys', () => {
  it('refuses websocketQueryToken without websocket, or without a JWT to take', () => {
    const dir = writeConfigDir({
      services: {
        a: `name: a\ntargets: [{ url: "http://127.0.0.1:1" }]\nroutes:\n  - { path: /a/*, auth: jwt, websocketQueryToken: true }\n  - { path: /b/*, websocket: true, auth: apiKey, websocketQueryToken: true }\n`,
      },
    });
    try {
      const r = loadConfig(dir, {});
      expect(r.ok ? [] : [...r.problems].sort()).toEqual([
        'services/a.yaml: routes[0].websocketQueryToken: needs websocket: true',
        'services/a.yaml: routes[1].websocketQueryToken: needs auth jwt or any (the token is a JWT)',
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('WebSocket at shutdown (e2e)', () => {
  it('closes open sockets with 1001 when the drain time ends', async () => {
    const server = createServer();
    const backend = new WebSocketServer({ server });
    backend.on('connection', (ws) => ws.on('message', (d, b) => ws.send(d, { binary: b })));
    const http = await listen(server);
    const gw = await startTestGateway({
      gateway: 'server:\n  shutdownTimeoutMs: 300\n',
      services: {
        w: `name: w\ntargets: [{ url: "${http.url}" }]\nroutes: [{ path: /ws/*, websocket: true }]\n`,
      },
    });
    try {
      const { ws } = await connect(`ws://127.0.0.1:${gw.port}/ws/x`);
      const c = closed(ws!);
      const started = performance.now();
      const stopping = gw.shutdown();
      const got = await c;
      expect(got.code).toBe(1001);
      expect(performance.now() - started).toBeGreaterThanOrEqual(250);
      await stopping;
    } finally {
      await gw.close().catch(() => undefined);
      backend.close();
      await http.close();
    }
  });
});
