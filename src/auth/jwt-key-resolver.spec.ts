import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Test } from '@nestjs/testing';
import jwt from 'jsonwebtoken';

import { type JwksServer, startJwksServer } from '../../test/support/jwks-server';
import { publicJwk, rsaPair, unsignedToken } from '../../test/support/keys';
import { loadConfig } from '../config/config-loader';
import { GatewayConfig } from '../config/gateway-config';
import { GATEWAY_CONFIG_OPTIONS } from '../config/gateway-config.module-definition';
import { GatewaySigningKeys } from '../oauth/signing-keys';
import { AuthFailure } from './auth-failure';
import { JwtKeyResolver } from './jwt-key-resolver';

const SECRET = 'resolver-spec-secret-0123456789abcdef';
const ELEVEN_MINUTES = 11 * 60_000;

/** Fakes Date only: the JWKS server, the fetch timeout and the 2 s wait stay real. */
function fakeClockOnly(): void {
  jest.useFakeTimers({
    now: Date.now(),
    doNotFake: [
      'setTimeout',
      'clearTimeout',
      'setInterval',
      'clearInterval',
      'setImmediate',
      'clearImmediate',
      'nextTick',
      'queueMicrotask',
      'hrtime',
      'performance',
    ],
  });
}

describe('JwtKeyResolver', () => {
  const first = rsaPair();
  const second = rsaPair();
  let jwks: JwksServer;
  let dir: string;
  let resolver: JwtKeyResolver;
  let signing: GatewaySigningKeys;
  let config: GatewayConfig;

  const rs256 = (pair: typeof first, kid: string) =>
    jwt.sign({ sub: 's' }, pair.privatePem, { algorithm: 'RS256', keyid: kid, expiresIn: 60 });
  const nOf = (k: { export(o: { format: 'jwk' }): { n?: string } }) =>
    k.export({ format: 'jwk' }).n;

  beforeAll(async () => {
    jwks = await startJwksServer([]);
  });

  afterAll(async () => {
    await jwks.close();
  });

  beforeEach(async () => {
    jwks.publish([publicJwk(first, 'key-1')]);
    dir = mkdtempSync(join(tmpdir(), 'gw-resolver-'));
    mkdirSync(join(dir, 'services'));
    writeFileSync(
      join(dir, 'gateway.yaml'),
      `auth:\n  jwt:\n    algorithms: [HS256, RS256]\n    secret: ${SECRET}\n    jwksUri: ${jwks.uri}\n`,
    );
    const loaded = loadConfig(dir, {});
    if (!loaded.ok) throw new Error(loaded.problems.join('\n'));
    const moduleRef = await Test.createTestingModule({
      providers: [
        { provide: GATEWAY_CONFIG_OPTIONS, useValue: { initial: loaded.snapshot, env: {} } },
        GatewayConfig,
        GatewaySigningKeys,
        JwtKeyResolver,
      ],
    }).compile();
    resolver = moduleRef.get(JwtKeyResolver);
    signing = moduleRef.get(GatewaySigningKeys);
    config = moduleRef.get(GatewayConfig);
  });

  afterEach(() => {
    jest.useRealTimers();
    rmSync(dir, { recursive: true, force: true });
  });

  describe('resolve', () => {
    it('gives HS256 tokens the configured secret', async () => {
      const key = await resolver.resolve(jwt.sign({ sub: 's' }, 'anything'), config.current);
      expect(key).toBe(signing.current.hmac);
      expect(key.export().toString()).toBe(SECRET);
    });

    it('refuses alg none', async () => {
      await expect(
        resolver.resolve(unsignedToken({ sub: 's' }), config.current),
      ).rejects.toMatchObject({
        reason: 'invalid_token',
        description: 'the token algorithm is not accepted',
      });
    });

    it('refuses what is not a JWT', async () => {
      await expect(resolver.resolve('garbage', config.current)).rejects.toBeInstanceOf(AuthFailure);
    });

    it('finds an RS256 key in the JWKS by kid', async () => {
      const key = await resolver.resolve(rs256(first, 'key-1'), config.current);
      expect(nOf(key)).toBe(publicJwk(first, 'key-1').n);
    });

    it('refuses a kid the JWKS does not have', async () => {
      await expect(resolver.resolve(rs256(second, 'key-9'), config.current)).rejects.toMatchObject({
        reason: 'invalid_token',
        description: 'no key matches the token',
      });
    });

    it('finds the new key after the issuer rotates, once 10 s passed since the last fetch', async () => {
      fakeClockOnly();
      await resolver.resolve(rs256(first, 'key-1'), config.current);
      jwks.publish([publicJwk(second, 'key-2')]);
      await expect(resolver.resolve(rs256(second, 'key-2'), config.current)).rejects.toMatchObject({
        description: 'no key matches the token',
      });
      jest.setSystemTime(Date.now() + 10_000);
      const key = await resolver.resolve(rs256(second, 'key-2'), config.current);
      expect(nOf(key)).toBe(publicJwk(second, 'key-2').n);
    });

    it('stops trusting a key removed from the JWKS once the key cache (10 min) has expired', async () => {
      fakeClockOnly();
      const old = rs256(first, 'key-1');
      await resolver.resolve(old, config.current);
      jwks.publish([publicJwk(second, 'key-2')]);
      jest.setSystemTime(Date.now() + ELEVEN_MINUTES);
      const fetches = jwks.fetches;
      await expect(resolver.resolve(old, config.current)).rejects.toMatchObject({
        reason: 'invalid_token',
        description: 'no key matches the token',
      });
      expect(jwks.fetches).toBeGreaterThan(fetches);
    });
  });
});
