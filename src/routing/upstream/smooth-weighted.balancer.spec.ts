import { SmoothWeightedBalancer } from './smooth-weighted.balancer';

interface Target {
  readonly name: string;
  readonly weight: number;
}

const target = (name: string, weight: number): Target => ({ name, weight });

function names(balancer: SmoothWeightedBalancer<Target>, candidates: readonly Target[], n: number) {
  return Array.from({ length: n }, () => balancer.pick(candidates)?.name);
}

function counts(picked: readonly (string | undefined)[]): Record<string, number> {
  const result: Record<string, number> = {};
  for (const name of picked) {
    if (name !== undefined) result[name] = (result[name] ?? 0) + 1;
  }
  return result;
}

describe('SmoothWeightedBalancer', () => {
  describe('pick', () => {
    it('splits picks by weight within 2% over 10 000 picks', () => {
      const balancer = new SmoothWeightedBalancer<Target>();
      const candidates = [target('a', 5), target('b', 3), target('c', 2)];
      const n = 10_000;
      const seen = counts(names(balancer, candidates, n));
      expect(Math.abs((seen.a ?? 0) / n - 0.5)).toBeLessThanOrEqual(0.02);
      expect(Math.abs((seen.b ?? 0) / n - 0.3)).toBeLessThanOrEqual(0.02);
      expect(Math.abs((seen.c ?? 0) / n - 0.2)).toBeLessThanOrEqual(0.02);
    });

    it("yields nginx's smooth sequence for 5:1:1", () => {
      const balancer = new SmoothWeightedBalancer<Target>();
      const candidates = [target('a', 5), target('b', 1), target('c', 1)];
      const cycle = ['a', 'a', 'b', 'a', 'c', 'a', 'a'];
      const picked = names(balancer, candidates, cycle.length * 3);
      expect(picked).toEqual([...cycle, ...cycle, ...cycle]);
      // A plain weighted round-robin would send five in a row to a: within one cycle the
      // heavy target never runs more than two picks in a row.
      const longestRun = Math.max(
        ...picked
          .slice(0, 7)
          .join('')
          .split(/[bc]/)
          .map((s) => s.length),
      );
      expect(longestRun).toBeLessThanOrEqual(2);
    });

    it('behaves as round-robin when weights are equal', () => {
      const balancer = new SmoothWeightedBalancer<Target>();
      const candidates = [target('a', 1), target('b', 1), target('c', 1)];
      expect(names(balancer, candidates, 6)).toEqual(['a', 'b', 'c', 'a', 'b', 'c']);
    });

    it('returns undefined when there is no candidate', () => {
      const balancer = new SmoothWeightedBalancer<Target>();
      expect(balancer.pick([])).toBeUndefined();
    });

    it('returns the only candidate every time', () => {
      const balancer = new SmoothWeightedBalancer<Target>();
      const only = target('a', 3);
      expect(names(balancer, [only], 3)).toEqual(['a', 'a', 'a']);
    });

    it('splits by the remaining weights when the set shrinks', () => {
      const balancer = new SmoothWeightedBalancer<Target>();
      const [a, b, c] = [target('a', 5), target('b', 3), target('c', 2)];
      names(balancer, [a, b, c], 5);
      const seen = counts(names(balancer, [a, c], 7_000));
      expect(seen.b).toBeUndefined();
      expect(Math.abs((seen.a ?? 0) / 7_000 - 5 / 7)).toBeLessThanOrEqual(0.02);
      expect(Math.abs((seen.c ?? 0) / 7_000 - 2 / 7)).toBeLessThanOrEqual(0.02);
    });

    it('gives a target that rejoins or joins the set its share again', () => {
      const balancer = new SmoothWeightedBalancer<Target>();
      const [a, b, c] = [target('a', 5), target('b', 3), target('c', 2)];
      names(balancer, [a, b, c], 4);
      names(balancer, [a, c], 13);
      const seen = counts(names(balancer, [a, b, c], 10_000));
      expect(Math.abs((seen.a ?? 0) / 10_000 - 0.5)).toBeLessThanOrEqual(0.02);
      expect(Math.abs((seen.b ?? 0) / 10_000 - 0.3)).toBeLessThanOrEqual(0.02);
      expect(Math.abs((seen.c ?? 0) / 10_000 - 0.2)).toBeLessThanOrEqual(0.02);

      const d = target('d', 10);
      const withNew = counts(names(balancer, [a, b, c, d], 20_000));
      expect(Math.abs((withNew.d ?? 0) / 20_000 - 0.5)).toBeLessThanOrEqual(0.02);
    });

    it('keeps independent state per instance', () => {
      const [a, b] = [target('a', 1), target('b', 1)];
      const first = new SmoothWeightedBalancer<Target>();
      const second = new SmoothWeightedBalancer<Target>();
      expect(first.pick([a, b])).toBe(a);
      expect(second.pick([a, b])).toBe(a);
      expect(first.pick([a, b])).toBe(b);
    });
  });
});
