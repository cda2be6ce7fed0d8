import { type ExecutionContext, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { AuthGuard } from '@nestjs/passport';

import { GatewayException } from '../common/gateway.exception';
import type { GatewayRequest } from '../common/request-context';
import type { ConfigSnapshot } from '../config/config-loader';
import { GatewayConfig, snapshotFor } from '../config/gateway-config';
import { AuditLog } from '../logging/audit-log';
import { GatewayMetrics } from '../metrics/gateway-metrics';
import { RevocationStore } from '../oauth/revocation.store';
import { ApiKeyStrategy } from './api-key.strategy';
import { AuthFailure } from './auth-failure';
import { type BearerCredentials, parseBearer, rememberToken } from './bearer-token';
import type { Identity } from './identity';
import { assertCurrent } from './token-checks';
import { VerifiedTokenCache } from './verified-token-cache';

export type AuthMode = 'jwt' | 'apiKey' | 'any';

/** Turns passport's (err, user, info) into an Identity or an AuthFailure. */
function settle(err: unknown, user: unknown, info: unknown): Identity {
  if (err instanceof AuthFailure || err instanceof GatewayException) throw err;
  if (user) return user as Identity;
  const cause = err ?? info;
  if (cause instanceof AuthFailure) throw cause;
  const message = cause instanceof Error ? cause.message : '';
  if (message === 'No auth token') throw new AuthFailure('missing', 'no token was sent');
  throw new AuthFailure('invalid_token', 'the token is not valid');
}

class JwtPassportGuard extends AuthGuard('jwt') {
  override handleRequest<T>(err: unknown, user: unknown, info: unknown): T {
    return settle(err, user, info) as T;
  }
}

class ApiKeyPassportGuard extends AuthGuard('api-key') {
  override handleRequest<T>(err: unknown, user: unknown, info: unknown): T {
    return settle(err, user, info) as T;
  }
}

/**
 * Authentication through passport's strategies (`jwt`, `api-key`) for both the proxied
 * routes and the gateway's own endpoints; failures become 401s with RFC 6750 challenges.
 */
@Injectable()
export class Authenticator implements OnModuleDestroy {
  private readonly jwt = new JwtPassportGuard();
  private readonly apiKey = new ApiKeyPassportGuard();
  private readonly verified = new VerifiedTokenCache();
  private readonly unsubscribe: () => void;

  constructor(
    private readonly keys: ApiKeyStrategy,
    private readonly config: GatewayConfig,
    private readonly audit: AuditLog,
    private readonly metrics: GatewayMetrics,
    private readonly revocations: RevocationStore,
  ) {
    this.unsubscribe = config.onChange(() => () => this.verified.clear());
  }

  onModuleDestroy(): void {
    this.unsubscribe();
  }

  /** Tokens in the verified-token cache (bounded: see VerifiedTokenCache). */
  get verifiedTokenCount(): number {
    return this.verified.size;
  }

  async authenticate(context: ExecutionContext, mode: AuthMode): Promise<Identity> {
    const req = context.switchToHttp().getRequest<GatewayRequest>();
    const credentials = parseBearer(req.headers.authorization);
    const bearer = credentials.kind !== 'none';
    const useJwt = mode === 'jwt' || (mode === 'any' && bearer);
    const snapshot = snapshotFor(req.gateway, this.config);
    try {
      if (mode === 'any' && !bearer && req.headers[this.keys.headerOf(snapshot)] === undefined) {
        throw new AuthFailure('missing', 'no credentials were sent');
      }
      let identity: Identity;
      if (useJwt) identity = await this.viaJwt(context, req, credentials);
      else {
        await this.apiKey.canActivate(context);
        identity = (req as GatewayRequest & { user?: Identity }).user as Identity;
      }
      req.gateway.identity = identity;
      return identity;
    } catch (e) {
      if (!(e instanceof AuthFailure)) throw e;
      throw this.fail(req, mode, e, useJwt);
    }
  }

  /**
   * The identity of a bearer token verified before (the cache), checked as authenticate()
   * checks it but without a promise; undefined when authenticate() must run (API-key mode,
   * no token or a malformed one, a token not in the cache, or one whose revocation the
   * store is asked about). Failures are thrown as authenticate() throws them.
   */
  knownIdentity(req: GatewayRequest, mode: AuthMode): Identity | undefined {
    if (mode === 'apiKey') return undefined;
    const credentials = parseBearer(req.headers.authorization);
    if (credentials.kind !== 'token') return undefined;
    const now = Date.now();
    const cached = this.verified.get(credentials.token, now);
    if (!cached || cached.token?.revocationId !== undefined) return undefined;
    try {
      this.assertCurrent(req, cached, now);
    } catch (e) {
      if (!(e instanceof AuthFailure)) throw e;
      throw this.fail(req, mode, e, true);
    }
    req.gateway.identity = cached;
    return cached;
  }

  /** Records a failure and builds its 401 with the challenges of the route's mode. */
  fail(
    req: GatewayRequest,
    mode: AuthMode,
    e: AuthFailure,
    viaJwt = mode === 'jwt',
  ): GatewayException {
    this.refuse(req, e);
    return new GatewayException(401, e.description, {
      'WWW-Authenticate': this.challenges(
        mode,
        viaJwt ? e : undefined,
        snapshotFor(req.gateway, this.config),
      ),
    });
  }

  /**
   * passport's JWT strategy, once per token per minute at most: a token it verified is
   * taken from the cache, and only what can change between calls is checked again.
   */
  private async viaJwt(
    context: ExecutionContext,
    req: GatewayRequest,
    credentials: BearerCredentials,
  ): Promise<Identity> {
    if (credentials.kind === 'none') throw new AuthFailure('missing', 'no token was sent');
    if (credentials.kind === 'malformed') {
      throw new AuthFailure('invalid_token', 'the Authorization header is malformed');
    }
    const token = credentials.token;
    const now = Date.now();
    const cached = this.verified.get(token, now);
    if (cached) {
      const snapshot = this.assertCurrent(req, cached, now);
      const revocationId = cached.token?.revocationId;
      if (
        revocationId !== undefined &&
        (await this.revocations.isRevoked(revocationId, snapshot))
      ) {
        throw new AuthFailure('revoked', 'the token has been revoked');
      }
      return cached;
    }
    // passport-jwt's extractor returns exactly this string (see JwtStrategy).
    rememberToken(req, token);
    await this.jwt.canActivate(context);
    const identity = (req as GatewayRequest & { user?: Identity }).user as Identity;
    this.verified.set(token, identity, now);
    return identity;
  }

  /** A cached token's `exp` and `nbf`, checked on every call. Returns the call's snapshot. */
  private assertCurrent(req: GatewayRequest, cached: Identity, now: number): ConfigSnapshot {
    const snapshot = snapshotFor(req.gateway, this.config);
    assertCurrent(cached.token ?? {}, snapshot.gateway.auth.jwt.clockToleranceSeconds, now / 1000);
    return snapshot;
  }

  /** Records an authorisation refusal (403) like an authentication one. */
  refuse(req: GatewayRequest, failure: AuthFailure): void {
    this.metrics.authFailure(failure.reason);
    const ctx = req.gateway;
    const forbidden =
      failure.reason === 'forbidden_role' || failure.reason === 'insufficient_scope';
    const who = { requestId: ctx.id, clientIp: ctx.clientIp };
    this.audit.record(forbidden ? 'forbidden' : 'authentication failed', who, {
      reason: failure.reason,
      route: ctx.routeLabel,
      subject: ctx.identity?.subject,
    });
  }

  /** RFC 6750 §3: the Bearer challenge names an error only when a token was sent and failed. */
  private challenges(
    mode: AuthMode,
    jwtFailure: AuthFailure | undefined,
    snapshot: ConfigSnapshot,
  ): string[] {
    const out: string[] = [];
    if (mode !== 'apiKey') {
      const e = jwtFailure;
      out.push(
        !e || e.reason === 'missing'
          ? 'Bearer realm="api-gateway"'
          : `Bearer realm="api-gateway", error="invalid_token", error_description="${e.description}"`,
      );
    }
    if (mode !== 'jwt') {
      out.push(`ApiKey header="${snapshot.gateway.auth.apiKeys.header}"`);
    }
    return out;
  }
}
