import { randomUUID } from 'node:crypto';

import { Injectable } from '@nestjs/common';
import jwt, { type JwtPayload } from 'jsonwebtoken';

import type { ConfigSnapshot } from '../config/config-loader';
import type { OAuthClient } from './client-registry';
import { GatewaySigningKeys } from './signing-keys';

export interface IssuedToken {
  readonly access_token: string;
  readonly token_type: 'Bearer';
  readonly expires_in: number;
  readonly scope: string;
}

/** Claims of a token this gateway issued (from /oauth/token). */
export interface GatewayTokenClaims extends JwtPayload {
  sub: string;
  client_id: string;
  jti: string;
  exp: number;
  iat: number;
  scope?: string;
  roles?: string[];
}

/** Signs access tokens and reads back the ones this gateway issued. */
@Injectable()
export class TokenService {
  constructor(private readonly keys: GatewaySigningKeys) {}

  /** Signs with the keys and settings of `snapshot` (the call's). */
  issue(client: OAuthClient, scopes: readonly string[], snapshot: ConfigSnapshot): IssuedToken {
    const g = snapshot.gateway;
    const k = this.keys.of(snapshot);
    const ttl = g.oauth.tokenTtlSeconds;
    const scope = scopes.join(' ');
    const token = jwt.sign(
      { client_id: client.clientId, scope, roles: [...client.roles] },
      k.signingKey,
      {
        algorithm: k.algorithm,
        expiresIn: ttl,
        subject: client.clientId,
        jwtid: randomUUID(),
        ...(k.kid ? { keyid: k.kid } : {}),
        ...(g.auth.jwt.issuer ? { issuer: g.auth.jwt.issuer } : {}),
        ...(g.auth.jwt.audience ? { audience: g.auth.jwt.audience } : {}),
      },
    );
    return { access_token: token, token_type: 'Bearer', expires_in: ttl, scope };
  }

  /**
   * The claims of a token this gateway issued and that verifies now (signature, expiry,
   * issuer); undefined for anything else.
   */
  verifyOwn(
    token: string,
    snapshot: ConfigSnapshot,
    ignoreExpiration = false,
  ): GatewayTokenClaims | undefined {
    const k = this.keys.of(snapshot);
    const iss = snapshot.gateway.auth.jwt.issuer;
    try {
      const claims = jwt.verify(token, k.algorithm === 'RS256' ? k.publicKey! : k.hmac, {
        algorithms: [k.algorithm],
        ignoreExpiration,
        ...(iss ? { issuer: iss } : {}),
      }) as JwtPayload;
      if (typeof claims.jti !== 'string' || typeof claims.client_id !== 'string') return undefined;
      return claims as GatewayTokenClaims;
    } catch {
      return undefined;
    }
  }
}
