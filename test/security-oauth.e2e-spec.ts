// The OAuth endpoints cannot be turned against their clients (contract, Security: OAuth
// client authentication; issue "Security hardening" items 4, 5, 6, 11). Many client
// addresses come from 127.0.0.0/8 (each request binds its own local address).
import { writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';

import argon2 from 'argon2';

import { RateLimiter } from '../src/rate-limit/rate-limiter';
import { startTestGateway, type TestGateway } from './support/test-gateway';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  ms: number;
}

/** A form POST from a given loopback address. */
function post(
  gw: TestGateway,
  path: string,
  fields: Record<string, string>,
  from = '127.0.0.1',
): Promise<Reply> {
  const body = new URLSearchParams(fields).toString();
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: gw.port,
        method: 'POST',
        path,
        localAddress: from,
        agent: false,
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'content-length': Buffer.byteLength(body),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: text,
            ms: Date.now() - started,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const token = (gw: TestGateway, id: string, secret: string, from?: string) =>
  post(
    gw,
    '/oauth/token',
    { grant_type: 'client_credentials', client_id: id, client_secret: secret },
    from,
  );

const gatewayYaml = (clients: string, rateLimit = '') => `auth:
  jwt:
    algorithms: [HS256]
    secret: security-oauth-secret-0123456789abcdef
oauth:
  clients:
${clients}rateLimit:
  enabled: false
${rateLimit}`;
const PLAIN = `    - { clientId: acme, clientSecret: acme-secret, scopes: [a] }
    - { clientId: beta, clientSecret: beta-secret, scopes: [a] }
`;

describe('Security: OAuth client authentication', () => {
  describe('failures per client IP (clientAuthFailures, on although rateLimit.enabled is false)', () => {
    let gw: TestGateway;
    beforeAll(async () => {
      gw = await startTestGateway({
        gateway: gatewayYaml(PLAIN, '  clientAuthFailures: { limit: 10, windowSeconds: 60 }\n'),
      });
    });
    afterAll(() => gw.close());

    it('ten failures across the three endpoints, then 429 on all three for that address only', async () => {
      const from = '127.0.0.2';
      const failures = [
        ...(await Promise.all([1, 2, 3, 4].map(() => token(gw, 'acme', 'wrong', from)))),
        ...(await Promise.all(
          [1, 2, 3].map(() =>
            post(gw, '/oauth/revoke', { token: 'x', client_id: 'acme', client_secret: 'no' }, from),
          ),
        )),
        ...(await Promise.all(
          [1, 2, 3].map(() =>
            post(
              gw,
              '/oauth/introspect',
              { token: 'x', client_id: 'nobody', client_secret: 'no' },
              from,
            ),
          ),
        )),
      ];
      for (const r of failures) {
        expect(r.status).toBe(401);
        expect(JSON.parse(r.body)).toMatchObject({ error: 'invalid_client' });
      }
      const auditBefore = gw.logs.filter((l) => l.event === 'client authentication failed').length;
      for (const path of ['/oauth/token', '/oauth/revoke', '/oauth/introspect']) {
        // The right secret too: nothing is checked past the budget.
        const r = await post(
          gw,
          path,
          {
            grant_type: 'client_credentials',
            token: 'x',
            client_id: 'acme',
            client_secret: 'acme-secret',
          },
          from,
        );
        expect(r.status).toBe(429);
        expect(JSON.parse(r.body)).toMatchObject({ statusCode: 429, error: 'Too Many Requests' });
        expect(Number(r.headers['retry-after'])).toBeGreaterThanOrEqual(1);
        expect(r.headers['ratelimit-policy']).toBe('"client_auth";q=10;w=60');
      }
      expect(gw.logs.filter((l) => l.event === 'client authentication failed').length).toBe(
        auditBefore,
      );
      // Another address, and the client itself from elsewhere, are untouched.
      expect((await token(gw, 'acme', 'acme-secret', '127.0.0.3')).status).toBe(200);
      expect(
        (
          await post(
            gw,
            '/oauth/introspect',
            { token: 'x', client_id: 'beta', client_secret: 'beta-secret' },
            '127.0.0.3',
          )
        ).status,
      ).toBe(200);
      const metrics = await (await fetch(`${gw.url}/metrics`)).text();
      expect(metrics).toMatch(
        /gateway_rate_limit_violations_total\{tier="client_auth",route="\/oauth\/(token|revoke|introspect)"\} \d/,
      );
    });

    it('over-long credentials are 400 invalid_request; unknown ids leave no rate-limit state', async () => {
      const limiter = gw.app.get(RateLimiter);
      const long = await token(gw, 'x'.repeat(257), 's', '127.0.3.1');
      expect(long.status).toBe(400);
      expect(JSON.parse(long.body)).toEqual({
        error: 'invalid_request',
        error_description: 'client_id and client_secret are at most 256 characters',
      });
      expect((await token(gw, 'acme', 's'.repeat(257), '127.0.3.1')).status).toBe(400);
      const before = limiter.memory.size;
      for (let i = 0; i < 400; i++) {
        const r = await token(gw, `${i}-${'q'.repeat(2000)}`, 'x', '127.0.3.2');
        expect(r.status).toBe(400);
      }
      expect(limiter.memory.size - before).toBe(0);
      // Unknown ids of a legal length: only the address's failure count.
      for (let i = 0; i < 50; i++) await token(gw, `ghost-${i}`, 'x', `127.0.4.${i + 1}`);
      expect(limiter.memory.size - before).toBeLessThanOrEqual(50);
    });

    it('a 60 kB client_id (the body limit is 64 kb) never makes a long log line', async () => {
      await token(gw, 'z'.repeat(60_000), 'x', '127.0.5.1');
      await post(
        gw,
        '/oauth/token',
        { grant_type: 'nope', client_id: 'y'.repeat(60_000) },
        '127.0.5.2',
      );
      for (const line of gw.logs) expect(JSON.stringify(line).length).toBeLessThan(2000);
    });

    it('limit 0 turns it off', async () => {
      const off = await startTestGateway({
        gateway: gatewayYaml(PLAIN, '  clientAuthFailures: { limit: 0, windowSeconds: 60 }\n'),
      });
      try {
        for (let i = 0; i < 15; i++)
          expect((await token(off, 'acme', 'wrong', '127.0.6.1')).status).toBe(401);
        expect((await token(off, 'acme', 'acme-secret', '127.0.6.1')).status).toBe(200);
      } finally {
        await off.close();
      }
    });
  });

  describe('tokenEndpoint counts issued tokens of registered clients', () => {
    it('nobody can lock a client out: wrong secrets for its id from 30 addresses', async () => {
      const gw = await startTestGateway({
        gateway: gatewayYaml(PLAIN, '  tokenEndpoint: { limit: 3, windowSeconds: 60 }\n').replace(
          '  enabled: false\n',
          '  enabled: true\n',
        ),
      });
      try {
        const rs = await Promise.all(
          Array.from({ length: 30 }, (_, i) => token(gw, 'beta', `guess-${i}`, `127.0.1.${i + 1}`)),
        );
        expect(new Set(rs.map((r) => r.status))).toEqual(new Set([401]));
        const ok = await token(gw, 'beta', 'beta-secret', '127.0.2.1');
        expect(ok.status).toBe(200);
        expect(JSON.parse(ok.body)).toMatchObject({ token_type: 'Bearer' });
      } finally {
        await gw.close();
      }
    });

    it('keyed by client_id; failures and unknown ids do not use it', async () => {
      const gw = await startTestGateway({
        gateway: gatewayYaml(PLAIN, '  tokenEndpoint: { limit: 2, windowSeconds: 60 }\n').replace(
          '  enabled: false\n',
          '  enabled: true\n',
        ),
      });
      try {
        for (let i = 0; i < 5; i++)
          expect((await token(gw, 'acme', 'wrong', `127.0.7.${i + 1}`)).status).toBe(401);
        const a = await token(gw, 'acme', 'acme-secret', '127.0.8.1');
        expect(a.status).toBe(200);
        expect(a.headers['ratelimit-policy']).toBe('"token";q=2;w=60');
        expect((await token(gw, 'acme', 'acme-secret', '127.0.8.2')).status).toBe(200);
        const third = await token(gw, 'acme', 'acme-secret', '127.0.8.3');
        expect(third.status).toBe(429);
        expect(JSON.parse(third.body)).toMatchObject({ statusCode: 429 });
        expect((await token(gw, 'beta', 'beta-secret', '127.0.8.3')).status).toBe(200);
      } finally {
        await gw.close();
      }
    });
  });

  describe('argon2id under a flood of wrong secrets', () => {
    let gw: TestGateway;
    let hash: string;
    beforeAll(async () => {
      // The gateway's own hash-secret defaults: about 64 MiB and a few hundred ms a check.
      hash = await argon2.hash('owner-secret-0123456789', { type: argon2.argon2id });
      gw = await startTestGateway({
        gateway: gatewayYaml(`    - { clientId: owner, secretHash: "${hash}", scopes: [a] }\n`),
      });
    });
    afterAll(() => gw.close());

    it('once its owner has authenticated, 20 sequential requests stay under 1 s while 16 addresses guess', async () => {
      expect((await token(gw, 'owner', 'owner-secret-0123456789', '127.0.9.1')).status).toBe(200);
      let flooding = true;
      const attackers = Array.from({ length: 16 }, async (_, i) => {
        const statuses: number[] = [];
        for (let n = 0; flooding && n < 12; n++) {
          statuses.push(
            (await token(gw, n % 2 ? 'owner' : 'nobody', `guess-${n}`, `127.0.10.${i + 1}`)).status,
          );
        }
        return statuses;
      });
      await new Promise((r) => setTimeout(r, 1000));
      const times: number[] = [];
      for (let i = 0; i < 20; i++) {
        const r = await token(gw, 'owner', 'owner-secret-0123456789', '127.0.9.2');
        expect(r.status).toBe(200);
        times.push(r.ms);
      }
      flooding = false;
      const seen = (await Promise.all(attackers)).flat();
      expect(seen.length).toBeGreaterThan(16);
      expect(new Set(seen).has(401)).toBe(true);
      expect(Math.max(...times)).toBeLessThan(1000);
    }, 120_000);

    it('a reload that changes the client drops the remembered secret', async () => {
      const next = await argon2.hash('rotated-secret-0123456789', { type: argon2.argon2id });
      writeFileSync(
        join(gw.dir, 'gateway.yaml'),
        gatewayYaml(`    - { clientId: owner, secretHash: "${next}", scopes: [a] }\n`),
      );
      expect(
        gw.app.get((await import('../src/config/gateway-config')).GatewayConfig).reload().ok,
      ).toBe(true);
      expect((await token(gw, 'owner', 'owner-secret-0123456789', '127.0.11.1')).status).toBe(401);
      expect((await token(gw, 'owner', 'rotated-secret-0123456789', '127.0.11.2')).status).toBe(
        200,
      );
    }, 30_000);
  });
});
