import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import type * as IoRedis from 'ioredis';

import { GatewayConfig } from '../config/gateway-config';

/** Commands fail within this long when Redis is slow or gone: callers decide allow/deny. */
export const REDIS_COMMAND_TIMEOUT_MS = 100;

/**
 * The one ioredis connection (REDIS_URL) every module shares. Fail-fast: no offline queue,
 * a short command timeout, reconnection with backoff in the background.
 */
@Injectable()
export class RedisConnection implements OnApplicationShutdown {
  private readonly logger = new Logger('Redis');
  /** Undefined when REDIS_URL is not set. */
  readonly client: IoRedis.Redis | undefined;
  private wasReady = false;

  constructor(config: GatewayConfig) {
    const url = config.current.redisUrl;
    if (!url) return;
    // Loaded only when REDIS_URL is set: a gateway without Redis never loads ioredis.
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy loading
    const { Redis: RedisClient } = require('ioredis') as typeof IoRedis;
    this.client = new RedisClient(url, {
      enableOfflineQueue: false,
      commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
      connectTimeout: 1000,
      maxRetriesPerRequest: 0,
      retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 5), 2000),
      lazyConnect: false,
    });
    this.client.on('ready', () => {
      this.wasReady = true;
      this.logger.log({ msg: 'redis connected' });
    });
    this.client.on('end', () => undefined);
    this.client.on('error', () => {
      // Outages are reported once by their owners (rate-limit store, revocation); the
      // client's own repeated connection errors would flood the log.
      if (this.wasReady) this.logger.warn({ msg: 'redis connection lost' });
      this.wasReady = false;
    });
  }

  get ready(): boolean {
    return this.client?.status === 'ready';
  }

  async onApplicationShutdown(): Promise<void> {
    if (!this.client) return;
    try {
      await this.client.quit();
    } catch {
      this.client.disconnect();
    }
  }
}
