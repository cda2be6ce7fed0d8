import { LruMap } from './lru-map';

describe('LruMap', () => {
  it('holds at most maxEntries, evicting the least recently set', () => {
    const m = new LruMap<string, number>(3);
    expect(m.set('a', 1)).toBeUndefined();
    m.set('b', 2);
    m.set('c', 3);
    // `a` set again: now `b` is the least recently used.
    expect(m.set('a', 10)).toBeUndefined();
    expect(m.set('d', 4)).toEqual({ evicted: 'b' });
    expect(m.size).toBe(3);
    expect([...m.entries()]).toEqual([
      ['c', 3],
      ['a', 10],
      ['d', 4],
    ]);
  });

  it('does not count get or has as a use', () => {
    const m = new LruMap<string, number>(2);
    m.set('a', 1);
    m.set('b', 2);
    expect(m.get('a')).toBe(1);
    expect(m.has('a')).toBe(true);
    expect(m.set('c', 3)).toEqual({ evicted: 'a' });
    expect(m.get('a')).toBeUndefined();
  });

  it('deletes from the middle and the ends, and may delete while iterating', () => {
    const m = new LruMap<number, number>(10);
    for (let i = 0; i < 6; i++) m.set(i, i);
    expect(m.delete(0)).toBe(true);
    expect(m.delete(3)).toBe(true);
    expect(m.delete(5)).toBe(true);
    expect(m.delete(5)).toBe(false);
    for (const [k] of m.entries()) if (k % 2 === 0) m.delete(k);
    expect([...m.entries()]).toEqual([[1, 1]]);
    m.set(7, 7);
    expect([...m.entries()].map(([k]) => k)).toEqual([1, 7]);
    m.clear();
    expect(m.size).toBe(0);
    expect([...m.entries()]).toEqual([]);
    m.set(8, 8);
    expect([...m.entries()]).toEqual([[8, 8]]);
  });

  it('of 1,000,000 distinct keys keeps exactly the last maxEntries, in order', () => {
    const m = new LruMap<number, number>(100_000);
    let evicted = 0;
    for (let i = 0; i < 1_000_000; i++) if (m.set(i, i)) evicted++;
    expect(m.size).toBe(100_000);
    expect(evicted).toBe(900_000);
    let expected = 900_000;
    let inOrder = true;
    for (const [k] of m.entries()) inOrder &&= k === expected++;
    expect(inOrder).toBe(true);
  });

  it('refuses a bound below 1', () => {
    expect(() => new LruMap(0)).toThrow(RangeError);
  });
});
