import {
  createHash,
  createPublicKey,
  createSecretKey,
  type JsonWebKey,
  type KeyObject,
  randomBytes,
} from 'node:crypto';

import { Injectable } from '@nestjs/common';

import type { ConfigSnapshot } from '../config/config-loader';
import { GatewayConfig, type SnapshotPart } from '../config/gateway-config';

export interface SigningKeySet {
  /** HS256 key: auth.jwt.secret, or this process's random key when the secret is empty. */
  readonly hmac: KeyObject;
  readonly algorithm: 'HS256' | 'RS256';
  /** The key tokens from /oauth/token are signed with. */
  readonly signingKey: KeyObject;
  /** RS256: the public half and its kid (RFC 7638 thumbprint). */
  readonly publicKey?: KeyObject;
  readonly kid?: string;
  readonly jwks: readonly JsonWebKey[];
}

/**
 * The gateway's own keys as KeyObjects, made once per config snapshot (never a string
 * secret on the hot path: jsonwebtoken would re-parse it on every verify).
 */
@Injectable()
export class GatewaySigningKeys {
  private readonly processSecret = createSecretKey(randomBytes(32));
  private readonly keys: SnapshotPart<SigningKeySet>;

  constructor(config: GatewayConfig) {
    this.keys = config.derive((s) => this.build(s));
  }

  /** The keys of the current snapshot (outside a call). */
  get current(): SigningKeySet {
    return this.keys.current;
  }

  /** The keys of a call's snapshot. */
  of(snapshot: ConfigSnapshot): SigningKeySet {
    return this.keys.of(snapshot);
  }

  private build(s: ConfigSnapshot): SigningKeySet {
    const secret = s.gateway.auth.jwt.secret;
    const hmac = secret ? createSecretKey(Buffer.from(secret, 'utf8')) : this.processSecret;
    const signing = s.gateway.oauth.signing;
    if (signing.algorithm === 'HS256') {
      return { hmac, algorithm: 'HS256', signingKey: hmac, jwks: [] };
    }
    // Parsed and checked (RSA) when the config loaded.
    const privateKey = s.keys.signingPrivateKey;
    if (!privateKey) throw new Error('oauth.signing.privateKeyFile was not loaded');
    const publicKey = createPublicKey(privateKey);
    const jwk = publicKey.export({ format: 'jwk' });
    const kid = thumbprint(jwk);
    return {
      hmac,
      algorithm: 'RS256',
      signingKey: privateKey,
      publicKey,
      kid,
      jwks: [{ kty: jwk.kty, n: jwk.n, e: jwk.e, kid, alg: 'RS256', use: 'sig' }],
    };
  }
}

/** RFC 7638 JWK thumbprint of an RSA public key, base64url. */
function thumbprint(jwk: JsonWebKey): string {
  const canonical = JSON.stringify({ e: jwk.e, kty: jwk.kty, n: jwk.n });
  return createHash('sha256').update(canonical).digest('base64url');
}
