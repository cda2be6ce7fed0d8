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
  /** Decoy hashes made with the configured hashes' own parameters, once each. */
  private readonly decoyHashes = new Map<string, Promise<string>>();

  constructor(private readonly config: GatewayConfig) {
    super();
  }

  async authenticate(clientId: string, secret: string): Promise<OAuthClient | undefined> {
    const clients = this.config.current.gateway.oauth.clients;
    const entry = clients.find((c) => c.clientId === clientId);
    if (!entry || entry.clientSecret === '') {
      // Unknown ids cost what a known one costs: with hashed secrets configured, a hash check
      // of the same kind and parameters; otherwise one digest comparison.
      const hashed = clients.find((c) => c.secretHash !== undefined)?.secretHash;
      if (hashed) await verifyHash(await this.decoyFor(hashed), secret);
      else timingSafeEqual(digest(secret), ConfigClientRegistry.decoy);
      return undefined;
    }
    const ok =
      entry.secretHash !== undefined
        ? await verifyHash(entry.secretHash, secret)
        : timingSafeEqual(digest(secret), digest(entry.clientSecret ?? ''));
    return ok ? { clientId: entry.clientId, scopes: entry.scopes, roles: entry.roles } : undefined;
  }

  private decoyFor(model: string): Promise<string> {
    // `$argon2id$v=19$m=…,t=…,p=…$salt$hash` / `$2b$10$…`: the parameters, not the secret.
    const params = model.startsWith('$argon2')
      ? model.split('$').slice(0, 4).join('$')
      : model.slice(0, 7);
    let decoy = this.decoyHashes.get(params);
    if (!decoy) {
      decoy = model.startsWith('$argon2')
        ? argon2Decoy(params)
        : bcrypt.hash('decoy', Number(model.slice(4, 6)));
      this.decoyHashes.set(params, decoy);
    }
    return decoy;
  }
}

function verifyHash(hash: string, secret: string): Promise<boolean> {
  return hash.startsWith('$argon2')
    ? argon2.verify(hash, secret).catch(() => false)
    : bcrypt.compare(secret, hash);
}

/** An argon2id hash with the same m, t and p as the configured one. */
function argon2Decoy(params: string): Promise<string> {
  const get = (k: string, fallback: number) => {
    const m = new RegExp(`${k}=(\\d+)`).exec(params);
    return m ? Number(m[1]) : fallback;
  };
  return argon2.hash('decoy', {
    type: argon2.argon2id,
    memoryCost: get('m', 65536),
    timeCost: get('t', 3),
    parallelism: get('p', 4),
  });
}
