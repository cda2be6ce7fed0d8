import { createHash, timingSafeEqual } from 'node:crypto';

import { Injectable } from '@nestjs/common';
import argon2 from 'argon2';
import bcrypt from 'bcryptjs';

import { GatewayConfig } from '../config/gateway-config';

export interface OAuthClient {
  readonly clientId: string;
  readonly scopes: readonly string[];
  readonly roles: readonly string[];
}

/** Where OAuth clients live: swappable (config today, a database tomorrow). */
export abstract class ClientRegistry {
  /** The client when the id exists and the secret matches; undefined otherwise. */
  abstract authenticate(clientId: string, secret: string): Promise<OAuthClient | undefined>;
}

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** Clients from gateway.yaml `oauth.clients`; plain secrets compared in constant time. */
@Injectable()
export class ConfigClientRegistry extends ClientRegistry {
  // A fixed hash to verify against for unknown ids, so they take as long as known ones.
  private static readonly decoy = digest('decoy');

  constructor(private readonly config: GatewayConfig) {
    super();
  }

  async authenticate(clientId: string, secret: string): Promise<OAuthClient | undefined> {
    const entry = this.config.current.gateway.oauth.clients.find((c) => c.clientId === clientId);
    if (!entry || entry.clientSecret === '') {
      timingSafeEqual(digest(secret), ConfigClientRegistry.decoy);
      return undefined;
    }
    let ok: boolean;
    if (entry.secretHash !== undefined) {
      ok = entry.secretHash.startsWith('$argon2')
        ? await argon2.verify(entry.secretHash, secret).catch(() => false)
        : await bcrypt.compare(secret, entry.secretHash);
    } else {
      ok = timingSafeEqual(digest(secret), digest(entry.clientSecret ?? ''));
    }
    return ok ? { clientId: entry.clientId, scopes: entry.scopes, roles: entry.roles } : undefined;
  }
}
