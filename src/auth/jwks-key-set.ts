import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { get as httpGet, type IncomingMessage } from 'node:http';
import { get as httpsGet } from 'node:https';

/** A fetch of the JWKS document: resolves with its parsed body or rejects. */
export type JwksFetch = (uri: string, timeoutMs: number) => Promise<unknown>;

export interface JwksKeySetOptions {
  /** Milliseconds since some epoch; injected by tests. */
  readonly now?: () => number;
  readonly fetch?: JwksFetch;
}

/** Contract, Security, "JWKS refresh". */
export const JWKS_MIN_REFRESH_INTERVAL_MS = 10_000;
export const JWKS_MAX_WAIT_MS = 2_000;
export const JWKS_REFRESH_EVERY_MS = 10 * 60_000;
const FETCH_TIMEOUT_MS = 2_000;
const MAX_DOCUMENT_BYTES = 512 * 1024;
const MAX_KEYS = 100;

/**
 * The keys published at one `jwksUri`. A `kid` that is not known triggers at most one
 * fetch per 10 s, one at a time (single flight); tokens that arrive while it runs wait for
 * it, at most 2 s; until the next fetch may run, unknown `kid`s are refused without one.
 * The set is also refetched when it is 10 min old. A successful fetch replaces the set; a
 * failed one keeps it, so a flood of made-up `kid`s can neither exhaust the fetches nor
 * lock out a key that was published.
 */
export class JwksKeySet {
  private keys: ReadonlyMap<string, KeyObject> = new Map();
  /** The one key of a set that holds exactly one: what a token without `kid` verifies with. */
  private only: KeyObject | undefined;
  private lastAttempt = Number.NEGATIVE_INFINITY;
  private lastSuccess = Number.NEGATIVE_INFINITY;
  private inFlight: Promise<void> | undefined;
  private readonly now: () => number;
  private readonly fetchDocument: JwksFetch;

  constructor(
    readonly uri: string,
    options: JwksKeySetOptions = {},
  ) {
    this.now = options.now ?? (() => Date.now());
    this.fetchDocument = options.fetch ?? fetchJson;
  }

  /** Keys held, by `kid` (at most MAX_KEYS: a fetched document's first 100 keys). */
  get size(): number {
    return this.keys.size;
  }

  /** The key for `kid`, or undefined when the set (as refreshed under the rule) has none. */
  async get(kid: string | undefined): Promise<KeyObject | undefined> {
    const now = this.now();
    const mayFetch = now - this.lastAttempt >= JWKS_MIN_REFRESH_INTERVAL_MS;
    const stale = now - this.lastSuccess >= JWKS_REFRESH_EVERY_MS;
    const known = this.lookup(kid);
    if (known && !stale) return known;
    if (this.inFlight) {
      await this.wait(this.inFlight);
    } else if (mayFetch) {
      await this.wait(this.refresh());
    }
    return this.lookup(kid);
  }

  private lookup(kid: string | undefined): KeyObject | undefined {
    return kid === undefined ? this.only : this.keys.get(kid);
  }

  private refresh(): Promise<void> {
    this.lastAttempt = this.now();
    const run = this.fetchDocument(this.uri, FETCH_TIMEOUT_MS)
      .then((body) => {
        const parsed = parseJwks(body);
        if (!parsed) return; // not a JWKS: keep what is known
        this.keys = parsed.keys;
        this.only = parsed.only;
        this.lastSuccess = this.now();
      })
      .catch(() => undefined) // a failed fetch keeps the keys already known
      .finally(() => {
        this.inFlight = undefined;
      });
    this.inFlight = run;
    return run;
  }

  private async wait(refresh: Promise<void>): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, JWKS_MAX_WAIT_MS);
      timer.unref();
    });
    try {
      await Promise.race([refresh, deadline]);
    } finally {
      clearTimeout(timer);
    }
  }
}

interface ParsedSet {
  readonly keys: ReadonlyMap<string, KeyObject>;
  readonly only: KeyObject | undefined;
}

/**
 * The RSA signature keys of a JWKS document (RFC 7517 §5). Keys for encryption, of another
 * type or algorithm, or that do not parse are skipped; a document without a `keys` array
 * is not a JWKS (undefined).
 */
export function parseJwks(body: unknown): ParsedSet | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const list = (body as { keys?: unknown }).keys;
  if (!Array.isArray(list)) return undefined;
  const keys = new Map<string, KeyObject>();
  const all: KeyObject[] = [];
  for (const entry of list.slice(0, MAX_KEYS)) {
    if (typeof entry !== 'object' || entry === null) continue;
    const jwk = entry as JsonWebKey & { kid?: unknown; use?: unknown; alg?: unknown };
    if (jwk.kty !== 'RSA') continue;
    if (jwk.use !== undefined && jwk.use !== 'sig') continue;
    if (jwk.alg !== undefined && jwk.alg !== 'RS256') continue;
    let key: KeyObject;
    try {
      key = createPublicKey({ key: jwk, format: 'jwk' });
    } catch {
      continue;
    }
    all.push(key);
    if (typeof jwk.kid === 'string' && !keys.has(jwk.kid)) keys.set(jwk.kid, key);
  }
  return { keys, only: all.length === 1 ? all[0] : undefined };
}

/** GET `uri`: 200 with a JSON body of at most 512 KiB, within `timeoutMs`. */
export function fetchJson(uri: string, timeoutMs: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const get = uri.startsWith('https:') ? httpsGet : httpGet;
    const req = get(uri, { headers: { Accept: 'application/json' }, agent: false });
    // The whole exchange, not only an idle socket: a server that drips bytes is cut too.
    const timer = setTimeout(() => req.destroy(new Error('JWKS fetch timed out')), timeoutMs);
    timer.unref();
    req.on('close', () => clearTimeout(timer));
    req.on('error', reject);
    req.on('response', (res: IncomingMessage) => {
      if (res.statusCode !== 200) {
        res.resume();
        reject(new Error(`JWKS fetch answered ${res.statusCode}`));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_DOCUMENT_BYTES) {
          req.destroy(new Error('JWKS document too large'));
          return;
        }
        chunks.push(chunk);
      });
      res.on('error', reject);
      res.on('end', () => {
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        } catch {
          reject(new Error('JWKS document is not JSON'));
        }
      });
    });
  });
}
