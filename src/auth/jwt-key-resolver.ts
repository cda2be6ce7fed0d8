import type { KeyObject } from 'node:crypto';

import { Injectable } from '@nestjs/common';
import jwt from 'jsonwebtoken';

import type { ConfigSnapshot } from '../config/config-loader';
import { GatewayConfig, type SnapshotPart } from '../config/gateway-config';
import { GatewaySigningKeys } from '../oauth/signing-keys';
import { AuthFailure } from './auth-failure';
import { JwksKeySet } from './jwks-key-set';

interface VerificationKeys {
  readonly algorithms: ReadonlySet<string>;
  readonly publicKey: KeyObject | undefined;
  readonly jwks: JwksKeySet | undefined;
}

/**
 * Picks the key a token must verify with from its header's `alg` and `kid`: the
 * algorithm list is an allow-list bound to a key type (HS256 → the secret, RS256 → a
 * public key), so `alg: none` and an RS256 public key used as an HMAC secret never verify.
 * The gateway's own signing key is always trusted.
 */
@Injectable()
export class JwtKeyResolver {
  private readonly keys: SnapshotPart<VerificationKeys>;

  constructor(
    config: GatewayConfig,
    private readonly signing: GatewaySigningKeys,
  ) {
    this.keys = config.derive((s, previous) => this.build(s, previous?.jwks));
  }

  /** The key `rawToken` must verify with under `snapshot` (the call's). */
  async resolve(rawToken: string, snapshot: ConfigSnapshot): Promise<KeyObject> {
    const decoded = jwt.decode(rawToken, { complete: true });
    if (!decoded || typeof decoded.payload === 'string') {
      throw new AuthFailure('invalid_token', 'the token is malformed');
    }
    const { alg, kid } = decoded.header;
    // RFC 7515 §4.1.11: the gateway understands no extension, so any `crit` is refused.
    if ('crit' in decoded.header) {
      throw new AuthFailure('invalid_token', 'the token header has crit extensions');
    }
    const own = this.signing.of(snapshot);
    const k = this.keys.of(snapshot);
    if (alg === 'HS256' && (k.algorithms.has('HS256') || own.algorithm === 'HS256')) {
      return own.hmac;
    }
    if (alg === 'RS256') {
      if (own.kid !== undefined && kid === own.kid && own.publicKey) return own.publicKey;
      if (k.algorithms.has('RS256')) {
        if (k.publicKey) return k.publicKey;
        if (k.jwks) return this.fromJwks(k.jwks, kid);
      }
    }
    throw new AuthFailure('invalid_token', 'the token algorithm is not accepted');
  }

  /** Whether a key returned by resolve() is the gateway's own (tokens from /oauth/token). */
  isOwn(key: KeyObject, snapshot: ConfigSnapshot): boolean {
    const own = this.signing.of(snapshot);
    return key === own.hmac || (own.publicKey !== undefined && key === own.publicKey);
  }

  /** The key set refreshes itself under the contract's rule (jwks-key-set.ts). */
  private async fromJwks(set: JwksKeySet, kid: string | undefined): Promise<KeyObject> {
    const key = await set.get(kid);
    if (!key) throw new AuthFailure('invalid_token', 'no key matches the token');
    return key;
  }

  /** A reload that keeps the same jwksUri keeps its key set (and its refresh clock). */
  private build(s: ConfigSnapshot, previous: JwksKeySet | undefined): VerificationKeys {
    const j = s.gateway.auth.jwt;
    return {
      algorithms: new Set(j.algorithms),
      publicKey: s.keys.jwtPublicKey,
      jwks: j.jwksUri
        ? previous?.uri === j.jwksUri
          ? previous
          : new JwksKeySet(j.jwksUri)
        : undefined,
    };
  }
}
