import { isIPv6 } from 'node:net';

/**
 * The rate-limit key of a client address: an IPv4 address whole, an IPv6 address cut to its
 * first `ipv6Prefix` bits (one host usually owns a whole /64, so per-address keys would
 * hand it 2^64 buckets). Anything that is not an IPv6 address is returned unchanged.
 */
export function ipKey(ip: string, ipv6Prefix: number): string {
  if (ipv6Prefix >= 128 || !isIPv6(ip)) return ip;
  const words = ipv6Words(ip);
  if (words === undefined) return ip;
  let out = '';
  for (let i = 0; i < 8; i++) {
    const keep = Math.max(0, Math.min(16, ipv6Prefix - i * 16));
    const mask = keep === 0 ? 0 : (0xffff << (16 - keep)) & 0xffff;
    out += (i === 0 ? '' : ':') + (words[i] & mask).toString(16);
  }
  return `${out}/${ipv6Prefix}`;
}

/** The eight 16-bit words of an IPv6 address (`::` and a trailing dotted IPv4 expanded). */
function ipv6Words(ip: string): number[] | undefined {
  let text = ip;
  const zone = text.indexOf('%');
  if (zone !== -1) text = text.slice(0, zone);
  // A dotted IPv4 tail (`::ffff:192.0.2.1`) is the last two words, written differently.
  const lastColon = text.lastIndexOf(':');
  const last = text.slice(lastColon + 1);
  if (last.includes('.')) {
    const o = last.split('.').map(Number);
    const word = (a: number, b: number) => ((a << 8) | b).toString(16);
    text = `${text.slice(0, lastColon + 1)}${word(o[0], o[1])}:${word(o[2], o[3])}`;
  }
  const [head, rest] = text.split('::');
  const parse = (s: string | undefined) =>
    s === undefined || s === '' ? [] : s.split(':').map((h) => parseInt(h, 16));
  const a = parse(head);
  const b = rest === undefined ? [] : parse(rest);
  const fill = 8 - a.length - b.length;
  if (rest === undefined && fill !== 0) return undefined;
  if (fill < 0) return undefined;
  const words = [...a, ...new Array<number>(fill).fill(0), ...b];
  return words.length === 8 && words.every((w) => w >= 0 && w <= 0xffff) ? words : undefined;
}
