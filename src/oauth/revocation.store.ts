import { Injectable, Logger } from '@nestjs/common';

import { GatewayException } from '../common/gateway.exception';
import type { ConfigSnapshot } from '../config/config-loader';
import { GatewayConfig } from '../config/gateway-config';
import { RedisConnection } from '../redis/redis-connection';

/**
 * Revoked token ids (`jti`), kept until the token would have expired anyway: in Redis when
 * REDIS_URL is set (so every instance sees them), else in this process's memory.
 */
@Injectable()
export class RevocationStore {
  private readonly logger = new Logger('Revocation');
  private readonly memory = new Map<string, number>();
  private outage = false;

  constructor(
    private readonly config: GatewayConfig,
    private readonly redis: RedisConnection,
  ) {}

  /** `snapshot`: the call's (its key prefix); the current one by default. */
  async revoke(
    jti: string,
    expiresAtSeconds: number,
    snapshot = this.config.current,
  ): Promise<void> {
    const ttl = Math.max(1, Math.ceil(expiresAtSeconds - Date.now() / 1000));
    const client = this.redis.client;
    if (!client) {
      this.sweep();
      this.memory.set(jti, expiresAtSeconds);
      return;
    }
    try {
      await client.set(key(jti, snapshot), '1', 'EX', ttl);
    } catch {
      throw new GatewayException(503, 'token revocation store unavailable');
    }
  }

  /**
   * With Redis unreachable the rate-limit store's rule applies: `allow` takes the token as
   * not revoked (logged once per outage), `deny` answers 503.
   */
  async isRevoked(jti: string, snapshot = this.config.current): Promise<boolean> {
    const onError = snapshot.gateway.rateLimit.onStoreError;
    const client = this.redis.client;
    if (!client) {
      const exp = this.memory.get(jti);
      return exp !== undefined && exp > Date.now() / 1000;
    }
    try {
      const found = (await client.exists(key(jti, snapshot))) === 1;
      if (this.outage) {
        this.outage = false;
        this.logger.log({ msg: 'revocation store reachable again' });
      }
      return found;
    } catch {
      if (!this.outage) {
        this.outage = true;
        this.logger.warn({ msg: 'revocation store unreachable', onStoreError: onError });
      }
      if (onError === 'deny') {
        throw new GatewayException(503, 'token revocation store unavailable');
      }
      return false;
    }
  }

  private sweep(): void {
    if (this.memory.size < 1000) return;
    const now = Date.now() / 1000;
    for (const [k, exp] of this.memory) if (exp <= now) this.memory.delete(k);
  }
}

function key(jti: string, snapshot: ConfigSnapshot): string {
  return `${snapshot.gateway.rateLimit.redisKeyPrefix}revoked:${jti}`;
}
