/** Values of `gateway_auth_failures_total{reason}`. */
export type AuthFailureReason =
  | 'missing'
  | 'invalid_token'
  | 'expired'
  | 'invalid_api_key'
  | 'forbidden_role'
  | 'insufficient_scope'
  | 'revoked';

/** Why authentication failed; turned into a 401 with the route's challenges by the guard. */
export class AuthFailure extends Error {
  constructor(
    readonly reason: AuthFailureReason,
    /** Safe to show the client: never contains the token or key. */
    readonly description: string,
  ) {
    super(description);
  }
}
