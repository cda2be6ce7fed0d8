import type { TokenTimes } from './token-checks';

/** Who the caller is, once authenticated. */
export interface Identity {
  /** X-User-ID: the JWT's `sub` (the client_id for our own tokens) or the API key's name. */
  readonly subject: string;
  readonly roles: readonly string[];
  /** The JWT's `scope` claim split on spaces; undefined when it has none (API keys). */
  readonly scopes: readonly string[] | undefined;
  readonly method: 'jwt' | 'apiKey';
  /** JWT callers: the verified token's claims (plugins read them). */
  readonly claims?: Readonly<Record<string, unknown>>;
  /** JWT callers: the token's times and revocation id, checked again on every call. */
  readonly token?: TokenTimes;
}

declare module '../common/request-context' {
  interface RequestContext {
    identity?: Identity;
  }
}
