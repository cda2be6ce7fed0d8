import { BlockList, isIP } from 'node:net';

/**
 * The contract's client-IP rule: the socket's peer, unless that peer is inside
 * `server.trustProxy`; then the right-most untrusted address of its X-Forwarded-For.
 * Built once per config snapshot.
 */
export class ClientAddressResolver {
  private readonly trusted: BlockList | undefined;

  constructor(cidrs: readonly string[] | false) {
    if (cidrs === false || cidrs.length === 0) return;
    const list = new BlockList();
    for (const c of cidrs) {
      const [addr, bits] = c.split('/');
      const family = isIP(addr) === 6 ? 'ipv6' : 'ipv4';
      if (bits === undefined) list.addAddress(addr, family);
      else list.addSubnet(addr, Number(bits), family);
    }
    this.trusted = list;
  }

  isTrusted(address: string): boolean {
    if (!this.trusted) return false;
    const family = isIP(address);
    if (family === 0) return false;
    return this.trusted.check(address, family === 6 ? 'ipv6' : 'ipv4');
  }

  clientIp(peer: string, forwardedFor: string | string[] | undefined): string {
    if (!this.trusted || !this.isTrusted(peer) || forwardedFor === undefined) return peer;
    const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor).split(',');
    let client = peer;
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = unmapIPv4(hops[i].trim());
      if (isIP(hop) === 0) break;
      client = hop;
      if (!this.isTrusted(hop)) break;
    }
    return client;
  }
}

/** `::ffff:10.0.0.1` (an IPv4 peer on a dual-stack socket) -> `10.0.0.1`. */
export function unmapIPv4(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
