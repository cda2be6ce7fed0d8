import { createSecretKey, type KeyObject } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Test } from '@nestjs/testing';
import jwt from 'jsonwebtoken';

import { loadConfig } from '../config/config-loader';
import { GatewayConfig } from '../config/gateway-config';
import { GATEWAY_CONFIG_OPTIONS } from '../config/gateway-config.module-definition';
import { RevocationStore } from '../oauth/revocation.store';
import { GatewaySigningKeys, type SigningKeySet } from '../oauth/signing-keys';
import { RedisConnection } from '../redis/redis-connection';
import { AuthFailure } from './auth-failure';
import { rememberToken } from './bearer-token';
import type { Identity } from './identity';
import { JwtStrategy } from './jwt.strategy';
import { JwtKeyResolver } from './jwt-key-resolver';

// RFC 7515 Appendix A.1: the example HS256 JWS and its key (a JWK `k`, base64url).
const RFC_KEY = Buffer.from(
  'AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow',
  'base64url',
);
const RFC_JWS =
  'eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9' +
  '.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ' +
  '.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk';
const RFC_EXP = 1300819380;

type Outcome =
  | { kind: 'success'; user: Identity }
  | { kind: 'fail'; info: unknown }
  | { kind: 'error'; err: unknown };

interface PassportActions {
  success(user: unknown): void;
  fail(info: unknown): void;
  error(err: unknown): void;
  authenticate(req: unknown): void;
}

/** Runs the strategy as passport would and reports which action it took. */
function run(strategy: JwtStrategy, token: string): Promise<Outcome> {
  return new Promise<Outcome>((resolve) => {
    const s = strategy as unknown as PassportActions;
    s.success = (user) => resolve({ kind: 'success', user: user as Identity });
    s.fail = (info) => resolve({ kind: 'fail', info });
    s.error = (err) => resolve({ kind: 'error', err });
    // Authenticator hands passport the token it parsed; the extractor reads only that.
    const req = { headers: { authorization: `Bearer ${token}` } } as unknown as IncomingMessage;
    rememberToken(req, token);
    s.authenticate(req);
  });
}

