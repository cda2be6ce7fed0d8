import { parseSize } from './size';

describe('parseSize', () => {
  it.each([
    ['512', 512],
    ['512b', 512],
    ['1kb', 1024],
    ['16kb', 16_384],
    ['1mb', 1_048_576],
    ['2mb', 2_097_152],
    ['8KB', 8192],
    ['3Mb', 3_145_728],
    [' 10 kb ', 10_240],
  ])('reads %j as %d bytes', (input, bytes) => {
    expect(parseSize(input)).toBe(bytes);
  });

  it('takes a positive integer number as bytes', () => {
    expect(parseSize(4096)).toBe(4096);
  });

  it.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])('refuses the number %p', (n) => {
    expect(parseSize(n)).toBeUndefined();
  });

  it.each(['', 'kb', '0', '0kb', '-1kb', '1.5mb', '1gb', '1 k', '1mbb', 'mb1', '1e3', 'abc'])(
    'refuses %j',
    (input) => {
      expect(parseSize(input)).toBeUndefined();
    },
  );

  it('refuses a size past the safe integer range', () => {
    expect(parseSize('9007199254740993')).toBeUndefined();
    expect(parseSize('99999999999999mb')).toBeUndefined();
  });
});
