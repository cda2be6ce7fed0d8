import type { IncomingMessage } from 'node:http';

import { Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import type { JwtPayload } from 'jsonwebtoken';
import { Strategy, type StrategyOptionsWithRequest } from 'passport-jwt';

import { contextOf } from '../common/request-context';
import { GatewayConfig, snapshotFor } from '../config/gateway-config';
import { RevocationStore } from '../oauth/revocation.store';
import { AuthFailure } from './auth-failure';
import { tokenOf } from './bearer-token';
import type { Identity } from './identity';
import { JwtKeyResolver } from './jwt-key-resolver';
import { assertCurrent, type TokenTimes } from './token-checks';

/**
 * passport-jwt verifies the signature with the key JwtKeyResolver picks for the call's
 * snapshot; the time and audience checks read that snapshot too, so a reload of
 * `auth.jwt` takes effect without re-creating the strategy, and never halfway into a call.
 */
/** Whether the request's token verified with the gateway's own signing key (on the request). */
const OWN_KEYED = Symbol('own signing key');
interface OwnKeyedCarrier {
  [OWN_KEYED]?: boolean;
}

@Injectable()
export class JwtStrategy extends PassportStrategy(Strategy, 'jwt') {
  constructor(
    keys: JwtKeyResolver,
    private readonly config: GatewayConfig,
    private readonly revocations: RevocationStore,
  ) {
    const snapshotOf = (req: IncomingMessage) => snapshotFor(contextOf(req), config);
    const options: StrategyOptionsWithRequest = {
      // The token Authenticator parsed and keys its cache by: one parse, one string.
      jwtFromRequest: (req) => tokenOf(req as IncomingMessage),
      passReqToCallback: true,
      secretOrKeyProvider: (
        _req: IncomingMessage,
        raw: string,
        done: (err: unknown, key?: string) => void,
      ) => {
        const snapshot = snapshotOf(_req);
        keys.resolve(raw, snapshot).then(
          // A KeyObject: jsonwebtoken takes it where the types say string (no re-parse).
          (key) => {
            (_req as OwnKeyedCarrier)[OWN_KEYED] = keys.isOwn(key, snapshot);
            done(null, key as unknown as string);
          },
          (err: unknown) => done(err),
        );
      },
      algorithms: ['HS256', 'RS256'],
      ignoreExpiration: true,
      jsonWebTokenOptions: { ignoreNotBefore: true },
    };
    super(options);
  }

  async validate(req: IncomingMessage, payload: JwtPayload): Promise<Identity> {
    const snapshot = snapshotFor(contextOf(req), this.config);
    const j = snapshot.gateway.auth.jwt;
    const now = Date.now() / 1000;
    const tolerance = j.clockToleranceSeconds;
    // RFC 7519 §4.1.4/4.1.5: NumericDate; anything else is a malformed token, not "no expiry".
    if (payload.exp !== undefined && typeof payload.exp !== 'number') {
      throw new AuthFailure('invalid_token', 'the token exp claim is not a number');
    }
    if (payload.nbf !== undefined && typeof payload.nbf !== 'number') {
      throw new AuthFailure('invalid_token', 'the token nbf claim is not a number');
    }
    if (payload.exp === undefined && j.requireExp) {
      throw new AuthFailure('invalid_token', 'the token has no exp claim');
    }
    // A token signed with the gateway's own key for a client_id no longer in oauth.clients:
    // removing the client from the config ends its tokens (checked again after each reload,
    // which clears the verified-token cache).
    if ((req as OwnKeyedCarrier)[OWN_KEYED] === true && typeof payload.client_id === 'string') {
      const clients = snapshot.gateway.oauth.clients;
      if (!clients.some((c) => c.clientId === payload.client_id)) {
        throw new AuthFailure('invalid_token', 'the token was issued to a client that is gone');
      }
    }
    const gatewayIssued = typeof payload.jti === 'string' && typeof payload.client_id === 'string';
    const times: TokenTimes = {
      exp: payload.exp,
      nbf: payload.nbf,
      revocationId: gatewayIssued ? payload.jti : undefined,
    };
    assertCurrent(times, tolerance, now);
    if (j.issuer && payload.iss !== j.issuer) {
      throw new AuthFailure('invalid_token', 'the token issuer is not accepted');
    }
    if (j.audience) {
      const aud = payload.aud;
      const ok = Array.isArray(aud) ? aud.includes(j.audience) : aud === j.audience;
      if (!ok) throw new AuthFailure('invalid_token', 'the token audience is not accepted');
    }
    if (typeof payload.sub !== 'string' || payload.sub === '') {
      throw new AuthFailure('invalid_token', 'the token has no subject');
    }
    // Tokens from /oauth/token carry jti and client_id: one revocation read each.
    if (
      times.revocationId !== undefined &&
      (await this.revocations.isRevoked(times.revocationId, snapshot))
    ) {
      throw new AuthFailure('revoked', 'the token has been revoked');
    }
    const roles = Array.isArray(payload.roles)
      ? payload.roles.filter((r): r is string => typeof r === 'string')
      : [];
    const scope: unknown = payload.scope;
    return {
      subject: payload.sub,
      roles,
      scopes: typeof scope === 'string' ? scope.split(' ').filter((s) => s !== '') : undefined,
      method: 'jwt',
      token: times,
      claims: payload,
    };
  }
}
