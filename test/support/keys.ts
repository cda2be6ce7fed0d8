// Real keys and hand-built tokens for the auth and OAuth specs.
import { createPublicKey, generateKeyPairSync, type JsonWebKey } from 'node:crypto';

export interface RsaPair {
  /** PKCS#8 PEM, for `jwt.sign` and `oauth.signing.privateKeyFile`. */
  readonly privatePem: string;
  /** SPKI PEM, for `auth.jwt.publicKeyFile`. */
  readonly publicPem: string;
}

/** A fresh 2048-bit RSA key pair as PEM text. */
export function rsaPair(): RsaPair {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

/** The public half as a JWK, with the `kid` and `alg` a JWKS would publish. */
export function publicJwk(pair: RsaPair, kid: string): JsonWebKey {
  const jwk = createPublicKey(pair.publicPem).export({ format: 'jwk' });
  return { ...jwk, kid, alg: 'RS256', use: 'sig' };
}

const b64url = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

/** An unsecured JWS (RFC 7515 §A.5): header `{"alg":"none"}`, the payload, an empty signature. */
export function unsignedToken(payload: Record<string, unknown>): string {
  return `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(payload)}.`;
}

/** The JWT's payload, decoded without verification. */
export function claimsOf(token: string): Record<string, unknown> {
  const part = token.split('.')[1] ?? '';
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;
}

/** The JWT's header, decoded. */
export function headerOf(token: string): Record<string, unknown> {
  const part = token.split('.')[0] ?? '';
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;
}

/**
 * `Authorization: Basic ...` per RFC 6749 §2.3.1: id and secret are each
 * application/x-www-form-urlencoded first, then joined by `:` and base64-encoded.
 */
export function basicAuth(clientId: string, secret: string): string {
  const form = (s: string) => new URLSearchParams([['v', s]]).toString().slice(2);
  return `Basic ${Buffer.from(`${form(clientId)}:${form(secret)}`).toString('base64')}`;
}

export const nowSeconds = (): number => Math.floor(Date.now() / 1000);
