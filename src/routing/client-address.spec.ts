import { ClientAddressResolver, unmapIPv4 } from './client-address';

describe('ClientAddressResolver', () => {
  describe('clientIp', () => {
    it('takes the peer and ignores X-Forwarded-For when trustProxy is false', () => {
      const r = new ClientAddressResolver(false);
      expect(r.clientIp('203.0.113.9', '198.51.100.1')).toBe('203.0.113.9');
    });

    it('takes the peer when trustProxy is an empty list', () => {
      const r = new ClientAddressResolver([]);
      expect(r.clientIp('203.0.113.9', '198.51.100.1')).toBe('203.0.113.9');
    });

    it('ignores X-Forwarded-For from an untrusted peer', () => {
      const r = new ClientAddressResolver(['10.0.0.0/8']);
      expect(r.clientIp('203.0.113.9', '198.51.100.1, 10.0.0.2')).toBe('203.0.113.9');
    });

    it('takes the peer when a trusted peer sends no X-Forwarded-For', () => {
      const r = new ClientAddressResolver(['10.0.0.0/8']);
      expect(r.clientIp('10.0.0.1', undefined)).toBe('10.0.0.1');
    });

    it('takes the right-most untrusted hop behind a trusted peer', () => {
      const r = new ClientAddressResolver(['10.0.0.0/8']);
      expect(r.clientIp('10.0.0.1', '1.1.1.1, 198.51.100.7, 10.0.0.5, 10.9.9.9')).toBe(
        '198.51.100.7',
      );
    });

    it('does not let a client spoof the left-most hop', () => {
      const r = new ClientAddressResolver(['10.0.0.0/8']);
      expect(r.clientIp('10.0.0.1', '10.0.0.99, 198.51.100.7')).toBe('198.51.100.7');
    });

    it('takes the left-most hop when every hop is trusted', () => {
      const r = new ClientAddressResolver(['10.0.0.0/8', '192.168.0.0/16']);
      expect(r.clientIp('10.0.0.1', '192.168.4.4, 10.1.1.1,10.2.2.2')).toBe('192.168.4.4');
    });

    it('trusts a single address given without a prefix length', () => {
      const r = new ClientAddressResolver(['10.0.0.1']);
      expect(r.clientIp('10.0.0.1', '198.51.100.7')).toBe('198.51.100.7');
      expect(r.clientIp('10.0.0.2', '198.51.100.7')).toBe('10.0.0.2');
    });

    it('respects the prefix length of a CIDR', () => {
      const r = new ClientAddressResolver(['192.168.1.0/24']);
      expect(r.clientIp('192.168.1.200', '198.51.100.7')).toBe('198.51.100.7');
      expect(r.clientIp('192.168.2.1', '198.51.100.7')).toBe('192.168.2.1');
    });

    it('joins repeated X-Forwarded-For headers in order', () => {
      const r = new ClientAddressResolver(['10.0.0.0/8']);
      expect(r.clientIp('10.0.0.1', ['198.51.100.1', '198.51.100.2, 10.0.0.3'])).toBe(
        '198.51.100.2',
      );
    });

    it('handles IPv6 CIDRs for peer and hops', () => {
      const r = new ClientAddressResolver(['2001:db8::/32']);
      expect(r.clientIp('2001:db8::1', '2001:db9::5, 2001:db8:ffff::2')).toBe('2001:db9::5');
      expect(r.clientIp('2001:db9::1', '2001:db9::5')).toBe('2001:db9::1');
    });

    it('mixes IPv4 and IPv6 trusted ranges', () => {
      const r = new ClientAddressResolver(['10.0.0.0/8', 'fd00::/8']);
      expect(r.clientIp('fd00::1', '203.0.113.4, 10.0.0.7, fd12::3')).toBe('203.0.113.4');
    });

    it('unmaps ::ffff: hops before checking and returning them', () => {
      const r = new ClientAddressResolver(['10.0.0.0/8']);
      expect(r.clientIp('10.0.0.1', '::ffff:198.51.100.7, ::ffff:10.0.0.5')).toBe('198.51.100.7');
    });
  });

  describe('isTrusted', () => {
    it('is false for everything without trustProxy', () => {
      expect(new ClientAddressResolver(false).isTrusted('127.0.0.1')).toBe(false);
    });

    it('checks IPv4 and IPv6 addresses against the list', () => {
      const r = new ClientAddressResolver(['127.0.0.0/8', '::1']);
      expect(r.isTrusted('127.0.0.1')).toBe(true);
      expect(r.isTrusted('::1')).toBe(true);
      expect(r.isTrusted('128.0.0.1')).toBe(false);
      expect(r.isTrusted('::2')).toBe(false);
    });

    it('is false for something that is not an IP address', () => {
      const r = new ClientAddressResolver(['0.0.0.0/0']);
      expect(r.isTrusted('localhost')).toBe(false);
      expect(r.isTrusted('')).toBe(false);
    });
  });
});

describe('unmapIPv4', () => {
  it('unmaps an IPv4-mapped IPv6 address', () => {
    expect(unmapIPv4('::ffff:10.0.0.1')).toBe('10.0.0.1');
  });

  it.each(['10.0.0.1', '::1', '2001:db8::1', '::ffff:a00:1'])('leaves %s alone', (a) => {
    expect(unmapIPv4(a)).toBe(a);
  });
});
