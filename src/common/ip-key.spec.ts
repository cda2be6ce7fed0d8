import { ipKey } from './ip-key';

describe('ipKey', () => {
  it('keeps an IPv4 address whole', () => {
    expect(ipKey('203.0.113.7', 64)).toBe('203.0.113.7');
  });

  it('cuts IPv6 addresses of one /64 to the same key', () => {
    const a = ipKey('2001:db8:1:2:aaaa:bbbb:cccc:dddd', 64);
    const b = ipKey('2001:db8:1:2::1', 64);
    expect(a).toBe('2001:db8:1:2:0:0:0:0/64');
    expect(b).toBe(a);
    expect(ipKey('2001:db8:1:3::1', 64)).not.toBe(a);
  });

  it('honours prefixes that are not a multiple of 16', () => {
    expect(ipKey('2001:db8:ffff::1', 36)).toBe('2001:db8:f000:0:0:0:0:0/36');
  });

  it('expands :: at either end and an embedded IPv4 tail', () => {
    expect(ipKey('::1', 64)).toBe('0:0:0:0:0:0:0:0/64');
    expect(ipKey('fe80::', 16)).toBe('fe80:0:0:0:0:0:0:0/16');
    expect(ipKey('64:ff9b::192.0.2.33', 112)).toBe('64:ff9b:0:0:0:0:c000:0/112');
    expect(ipKey('64:ff9b:1:2:3:4:192.0.2.33', 128)).toBe('64:ff9b:1:2:3:4:192.0.2.33');
  });

  it('leaves a /128 and anything that is not an address unchanged', () => {
    expect(ipKey('2001:db8::1', 128)).toBe('2001:db8::1');
    expect(ipKey('unknown', 64)).toBe('unknown');
  });
});
