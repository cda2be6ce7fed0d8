import { type JwksServer, startJwksServer } from '../../test/support/jwks-server';
import { publicJwk, rsaPair } from '../../test/support/keys';
import {
  JWKS_MIN_REFRESH_INTERVAL_MS,
  JWKS_REFRESH_EVERY_MS,
  JwksKeySet,
  parseJwks,
} from './jwks-key-set';

// The clock is injected (the set reads time only through it); the JWKS server, the fetch
// and the 2 s wait stay real.
describe('JwksKeySet', () => {
  const first = rsaPair();
  const second = rsaPair();
  const n = (k: { export(o: { format: 'jwk' }): { n?: string } } | undefined) =>
    k?.export({ format: 'jwk' }).n;
  let server: JwksServer;
  let now: number;
  let set: JwksKeySet;

  beforeEach(async () => {
    server = await startJwksServer([publicJwk(first, 'key-1')]);
    now = 1_000_000;
    set = new JwksKeySet(server.uri, { now: () => now });
  });

  afterEach(async () => {
    await server.close();
  });

  it('fetches on the first unknown kid and then serves known keys without a fetch', async () => {
    expect(n(await set.get('key-1'))).toBe(publicJwk(first, 'key-1').n);
    expect(n(await set.get('key-1'))).toBe(publicJwk(first, 'key-1').n);
    expect(server.fetches).toBe(1);
  });

  it('refuses unknown kids without a fetch until 10 s after the last one', async () => {
    await set.get('key-1');
    for (let i = 0; i < 50; i++) expect(await set.get(`made-up-${i}`)).toBeUndefined();
    expect(server.fetches).toBe(1);
    now += JWKS_MIN_REFRESH_INTERVAL_MS - 1;
    expect(await set.get('made-up')).toBeUndefined();
    expect(server.fetches).toBe(1);
    now += 1;
    expect(await set.get('made-up')).toBeUndefined();
    expect(server.fetches).toBe(2);
  });

  it('runs one fetch at a time: concurrent unknown kids wait for the same one', async () => {
    server.delay(200);
    const results = await Promise.all([
      set.get('key-1'),
      ...Array.from({ length: 30 }, (_, i) => set.get(`made-up-${i}`)),
    ]);
    expect(server.fetches).toBe(1);
    expect(server.maxConcurrent).toBe(1);
    expect(n(results[0])).toBe(publicJwk(first, 'key-1').n);
    expect(results.slice(1).every((k) => k === undefined)).toBe(true);
  });

  it('accepts a newly published key at the first refresh allowed after a flood', async () => {
    await set.get('key-1');
    server.publish([publicJwk(first, 'key-1'), publicJwk(second, 'key-2')]);
    // The flood spends the refresh at t0; key-2 must wait for the next one, not for ever.
    now += JWKS_MIN_REFRESH_INTERVAL_MS;
    await set.get('flood-0');
    for (let i = 1; i < 20; i++) await set.get(`flood-${i}`);
    now += JWKS_MIN_REFRESH_INTERVAL_MS;
    expect(n(await set.get('key-2'))).toBe(publicJwk(second, 'key-2').n);
    // known keys were served all along
    expect(n(await set.get('key-1'))).toBe(publicJwk(first, 'key-1').n);
  });

  it('waits at most 2 s for a slow fetch, then refuses the unknown kid', async () => {
    server.delay(5_000);
    const started = Date.now();
    expect(await set.get('key-1')).toBeUndefined();
    const waited = Date.now() - started;
    expect(waited).toBeGreaterThanOrEqual(1_900);
    expect(waited).toBeLessThan(4_000);
  });

  it('keeps the known keys when a refresh fails', async () => {
    await set.get('key-1');
    server.failWith(500);
    now += JWKS_REFRESH_EVERY_MS;
    expect(n(await set.get('key-1'))).toBe(publicJwk(first, 'key-1').n);
    expect(server.fetches).toBe(2);
    // the failed attempt counts: no refetch on every call during the outage
    expect(n(await set.get('key-1'))).toBe(publicJwk(first, 'key-1').n);
    expect(server.fetches).toBe(2);
  });

  it('keeps the known keys when the document is not a JWKS', async () => {
    let body: unknown = { keys: [publicJwk(first, 'key-1')] };
    const fed = new JwksKeySet('http://jwks.invalid/', {
      now: () => now,
      fetch: () => Promise.resolve(body),
    });
    expect(await fed.get('key-1')).toBeDefined();
    body = { error: 'maintenance' };
    now += JWKS_REFRESH_EVERY_MS;
    expect(n(await fed.get('key-1'))).toBe(publicJwk(first, 'key-1').n);
  });

  it('refetches a 10-minute-old set, and a key gone from it stops working', async () => {
    await set.get('key-1');
    server.publish([publicJwk(second, 'key-2')]);
    now += JWKS_REFRESH_EVERY_MS - 1;
    expect(await set.get('key-1')).toBeDefined();
    expect(server.fetches).toBe(1);
    now += 1;
    expect(await set.get('key-1')).toBeUndefined();
    expect(server.fetches).toBe(2);
    expect(await set.get('key-2')).toBeDefined();
  });

  it('gives a token without kid the only key of a one-key set, and none otherwise', async () => {
    expect(n(await set.get(undefined))).toBe(publicJwk(first, 'key-1').n);
    server.publish([publicJwk(first, 'key-1'), publicJwk(second, 'key-2')]);
    now += JWKS_REFRESH_EVERY_MS;
    expect(await set.get(undefined)).toBeUndefined();
  });
});

describe('parseJwks', () => {
  const pair = rsaPair();
  const jwk = publicJwk(pair, 'a');

  it('is undefined for what is not a JWKS', () => {
    expect(parseJwks(null)).toBeUndefined();
    expect(parseJwks('keys')).toBeUndefined();
    expect(parseJwks({ keys: 'x' })).toBeUndefined();
  });

  it('keeps RSA signature keys and skips the rest', () => {
    const parsed = parseJwks({
      keys: [
        jwk,
        { ...jwk, kid: 'enc', use: 'enc' },
        { ...jwk, kid: 'ps', alg: 'PS256' },
        { kty: 'EC', kid: 'ec', crv: 'P-256', x: 'x', y: 'y' },
        { kty: 'RSA', kid: 'broken', n: 'AQAB' },
        42,
        null,
      ],
    });
    expect([...(parsed?.keys.keys() ?? [])]).toEqual(['a']);
  });

  it('reads at most 100 keys', () => {
    const keys = Array.from({ length: 150 }, (_, i) => ({ ...jwk, kid: `k${i}` }));
    expect(parseJwks({ keys })?.keys.size).toBe(100);
  });
});
