import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

import { Injectable } from '@nestjs/common';
import type * as Argon2Module from 'argon2';
import type * as BcryptModule from 'bcryptjs';

import { GatewayException } from '../common/gateway.exception';
import type { OAuthClientSettings } from '../config/config.schema';
import type { ConfigSnapshot } from '../config/config-loader';
import { HashQueue, HashQueueFull } from './hash-queue';

export interface OAuthClient {
  readonly clientId: string;
  readonly scopes: readonly string[];
  readonly roles: readonly string[];
}

/** Where OAuth clients live: swappable (config today, a database tomorrow). */
export abstract class ClientRegistry {
  /**
   * The client when the id exists and the secret matches; undefined otherwise. `snapshot`
   * is the call's config (the config registry reads its clients from it).
   */
  abstract authenticate(
    clientId: string,
    secret: string,
    snapshot: ConfigSnapshot,
  ): Promise<OAuthClient | undefined>;
}

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** How long a verified hashed secret is remembered (contract: 5 min). */
export const VERIFIED_SECRET_TTL_MS = 5 * 60_000;
/** Hash checks at once: below libuv's 4 threads, which DNS lookups share. */
export const HASHING_CONCURRENCY = 2;
/**
 * Hash checks that may wait for one of those slots; past them a call needing one is 503
 * `overloaded` with Retry-After: 1 (as a shed proxied call), counted as no failure. A client
 * whose secret was verified in the last 5 minutes needs no slot.
 */
export const HASHING_MAX_WAITING = 100;

interface Verified {
  readonly mac: Buffer;
  /** The client's settings the secret was verified against: a reload that changes them drops it. */
  readonly fingerprint: string;
  readonly until: number;
}

/**
 * Clients from gateway.yaml `oauth.clients`. Plain secrets are compared in constant time.
 * Hashed ones (argon2id, bcrypt) are checked at most HASHING_CONCURRENCY at a time, and a
 * verified secret is remembered for 5 minutes as an HMAC under a per-process key (never
 * the secret), so a flood of wrong secrets cannot hold up a client that has authenticated.
 * Unknown ids cost what a known one costs (a decoy hash through the same queue).
 */
@Injectable()
export class ConfigClientRegistry extends ClientRegistry {
  // A fixed hash to verify against for unknown ids, so they take as long as known ones.
  private static readonly decoy = digest('decoy');
  /** Decoy hashes made with the configured hashes' own parameters, once each. */
  private readonly decoyHashes = new Map<string, Promise<string>>();
  private readonly macKey = randomBytes(32);
  /** One entry per registered client at most: bounded by the config. */
  private readonly verified = new Map<string, Verified>();
  private readonly fingerprints = new WeakMap<object, string>();
  private readonly hashing = new HashQueue(HASHING_CONCURRENCY, HASHING_MAX_WAITING);

  /** Hash checks waiting for a slot (at most HASHING_MAX_WAITING). */
  get pendingHashChecks(): number {
    return this.hashing.pending;
  }

  async authenticate(
    clientId: string,
    secret: string,
    snapshot: ConfigSnapshot,
  ): Promise<OAuthClient | undefined> {
    try {
      return await this.check(clientId, secret, snapshot);
    } catch (e) {
      if (e instanceof HashQueueFull) {
        throw new GatewayException(503, 'overloaded', { 'Retry-After': '1' });
      }
      throw e;
    }
  }

