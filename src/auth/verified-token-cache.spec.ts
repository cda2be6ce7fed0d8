import type { Identity } from './identity';
import { VerifiedTokenCache } from './verified-token-cache';

const id = (exp?: number): Identity => ({
  subject: 's',
  roles: [],
  scopes: undefined,
  method: 'jwt',
  token: { exp },
});

describe('VerifiedTokenCache', () => {
  it('returns an entry until its time-to-live ends', () => {
    const c = new VerifiedTokenCache(10, 1000);
    c.set('t', id(), 0);
    expect(c.get('t', 999)?.subject).toBe('s');
    expect(c.get('t', 1000)).toBeUndefined();
    expect(c.size).toBe(0);
  });

  it('never keeps an entry past the token exp', () => {
    const c = new VerifiedTokenCache(10, 60_000);
    c.set('t', id(5), 0);
    expect(c.get('t', 4_999)).toBeDefined();
    expect(c.get('t', 5_000)).toBeUndefined();
  });

  it('does not store a token that has already expired', () => {
    const c = new VerifiedTokenCache(10, 60_000);
    c.set('t', id(1), 2_000);
    expect(c.size).toBe(0);
  });

  it('drops the oldest entry when full', () => {
    const c = new VerifiedTokenCache(2, 60_000);
    c.set('a', id(), 0);
    c.set('b', id(), 0);
    c.set('c', id(), 0);
    expect(c.get('a', 1)).toBeUndefined();
    expect(c.get('b', 1)).toBeDefined();
    expect(c.get('c', 1)).toBeDefined();
    expect(c.size).toBe(2);
  });

  it('is emptied by clear', () => {
    const c = new VerifiedTokenCache();
    c.set('a', id(), 0);
    c.clear();
    expect(c.get('a', 1)).toBeUndefined();
  });
});
