import type { IncomingMessage } from 'node:http';

/** RFC 6750 §2.1: `Bearer`, one or more spaces, one b64token, nothing after it. */
const BEARER = /^bearer +([A-Za-z0-9\-._~+/]+=*)$/i;

export type BearerCredentials =
  | { readonly kind: 'none' }
  | { readonly kind: 'malformed' }
  | { readonly kind: 'token'; readonly token: string };

/**
 * The one parse of `Authorization`: the string it yields is the one passport verifies and
 * the verified-token cache is keyed by, so no second parser can read a different token.
 */
export function parseBearer(header: string | undefined): BearerCredentials {
  if (header === undefined) return { kind: 'none' };
  const scheme = /^[^ ]*/.exec(header)?.[0] ?? '';
  if (scheme.toLowerCase() !== 'bearer') return { kind: 'none' };
  const m = BEARER.exec(header);
  return m?.[1] ? { kind: 'token', token: m[1] } : { kind: 'malformed' };
}

/**
 * The parsed token of a request, handed from Authenticator to passport-jwt's extractor, on
 * the request itself (per-request WeakMaps cost young-generation GC time under load; see
 * upstream-target.ts).
 */
const PARSED = Symbol('bearer token');
interface TokenCarrier {
  [PARSED]?: string;
}

export function rememberToken(req: IncomingMessage, token: string): void {
  (req as TokenCarrier)[PARSED] = token;
}

export function tokenOf(req: IncomingMessage): string | null {
  return (req as TokenCarrier)[PARSED] ?? null;
}
