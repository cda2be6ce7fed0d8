import { CONTROL_CHARACTER, INVALID_ENCODING, normalizePath } from './path-normalizer';

describe('normalizePath', () => {
  describe('fast path', () => {
    afterEach(() => jest.restoreAllMocks());

    it.each(['/', '/api/service1/orders/1', '/a/b/', '/.well-known/x', '/a/.../b', '/a/..b/c.'])(
      'returns %s unchanged without splitting it',
      (path) => {
        const split = jest.spyOn(String.prototype, 'split');
        expect(normalizePath(path)).toBe(path);
        expect(split).not.toHaveBeenCalled();
      },
    );

    it('takes the slow path when a dot segment is present', () => {
      const split = jest.spyOn(String.prototype, 'split');
      expect(normalizePath('/a/./b')).toBe('/a/b');
      expect(split).toHaveBeenCalled();
    });
  });

  describe('dot segments', () => {
    it.each([
      ['/a/b/../c', '/a/c'],
      ['/a/./b', '/a/b'],
      ['/a/b/%2e%2e/c', '/a/c'],
      ['/a/%2E/b', '/a/b'],
      ['/a/.%2e/b', '/b'],
      ['/a/%2E%2E', '/'],
    ])('resolves %s to %s', (raw, expected) => {
      expect(normalizePath(raw)).toBe(expected);
    });

    it.each([
      ['/../../etc/passwd', '/etc/passwd'],
      ['/a/../../b', '/b'],
      ['/%2e%2e/%2e%2e/x', '/x'],
      ['/..', '/'],
    ])('keeps %s at the root (%s)', (raw, expected) => {
      expect(normalizePath(raw)).toBe(expected);
    });

    it('keeps segments that only contain dots among other characters', () => {
      expect(normalizePath('/a/.../b/..c/%2e%2e%2e')).toBe('/a/.../b/..c/...');
    });
  });

  describe('slashes', () => {
    it.each([
      ['/a//b///c', '/a/b/c'],
      ['//', '/'],
      ['//a', '/a'],
      ['/a//', '/a/'],
      ['/a//..', '/'],
    ])('collapses %s to %s', (raw, expected) => {
      expect(normalizePath(raw)).toBe(expected);
    });

    it.each([
      ['/a/b/.', '/a/b/'],
      ['/a/b/..', '/a/'],
      ['/a/b/%2E', '/a/b/'],
      ['/a/b/%41/', '/a/b/A/'],
    ])('keeps the trailing slash of %s (%s)', (raw, expected) => {
      expect(normalizePath(raw)).toBe(expected);
    });
  });

  describe('percent-encoding', () => {
    it.each([
      ['/%7e', '/~'],
      ['/%7E', '/~'],
      ['/%41', '/A'],
      ['/%61%2D%5f%2e%30', '/a-_.0'],
    ])('decodes the unreserved escape in %s to %s', (raw, expected) => {
      expect(normalizePath(raw)).toBe(expected);
    });

    it.each([
      ['/a%2fb', '/a%2Fb'],
      ['/a%2Fb', '/a%2Fb'],
      ['/%c3%a9', '/%C3%A9'],
      ['/a%20b', '/a%20b'],
    ])('keeps %s encoded as %s', (raw, expected) => {
      expect(normalizePath(raw)).toBe(expected);
    });

    it('never treats %2F as a separator for dot resolution', () => {
      expect(normalizePath('/a/b%2f..%2fc')).toBe('/a/b%2F..%2Fc');
      expect(normalizePath('/a/%2e%2e%2fb')).toBe('/a/..%2Fb');
    });

    it.each(['/a%zz', '/a%4', '/a%', '/%4g/b', '/%%41', '/ok/%2e/%g0'])(
      'rejects the invalid escape in %s',
      (raw) => {
        expect(normalizePath(raw)).toBe(INVALID_ENCODING);
      },
    );

    it.each(['/a%00', '/%0a/b', '/%0D', '/a%1F', '/a%7f', '/a%7F/%41'])(
      'refuses the encoded control character in %s',
      (raw) => {
        expect(normalizePath(raw)).toBe(CONTROL_CHARACTER);
      },
    );

    it.each([
      ['/a%5cb', '/a%5Cb'],
      ['/%80', '/%80'],
      ['/a%20b', '/a%20b'],
    ])('keeps %s (not a control character) encoded as %s', (raw, expected) => {
      expect(normalizePath(raw)).toBe(expected);
    });
  });

  it.each(['', '*', 'a/b'])('rejects %j, which does not start with /', (raw) => {
    expect(normalizePath(raw)).toBe(INVALID_ENCODING);
  });
});
