import { AuthFailure } from './auth-failure';

/** The per-call facts of a verified token: checked on every call, cached or not. */
export interface TokenTimes {
  /** `exp` and `nbf` in seconds, when the token has them. */
  readonly exp?: number;
  readonly nbf?: number;
  /** The `jti` of a token this gateway issued: its revocation is read on every call. */
  readonly revocationId?: string;
}

/** `exp` and `nbf` against now, with the configured clock tolerance. */
export function assertCurrent(t: TokenTimes, toleranceSeconds: number, nowSeconds: number): void {
  if (t.exp !== undefined && nowSeconds - toleranceSeconds >= t.exp) {
    throw new AuthFailure('expired', 'the token has expired');
  }
  if (t.nbf !== undefined && nowSeconds + toleranceSeconds < t.nbf) {
    throw new AuthFailure('invalid_token', 'the token is not valid yet');
  }
}
