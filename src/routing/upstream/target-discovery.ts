import { promises as dns, type RecordWithTtl } from 'node:dns';
import { isIP } from 'node:net';

/** What a configured target asks DNS for (Service discovery). */
export type DiscoverySpec =
  | { readonly kind: 'dns'; readonly url: string; readonly weight: number }
  | { readonly kind: 'srv'; readonly name: string };

/** One address DNS gave: a target of its own. */
export interface DiscoveredAddress {
  /** The URL calls go to: the address in place of the name. */
  readonly url: string;
  readonly weight: number;
  /** SRV priority (lower first); 0 for A/AAAA. */
  readonly priority: number;
  /** Sent as `Host`: the configured name (and port, as configured). */
  readonly host: string;
  /** The TLS server name: the configured host name. */
  readonly servername: string;
}

export interface Resolution {
  readonly addresses: readonly DiscoveredAddress[];
  /** When to resolve again: the shortest A/AAAA TTL, or refreshSeconds (SRV has no TTL). */
  readonly ttlSeconds: number | undefined;
}

/** The DNS calls discovery makes; a Resolver from node:dns fits. */
export interface DnsClient {
  resolve4(host: string, options: { ttl: true }): Promise<RecordWithTtl[]>;
  resolve6(host: string, options: { ttl: true }): Promise<RecordWithTtl[]>;
  resolveSrv(
    name: string,
  ): Promise<{ name: string; port: number; priority: number; weight: number }[]>;
}

/**
 * DNS answers are input too: a zone (or a spoofed answer) naming thousands of addresses
 * must not become thousands of agents, checks and series, nor thousands of lookups.
 */
/** Addresses (targets) one configured target may become, A/AAAA or SRV alike. */
export const MAX_ADDRESSES_PER_NAME = 64;
export const MAX_SRV_RECORDS = 64;

/** c-ares retries for tens of seconds by default: one attempt of at most 2 s, twice. */
export function makeResolver(servers: readonly string[] | undefined): dns.Resolver {
  const r = new dns.Resolver({ timeout: 2000, tries: 2 });
  if (servers) r.setServers([...servers]);
  return r;
}

/** The addresses `spec` names now; rejects when there are none (or DNS failed). */
export async function resolveSpec(client: DnsClient, spec: DiscoverySpec): Promise<Resolution> {
  if (spec.kind === 'dns') {
    const u = new URL(spec.url);
    const name = bare(u.hostname);
    const found = await addressesOf(client, name);
    const port = u.port || (u.protocol === 'https:' ? '443' : '80');
    return {
      addresses: found.ips.map((ip) => ({
        url: `${u.protocol}//${hostPart(ip)}:${port}${u.pathname}`,
        weight: spec.weight,
        priority: 0,
        host: u.host,
        servername: name,
      })),
      ttlSeconds: found.ttl,
    };
  }
  const all = await client.resolveSrv(spec.name);
  if (all.length === 0) throw new Error(`no SRV records for ${spec.name}`);
  // The most preferred first (lowest priority, then highest weight), at most MAX_SRV_RECORDS.
  const records = [...all]
    .sort((a, b) => a.priority - b.priority || b.weight - a.weight)
    .slice(0, MAX_SRV_RECORDS);
  const scheme = /^_https\._tcp\./i.test(spec.name) ? 'https:' : 'http:';
  // `_http._tcp.orders.service.consul` → `orders.service.consul`: the service's own name.
  const serviceName = spec.name.replace(/^_[^.]+\._[^.]+\./, '').replace(/\.$/, '');
  const addresses: DiscoveredAddress[] = [];
  let ttl: number | undefined;
  const settled = await Promise.allSettled(
    records.map(async (r) => ({ r, found: await addressesOf(client, r.name.replace(/\.$/, '')) })),
  );
  for (const s of settled) {
    if (s.status !== 'fulfilled') continue;
    const { r, found } = s.value;
    if (found.ttl !== undefined) ttl = ttl === undefined ? found.ttl : Math.min(ttl, found.ttl);
    for (const ip of found.ips) {
      addresses.push({
        url: `${scheme}//${hostPart(ip)}:${r.port}/`,
        // RFC 2782: 0 is "no preference"; the contract reads it as 1 and caps at 1000.
        weight: Math.min(1000, Math.max(1, r.weight)),
        priority: r.priority,
        host: serviceName,
        servername: serviceName,
      });
    }
  }
  if (addresses.length === 0) throw new Error(`no address for the SRV targets of ${spec.name}`);
  // SRV carries no TTL: the addresses' TTL applies to them, refreshSeconds to the records.
  return { addresses: addresses.slice(0, MAX_ADDRESSES_PER_NAME), ttlSeconds: ttl };
}