  private async check(
    clientId: string,
    secret: string,
    snapshot: ConfigSnapshot,
  ): Promise<OAuthClient | undefined> {
    const clients = snapshot.gateway.oauth.clients;
    const entry = clients.find((c) => c.clientId === clientId);
    if (!entry || entry.clientSecret === '') {
      // Unknown ids cost what a known one costs: with hashed secrets configured, a hash check
      // of the same kind and parameters; otherwise one digest comparison.
      const hashed = clients.find((c) => c.secretHash !== undefined)?.secretHash;
      if (hashed) {
        const decoy = await this.decoyFor(hashed);
        await this.hashing.run(() => verifyHash(decoy, secret));
      } else timingSafeEqual(digest(secret), ConfigClientRegistry.decoy);
      return undefined;
    }
    const ok =
      entry.secretHash !== undefined
        ? await this.verifyHashed(entry, secret)
        : timingSafeEqual(digest(secret), digest(entry.clientSecret ?? ''));
    return ok ? { clientId: entry.clientId, scopes: entry.scopes, roles: entry.roles } : undefined;
  }

  private async verifyHashed(entry: OAuthClientSettings, secret: string): Promise<boolean> {
    const hash = entry.secretHash as string;
    const mac = createHmac('sha256', this.macKey).update(secret, 'utf8').digest();
    const fingerprint = this.fingerprintOf(entry);
    const known = this.verified.get(entry.clientId);
    const now = Date.now();
    if (known && known.until > now && known.fingerprint === fingerprint) {
      if (timingSafeEqual(known.mac, mac)) return true;
    }
    const ok = await this.hashing.run(() => verifyHash(hash, secret));
    if (ok) {
      this.verified.set(entry.clientId, { mac, fingerprint, until: now + VERIFIED_SECRET_TTL_MS });
    }
    return ok;
  }

  private fingerprintOf(entry: OAuthClientSettings): string {
    let f = this.fingerprints.get(entry);
    if (f === undefined) {
      f = JSON.stringify([entry.secretHash, entry.scopes, entry.roles]);
      this.fingerprints.set(entry, f);
    }
    return f;
  }

  private decoyFor(model: string): Promise<string> {
    // `$argon2id$v=19$m=…,t=…,p=…$salt$hash` / `$2b$10$…`: the parameters, not the secret.
    const params = model.startsWith('$argon2')
      ? model.split('$').slice(0, 4).join('$')
      : model.slice(0, 7);
    let decoy = this.decoyHashes.get(params);
    if (!decoy) {
      decoy = this.hashing.run(() =>
        model.startsWith('$argon2')
          ? argon2Decoy(params)
          : bcrypt().hash('decoy', Number(model.slice(4, 6))),
      );
      this.decoyHashes.set(params, decoy);
      // Refused (the queue was full) or failed: made again by the next call, not kept.
      const made = decoy;
      void made.catch(() => {
        if (this.decoyHashes.get(params) === made) this.decoyHashes.delete(params);
      });
    }
    return decoy;
  }
}

// Loaded on first use: a gateway without hashed secrets never loads the native argon2.
type Argon2 = typeof Argon2Module;
type Bcrypt = typeof BcryptModule;
let argon2Module: Argon2 | undefined;
let bcryptModule: Bcrypt | undefined;
/* eslint-disable @typescript-eslint/no-require-imports -- lazy loading, see above */
const argon2 = (): Argon2 => (argon2Module ??= require('argon2') as Argon2);
const bcrypt = (): Bcrypt => (bcryptModule ??= require('bcryptjs') as Bcrypt);
/* eslint-enable @typescript-eslint/no-require-imports */

function verifyHash(hash: string, secret: string): Promise<boolean> {
  return hash.startsWith('$argon2')
    ? argon2()
        .verify(hash, secret)
        .catch(() => false)
    : bcrypt().compare(secret, hash);
}

/** An argon2id hash with the same m, t and p as the configured one. */
function argon2Decoy(params: string): Promise<string> {
  const get = (k: string, fallback: number) => {
    const m = new RegExp(`${k}=(\\d+)`).exec(params);
    return m ? Number(m[1]) : fallback;
  };
  const a = argon2();
  return a.hash('decoy', {
    type: a.argon2id,
    memoryCost: get('m', 65536),
    timeCost: get('t', 3),
    parallelism: get('p', 4),
  });
}
