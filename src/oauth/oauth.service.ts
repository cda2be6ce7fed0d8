import type { IncomingHttpHeaders, ServerResponse } from 'node:http';

import { Injectable } from '@nestjs/common';

import type { RequestContext } from '../common/request-context';
import { GatewayConfig, snapshotFor } from '../config/gateway-config';
import { AuditLog } from '../logging/audit-log';
import { ClientAuthLimits } from './client-auth-limits';
import { formFields, MAX_CREDENTIAL_LENGTH, presentedClient } from './client-credentials';
import { ClientRegistry, type OAuthClient } from './client-registry';
import { invalidRequest, OAuthError } from './oauth-error';
import { RevocationStore } from './revocation.store';
import { type IssuedToken, TokenService } from './token.service';

export interface CallerFacts {
  readonly headers: IncomingHttpHeaders;
  readonly body: unknown;
  readonly requestId: string;
  readonly clientIp: string;
  readonly ctx: RequestContext;
  readonly res: ServerResponse;
}

export type Introspection =
  | { active: false }
  | {
      active: true;
      scope?: string;
      client_id: string;
      sub: string;
      exp: number;
      iat: number;
      iss?: string;
      aud?: string | string[];
      token_type: 'Bearer';
    };

/** Client credentials (RFC 6749 §4.4), revocation (RFC 7009), introspection (RFC 7662). */
@Injectable()
export class OAuthService {
  constructor(
    private readonly clients: ClientRegistry,
    private readonly tokens: TokenService,
    private readonly revocations: RevocationStore,
    private readonly audit: AuditLog,
    private readonly config: GatewayConfig,
    private readonly limits: ClientAuthLimits,
  ) {}

  async token(c: CallerFacts): Promise<IssuedToken> {
    const form = formFields(c.headers, c.body);
    try {
      if (form.grant_type === undefined) throw invalidRequest('grant_type is required');
      const client = await this.authenticate(c, form);
      if (form.grant_type !== 'client_credentials') {
        throw new OAuthError(400, 'unsupported_grant_type', 'only client_credentials is supported');
      }
      const scopes = requestedScopes(form.scope, client);
      // rateLimit.tokenEndpoint: this client's issued tokens, nothing for anyone else.
      await this.limits.countIssue(client.clientId, c.ctx, c.res);
      const issued = this.tokens.issue(client, scopes, this.snapshot(c));
      this.audit.record('token issued', c, { clientId: client.clientId, scope: issued.scope });
      return issued;
    } catch (e) {
      if (e instanceof OAuthError) {
        this.audit.record('token refused', c, { error: e.error, clientId: safeId(form) });
      }
      throw e;
    }
  }

  async revoke(c: CallerFacts): Promise<void> {
    const form = formFields(c.headers, c.body);
    const client = await this.authenticate(c, form);
    if (form.token === undefined) throw invalidRequest('token is required');
    // Expired tokens need no revocation; unknown or invalid ones are answered 200 (§2.2).
    const snapshot = this.snapshot(c);
    const claims = this.tokens.verifyOwn(form.token, snapshot, true);
    if (!claims) return;
    if (claims.client_id !== client.clientId) {
      this.audit.record('revocation refused', c, { clientId: client.clientId });
      throw invalidRequest('the token was issued to another client');
    }
    if (claims.exp * 1000 <= Date.now()) return;
    await this.revocations.revoke(claims.jti, claims.exp, snapshot);
    this.audit.record('token revoked', c, { clientId: client.clientId, jti: claims.jti });
  }

  async introspect(c: CallerFacts): Promise<Introspection> {
    const form = formFields(c.headers, c.body);
    await this.authenticate(c, form);
    if (form.token === undefined) throw invalidRequest('token is required');
    const snapshot = this.snapshot(c);
    const claims = this.tokens.verifyOwn(form.token, snapshot);
    if (!claims || (await this.revocations.isRevoked(claims.jti, snapshot))) {
      return { active: false };
    }
    // A token of a client removed from oauth.clients is refused everywhere, so not active.
    if (!snapshot.gateway.oauth.clients.some((k) => k.clientId === claims.client_id)) {
      return { active: false };
    }
    return {
      active: true,
      scope: claims.scope,
      client_id: claims.client_id,
      sub: claims.sub,
      exp: claims.exp,
      iat: claims.iat,
      iss: claims.iss,
      aud: claims.aud,
      token_type: 'Bearer',
    };
  }

  /** The config the call started with. */
  private snapshot(c: CallerFacts) {
    return snapshotFor(c.ctx, this.config);
  }

  /**
   * Client authentication for the three endpoints: an address past
   * `rateLimit.clientAuthFailures` is refused (429) before anything is read or hashed, and
   * every invalid_client answer counts against the address, never against the client.
   */
  private async authenticate(c: CallerFacts, form: Record<string, string>): Promise<OAuthClient> {
    await this.limits.assertMayAuthenticate(c.ctx, c.res);
    try {
      const presented = presentedClient(c.headers, form);
      const client = await this.clients.authenticate(
        presented.clientId,
        presented.secret,
        this.snapshot(c),
      );
      if (client) return client;
      this.audit.record('client authentication failed', c, { clientId: presented.clientId });
      throw new OAuthError(
        401,
        'invalid_client',
        'client authentication failed',
        presented.method === 'client_secret_basic'
          ? { 'WWW-Authenticate': 'Basic realm="api-gateway"' }
          : {},
      );
    } catch (e) {
      if (e instanceof OAuthError && e.error === 'invalid_client')
        await this.limits.recordFailure(c.ctx);
      throw e;
    }
  }
}

function requestedScopes(scope: string | undefined, client: OAuthClient): readonly string[] {
  if (scope === undefined) return client.scopes;
  const asked = scope.split(' ').filter((s) => s !== '');
  const unknown = asked.filter((s) => !client.scopes.includes(s));
  if (unknown.length > 0 || asked.length === 0) {
    throw new OAuthError(
      400,
      'invalid_scope',
      'the requested scope is not allowed for this client',
    );
  }
  return [...new Set(asked)];
}

/** The client_id as presented, for the audit line (a form field, never the secret). */
function safeId(form: Record<string, string>): string | undefined {
  const id = form.client_id;
  return id !== undefined && id.length > MAX_CREDENTIAL_LENGTH
    ? id.slice(0, MAX_CREDENTIAL_LENGTH)
    : id;
}