async function addressesOf(
  client: DnsClient,
  name: string,
): Promise<{ ips: string[]; ttl: number | undefined }> {
  if (isIP(name)) return { ips: [name], ttl: undefined };
  const [v4, v6] = await Promise.allSettled([
    client.resolve4(name, { ttl: true }),
    client.resolve6(name, { ttl: true }),
  ]);
  const records = [
    ...(v4.status === 'fulfilled' ? v4.value : []),
    ...(v6.status === 'fulfilled' ? v6.value : []),
  ];
  if (records.length === 0) {
    const reason = v4.status === 'rejected' ? (v4.reason as Error) : undefined;
    throw new Error(`no A/AAAA records for ${name}${reason ? ` (${reason.message})` : ''}`);
  }
  const ips = [...new Set(records.map((r) => r.address))].sort().slice(0, MAX_ADDRESSES_PER_NAME);
  let ttl = Infinity;
  for (const r of records) ttl = Math.min(ttl, r.ttl);
  return { ips, ttl };
}

function bare(hostname: string): string {
  return hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
}

function hostPart(ip: string): string {
  return isIP(ip) === 6 ? `[${ip}]` : ip;
}

/** Discovery's state for the admin API and /ready. */
export interface DiscoveryStatus {
  readonly source: 'dns' | 'srv';
  readonly name: string;
  readonly resolvedAt: string | null;
  readonly error: string | null;
}

export interface DiscoveryHooks {
  /** A resolution succeeded (the set may be the same as before). */
  resolved(addresses: readonly DiscoveredAddress[]): void;
  /** A resolution failed or returned nothing; `first`: the first failure of an outage. */
  failed(err: Error, first: boolean): void;
}

/**
 * Resolves one spec now and then again every `refreshSeconds`, sooner when an A/AAAA TTL
 * is shorter (never under 1 s). A failure keeps the last good set (the hooks decide).
 */
export class TargetDiscovery {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private resolvedAt: Date | undefined;
  private error: string | undefined;
  private inOutage = false;

  constructor(
    readonly spec: DiscoverySpec,
    private readonly client: DnsClient,
    private readonly refreshSeconds: number,
    private readonly hooks: DiscoveryHooks,
  ) {}

  status(): DiscoveryStatus {
    return {
      source: this.spec.kind,
      name: this.spec.kind === 'dns' ? new URL(this.spec.url).host : this.spec.name,
      resolvedAt: this.resolvedAt?.toISOString() ?? null,
      error: this.error ?? null,
    };
  }

  start(): void {
    this.stopped = false;
    void this.refresh();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private async refresh(): Promise<void> {
    let next = this.refreshSeconds;
    try {
      const r = await resolveSpec(this.client, this.spec);
      if (this.stopped) return;
      this.resolvedAt = new Date();
      this.error = undefined;
      this.inOutage = false;
      if (r.ttlSeconds !== undefined) next = Math.min(next, r.ttlSeconds);
      this.hooks.resolved(r.addresses);
    } catch (err) {
      if (this.stopped) return;
      const e = err instanceof Error ? err : new Error(String(err));
      this.error = e.message;
      this.hooks.failed(e, !this.inOutage);
      this.inOutage = true;
    }
    this.timer = setTimeout(() => void this.refresh(), Math.max(1, next) * 1000);
    this.timer.unref();
  }
}
