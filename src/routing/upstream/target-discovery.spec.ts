import type { RecordWithTtl } from 'node:dns';

import {
  type DnsClient,
  MAX_ADDRESSES_PER_NAME,
  MAX_SRV_RECORDS,
  resolveSpec,
} from './target-discovery';

// A hostile zone: every name answers with thousands of records. (The e2e spec runs the
// same code against a real DNS server; here the answer sizes are what is under test.)
function floodingDns(): DnsClient & { lookups: number } {
  const many = (n: number, f: (i: number) => string): RecordWithTtl[] =>
    Array.from({ length: n }, (_, i) => ({ address: f(i), ttl: 30 }));
  const client = {
    lookups: 0,
    resolve4: (): Promise<RecordWithTtl[]> => {
      client.lookups++;
      return Promise.resolve(many(5000, (i) => `10.${(i >> 8) & 255}.${i & 255}.1`));
    },
    resolve6: (): Promise<RecordWithTtl[]> => Promise.resolve([]),
    resolveSrv: () =>
      Promise.resolve(
        Array.from({ length: 3000 }, (_, i) => ({
          name: `n${i}.flood.test`,
          port: 8000 + (i % 100),
          priority: i % 3,
          weight: i % 7,
        })),
      ),
  };
  return client;
}

describe('resolveSpec against a flooding zone', () => {
  it('keeps at most MAX_ADDRESSES_PER_NAME addresses of a name', async () => {
    const r = await resolveSpec(floodingDns(), {
      kind: 'dns',
      url: 'http://api.flood.test:8080',
      weight: 1,
    });
    expect(r.addresses).toHaveLength(MAX_ADDRESSES_PER_NAME);
    expect(new Set(r.addresses.map((a) => a.url)).size).toBe(MAX_ADDRESSES_PER_NAME);
  });

  it('looks up at most MAX_SRV_RECORDS SRV targets, the most preferred first', async () => {
    const dns = floodingDns();
    const r = await resolveSpec(dns, { kind: 'srv', name: '_http._tcp.flood.test' });
    expect(dns.lookups).toBe(MAX_SRV_RECORDS);
    expect(new Set(r.addresses.map((a) => a.priority))).toEqual(new Set([0]));
    expect(r.addresses).toHaveLength(MAX_ADDRESSES_PER_NAME);
  });
});
