import { RoundRobinBalancer } from './round-robin.balancer';

interface Target {
  readonly name: string;
  readonly weight: number;
}

const target = (name: string): Target => ({ name, weight: 1 });

function names(balancer: RoundRobinBalancer<Target>, candidates: readonly Target[], n: number) {
  return Array.from({ length: n }, () => balancer.pick(candidates)?.name);
}

describe('RoundRobinBalancer', () => {
  const [a, b, c] = [target('a'), target('b'), target('c')];

  describe('pick', () => {
    it('cycles through the candidates in order', () => {
      const balancer = new RoundRobinBalancer<Target>();
      expect(names(balancer, [a, b, c], 7)).toEqual(['a', 'b', 'c', 'a', 'b', 'c', 'a']);
    });

    it('returns undefined when there is no candidate', () => {
      const balancer = new RoundRobinBalancer<Target>();
      expect(balancer.pick([])).toBeUndefined();
      expect(balancer.pick([a])).toBe(a);
    });

    it('ignores weights', () => {
      const balancer = new RoundRobinBalancer<Target>();
      const heavy = { name: 'heavy', weight: 10 };
      expect(names(balancer, [heavy, a], 4)).toEqual(['heavy', 'a', 'heavy', 'a']);
    });

    it('only returns current candidates when the set shrinks', () => {
      const balancer = new RoundRobinBalancer<Target>();
      expect(names(balancer, [a, b, c], 2)).toEqual(['a', 'b']);
      const picked = names(balancer, [a, c], 4);
      expect(picked).not.toContain('b');
      expect(picked.filter((n) => n === 'a')).toHaveLength(2);
      expect(picked.filter((n) => n === 'c')).toHaveLength(2);
    });

    it('includes a target that joins the set', () => {
      const balancer = new RoundRobinBalancer<Target>();
      expect(names(balancer, [a, b], 3)).toEqual(['a', 'b', 'a']);
      expect(new Set(names(balancer, [a, b, c], 3))).toEqual(new Set(['a', 'b', 'c']));
    });

    it('keeps an independent position per instance', () => {
      const first = new RoundRobinBalancer<Target>();
      const second = new RoundRobinBalancer<Target>();
      first.pick([a, b]);
      expect(second.pick([a, b])).toBe(a);
    });
  });
});
