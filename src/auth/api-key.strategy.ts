import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

import { Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import { Strategy } from 'passport-custom';

import { contextOf } from '../common/request-context';
import type { ConfigSnapshot } from '../config/config-loader';
import { GatewayConfig, snapshotFor, type SnapshotPart } from '../config/gateway-config';
import { AuthFailure } from './auth-failure';
import type { Identity } from './identity';

interface KeyEntry {
  readonly digest: Buffer;
  readonly identity: Identity;
}

interface KeyTable {
  readonly header: string;
  readonly entries: readonly KeyEntry[];
}

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/**
 * API keys from `auth.apiKeys`: the presented key's SHA-256 is compared in constant time
 * with every entry's (entries hold either the key or its `sha256`, never compared as text).
 */
@Injectable()
export class ApiKeyStrategy extends PassportStrategy(Strategy, 'api-key') {
  private readonly tables: SnapshotPart<KeyTable>;

  constructor(private readonly config: GatewayConfig) {
    super();
    this.tables = config.derive((s) => build(s));
  }

  /** The header name the keys come in (lower-case) under a call's snapshot. */
  headerOf(snapshot: ConfigSnapshot): string {
    return this.tables.of(snapshot).header;
  }

  validate(req: IncomingMessage): Identity {
    const table = this.tables.of(snapshotFor(contextOf(req), this.config));
    const value = req.headers[table.header];
    if (typeof value !== 'string' || value === '') {
      throw new AuthFailure('missing', 'no API key was sent');
    }
    const digest = sha256(value);
    let found: Identity | undefined;
    for (const e of table.entries) {
      if (timingSafeEqual(digest, e.digest) && !found) found = e.identity;
    }
    if (!found) throw new AuthFailure('invalid_api_key', 'the API key is not valid');
    return found;
  }
}

function build(s: ConfigSnapshot): KeyTable {
  const a = s.gateway.auth.apiKeys;
  const entries: KeyEntry[] = [];
  for (const k of a.keys) {
    if (k.key === '') continue;
    const digest = k.sha256 !== undefined ? Buffer.from(k.sha256, 'hex') : sha256(k.key ?? '');
    entries.push({
      digest,
      identity: { subject: k.name, roles: k.roles, scopes: undefined, method: 'apiKey' },
    });
  }
  return { header: a.header.toLowerCase(), entries };
}
