// Security, "JWKS refresh": a flood of tokens with made-up `kid`s neither starves the
// refresh nor locks out a key. Real gateway, real JWKS server, real RS256 tokens.
import { randomUUID } from 'node:crypto';

import jwt from 'jsonwebtoken';

import { startBackend, type TestBackend } from './support/backend';
import { type JwksServer, startJwksServer } from './support/jwks-server';
import { publicJwk, type RsaPair, rsaPair } from './support/keys';
import { startTestGateway, type TestGateway } from './support/test-gateway';

const rs256 = (pair: RsaPair, kid: string, sub: string) =>
  jwt.sign({ sub }, pair.privatePem, { algorithm: 'RS256', keyid: kid, expiresIn: 300 });

describe('Security: JWKS refresh under a flood of unknown kids', () => {
  const first = rsaPair();
  const second = rsaPair();
  const attacker = rsaPair();
  let backend: TestBackend;
  let jwks: JwksServer;
  let gw: TestGateway;

  const call = (token: string) =>
    fetch(`${gw.url}/api/jwt/whoami`, { headers: { authorization: `Bearer ${token}` } });
  const flood = async (n: number) => {
    const answers = await Promise.all(
      Array.from({ length: n }, () => call(rs256(attacker, randomUUID(), 'mallory'))),
    );
    return answers.map((r) => r.status);
  };
  const reachedAs = (sub: string) =>
    backend.received.filter((r) => r.headers['x-user-id'] === sub).length;

  beforeAll(async () => {
    backend = await startBackend();
    jwks = await startJwksServer([publicJwk(first, 'key-1')]);
    gw = await startTestGateway({
      gateway: [
        'auth:',
        '  jwt:',
        '    algorithms: [RS256]',
        `    jwksUri: ${jwks.uri}`,
        'rateLimit:',
        '  enabled: false',
      ].join('\n'),
      services: {
        api: `name: api\ntargets:\n  - url: ${backend.url}\nroutes:\n  - path: /api/jwt/*\n    auth: jwt\n`,
      },
    });
  });

  afterAll(async () => {
    await gw?.close();
    await jwks?.close();
    await backend?.close();
  });

  it('serves the known key throughout, and accepts a newly published key within 15 s', async () => {
    // Fresh start: the flood comes first and must not cost key-1 its first fetch.
    expect(new Set(await flood(40))).toEqual(new Set([401]));
    const known = await call(rs256(first, 'key-1', 'alice'));
    expect(known.status).toBe(200);
    expect(reachedAs('alice')).toBe(1);
    expect(reachedAs('mallory')).toBe(0);

    // The issuer publishes key-2 while the flood goes on.
    jwks.publish([publicJwk(first, 'key-1'), publicJwk(second, 'key-2')]);
    const published = Date.now();
    const fetchesAtPublish = jwks.fetches;
    let acceptedAfter: number | undefined;
    while (Date.now() - published < 15_000) {
      const statuses = await flood(10);
      expect(new Set(statuses)).toEqual(new Set([401]));
      expect((await call(rs256(first, 'key-1', 'alice'))).status).toBe(200);
      const fresh = await call(rs256(second, 'key-2', 'bob'));
      if (fresh.status === 200) {
        acceptedAfter = Date.now() - published;
        break;
      }
      expect(fresh.status).toBe(401);
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(acceptedAfter).toBeDefined();
    expect(acceptedAfter).toBeLessThan(15_000);
    expect(reachedAs('bob')).toBe(1);
    expect(reachedAs('mallory')).toBe(0);
    // Hundreds of unknown kids, yet at most one fetch per 10 s (plus the one in progress).
    const elapsed = Date.now() - published;
    expect(jwks.fetches - fetchesAtPublish).toBeLessThanOrEqual(Math.ceil(elapsed / 10_000) + 1);
    expect(jwks.maxConcurrent).toBe(1);
  }, 30_000);

  it('keeps the known keys through an outage of the JWKS endpoint', async () => {
    jwks.failWith(500);
    try {
      await flood(20);
      const r = await call(rs256(second, 'key-2', 'carol'));
      expect(r.status).toBe(200);
      expect(reachedAs('carol')).toBe(1);
    } finally {
      jwks.failWith(undefined);
    }
  });
});