describe('JwtStrategy', () => {
  let dir: string;

  /**
   * The real strategy and key resolver over a loaded config; the HS256 key is the RFC's,
   * which is not valid UTF-8 and so cannot be given as `auth.jwt.secret`.
   */
  async function strategyWith(hmac: KeyObject, gatewayYaml = ''): Promise<JwtStrategy> {
    writeFileSync(join(dir, 'gateway.yaml'), gatewayYaml);
    const loaded = loadConfig(dir, {});
    if (!loaded.ok) throw new Error(loaded.problems.join('\n'));
    const keys: SigningKeySet = { hmac, algorithm: 'HS256', signingKey: hmac, jwks: [] };
    const moduleRef = await Test.createTestingModule({
      providers: [
        { provide: GATEWAY_CONFIG_OPTIONS, useValue: { initial: loaded.snapshot, env: {} } },
        GatewayConfig,
        RedisConnection,
        RevocationStore,
        JwtKeyResolver,
        JwtStrategy,
        { provide: GatewaySigningKeys, useValue: { current: keys, of: () => keys } },
      ],
    }).compile();
    return moduleRef.get(JwtStrategy);
  }

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'gw-jwt-'));
    mkdirSync(join(dir, 'services'));
  });

  afterEach(() => {
    jest.restoreAllMocks();
    rmSync(dir, { recursive: true, force: true });
  });

  describe('the RFC 7515 A.1 example JWS', () => {
    it('is a valid signature under the RFC key (checked with jsonwebtoken directly)', () => {
      expect(RFC_KEY).toHaveLength(64);
      expect(Buffer.from(RFC_KEY.toString('utf8'), 'utf8').equals(RFC_KEY)).toBe(false);
      const claims = jwt.verify(RFC_JWS, createSecretKey(RFC_KEY), {
        algorithms: ['HS256'],
        ignoreExpiration: true,
      });
      expect(claims).toEqual({ iss: 'joe', exp: RFC_EXP, 'http://example.com/is_root': true });
    });

    it('is refused as expired', async () => {
      const strategy = await strategyWith(createSecretKey(RFC_KEY));
      const outcome = await run(strategy, RFC_JWS);
      expect(outcome.kind).toBe('error');
      const err = (outcome as { err: unknown }).err;
      expect(err).toBeInstanceOf(AuthFailure);
      expect(err).toMatchObject({ reason: 'expired', description: 'the token has expired' });
    });

    it('is refused as expired even with the largest clock tolerance', async () => {
      const strategy = await strategyWith(
        createSecretKey(RFC_KEY),
        'auth:\n  jwt:\n    clockToleranceSeconds: 3600\n',
      );
      const outcome = await run(strategy, RFC_JWS);
      expect(outcome).toMatchObject({ kind: 'error', err: { reason: 'expired' } });
    });

    it('gets past the expiry check before its exp (then fails only for lacking a subject)', async () => {
      // Shows that expiry, not the signature, is what refuses it at today's date.
      jest.spyOn(Date, 'now').mockReturnValue((RFC_EXP - 10) * 1000);
      const strategy = await strategyWith(createSecretKey(RFC_KEY));
      const outcome = await run(strategy, RFC_JWS);
      expect(outcome).toMatchObject({
        kind: 'error',
        err: { reason: 'invalid_token', description: 'the token has no subject' },
      });
    });

    it('fails on the signature, before any expiry check, under another key', async () => {
      const other = Buffer.from(RFC_KEY);
      other[0] ^= 1;
      const strategy = await strategyWith(createSecretKey(other));
      const outcome = await run(strategy, RFC_JWS);
      expect(outcome.kind).toBe('fail');
      const info = (outcome as { info: unknown }).info;
      expect(info).toBeInstanceOf(jwt.JsonWebTokenError);
      expect(info).toMatchObject({ message: 'invalid signature' });
    });

    it('fails on the signature when one signature byte is changed', async () => {
      const strategy = await strategyWith(createSecretKey(RFC_KEY));
      const [h, p, s] = RFC_JWS.split('.');
      const sig = Buffer.from(s, 'base64url');
      sig[sig.length - 1] ^= 0x80;
      const outcome = await run(strategy, `${h}.${p}.${sig.toString('base64url')}`);
      expect(outcome).toMatchObject({ kind: 'fail', info: { message: 'invalid signature' } });
    });
  });

  describe('with a binary HS256 key', () => {
    it('accepts a fresh token under that key and maps its claims', async () => {
      const key = createSecretKey(RFC_KEY);
      const strategy = await strategyWith(key);
      const token = jwt.sign({ sub: 'joe', roles: ['root', 7], scope: 'a  b' }, key, {
        algorithm: 'HS256',
        expiresIn: 60,
      });
      const outcome = await run(strategy, token);
      const { exp } = jwt.decode(token) as { exp: number };
      expect(outcome).toEqual({
        kind: 'success',
        user: {
          subject: 'joe',
          roles: ['root'],
          scopes: ['a', 'b'],
          method: 'jwt',
          token: { exp, nbf: undefined, revocationId: undefined },
          claims: jwt.decode(token),
        },
      });
    });

    it('refuses an unsecured (alg none) copy of the same claims', async () => {
      const strategy = await strategyWith(createSecretKey(RFC_KEY));
      const body = Buffer.from(JSON.stringify({ sub: 'joe', exp: 4102444800 })).toString(
        'base64url',
      );
      const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${body}.`;
      const outcome = await run(strategy, none);
      expect(outcome).toMatchObject({
        kind: 'fail',
        info: { reason: 'invalid_token', description: 'the token algorithm is not accepted' },
      });
    });
  });
});
