import fc from 'fast-check';

import { findRouteConflicts } from '../common/route-pattern';
import {
  type CompiledRoute,
  type RouteDefinition,
  type RouteLookup,
  type RouteMatch,
  RouteTable,
} from './route-table';

type Def = RouteDefinition<string>;

function table(...defs: Array<Omit<Def, 'data'> & { data?: string }>): RouteTable<string> {
  return RouteTable.compile(defs.map((d) => ({ ...d, data: d.data ?? d.pattern })));
}

function matched(result: RouteLookup<string>): RouteMatch<string> {
  if (result.kind !== 'matched') throw new Error(`expected a match, got ${result.kind}`);
  return result.match;
}

function winner(t: RouteTable<string>, method: string, path: string): string {
  return matched(t.lookup(method, path)).route.data;
}

describe('RouteTable', () => {
  describe('compile', () => {
    it('orders routes by priority, keeping definition order for ties', () => {
      const t = table(
        { pattern: '/a/*' },
        { pattern: '/a' },
        { pattern: '/a/:x', data: 'first :x' },
        { pattern: '/a/:x/b' },
        { pattern: '/a/b' },
        { pattern: '/:p/b' },
        { pattern: '/a/:y', data: 'second :x' },
        { pattern: '/*' },
        { pattern: '/' },
      );
      expect(t.routes.map((r) => r.data)).toEqual([
        '/a/b',
        '/a/:x/b',
        'first :x',
        'second :x',
        '/a',
        '/a/*',
        '/:p/b',
        '/',
        '/*',
      ]);
      expect(t.routes.map((r) => r.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    });

    it('upper-cases methods, adds HEAD for GET and keeps absent methods as null', () => {
      const t = table(
        { pattern: '/a', methods: ['post', 'get'] },
        { pattern: '/b', methods: ['DELETE'] },
        { pattern: '/c' },
      );
      expect(t.routes.map((r) => r.methods)).toEqual([['GET', 'HEAD', 'POST'], ['DELETE'], null]);
    });

    it.each([
      [{ pattern: 'a/b' }, 'route 0: pattern must start with /'],
      [{ pattern: '/a/*/b' }, 'route 0: pattern * may only be the last segment'],
      [{ pattern: '/a*' }, 'route 0: pattern * may only be a whole segment'],
      [{ pattern: '/a//b' }, 'route 0: pattern has an empty segment'],
      [{ pattern: '/:id/:id' }, 'route 0: pattern repeats the parameter :id'],
      [
        { pattern: '/a b' },
        'route 0: pattern must be /-separated segments: literals, :name or a final *',
      ],
      [{ pattern: '/a/:id', rewrite: '/b/:x' }, 'route 0: rewrite uses :x, not in path'],
      [{ pattern: '/a/:id', rewrite: '/b/*' }, 'route 0: rewrite uses * but path has none'],
      [{ pattern: '/a/*', rewrite: '/*/b' }, 'route 0: rewrite * may only be the last segment'],
      [{ pattern: '/a/*', rewrite: 'b/*' }, 'route 0: rewrite must start with /'],
      [{ pattern: '/a/*', rewrite: '/b//*' }, 'route 0: rewrite has an empty segment'],
    ])('rejects %j', (def, message) => {
      expect(() => table(def)).toThrow(new Error(message));
    });
  });

  describe('lookup', () => {
    it('prefers a literal over a :param', () => {
      const t = table({ pattern: '/a/:x' }, { pattern: '/a/b' });
      expect(winner(t, 'GET', '/a/b')).toBe('/a/b');
      expect(winner(t, 'GET', '/a/c')).toBe('/a/:x');
    });

    it('prefers a :param over *', () => {
      const t = table({ pattern: '/a/*' }, { pattern: '/a/:x' });
      expect(winner(t, 'GET', '/a/b')).toBe('/a/:x');
      expect(winner(t, 'GET', '/a/b/c')).toBe('/a/*');
    });

    it('prefers a literal after the same prefix over *', () => {
      const t = table({ pattern: '/a/:x/*' }, { pattern: '/a/:x/b' });
      expect(winner(t, 'GET', '/a/1/b')).toBe('/a/:x/b');
    });

    it('prefers the pattern that ended over * for the same path', () => {
      const t = table(
        { pattern: '/a/*' },
        { pattern: '/a' },
        { pattern: '/a/:x/*' },
        { pattern: '/a/:x' },
      );
      expect(winner(t, 'GET', '/a')).toBe('/a');
      expect(winner(t, 'GET', '/a/1')).toBe('/a/:x');
    });

    it('decides at the leftmost segment that differs in kind', () => {
      const t = table({ pattern: '/:p/b' }, { pattern: '/a/*' });
      expect(winner(t, 'GET', '/a/b')).toBe('/a/*');
      expect(winner(t, 'GET', '/z/b')).toBe('/:p/b');
    });

    it('keeps definition order between routes of the same shape', () => {
      const t = table(
        { pattern: '/a/:x', methods: ['GET'], data: 'get' },
        { pattern: '/a/:y', methods: ['GET', 'POST'], data: 'get-post' },
      );
      expect(winner(t, 'GET', '/a/1')).toBe('get');
      expect(winner(t, 'POST', '/a/1')).toBe('get-post');
    });

    it('skips a higher-priority route whose methods exclude the method', () => {
      const t = table({ pattern: '/a/b', methods: ['POST'] }, { pattern: '/a/:x' });
      expect(winner(t, 'GET', '/a/b')).toBe('/a/:x');
      expect(winner(t, 'POST', '/a/b')).toBe('/a/b');
    });

    it('answers HEAD with a GET route', () => {
      const t = table({ pattern: '/a', methods: ['GET'] });
      expect(winner(t, 'HEAD', '/a')).toBe('/a');
    });

    it('reports method-not-allowed with the sorted union of the candidates, HEAD included', () => {
      const t = table(
        { pattern: '/a/:x', methods: ['PUT', 'GET'] },
        { pattern: '/a/*', methods: ['POST', 'DELETE'] },
        { pattern: '/a/b/c', methods: ['PATCH'] },
        { pattern: '/other', methods: ['OPTIONS'] },
      );
      expect(t.lookup('PATCH', '/a/1')).toEqual({
        kind: 'method-not-allowed',
        allow: ['DELETE', 'GET', 'HEAD', 'POST', 'PUT'],
      });
    });

    it('reports not-found when no pattern matches', () => {
      const t = table({ pattern: '/a/:x' }, { pattern: '/b/*' });
      expect(t.lookup('GET', '/a')).toEqual({ kind: 'not-found' });
      expect(t.lookup('GET', '/a/1/2')).toEqual({ kind: 'not-found' });
      expect(t.lookup('GET', '/c')).toEqual({ kind: 'not-found' });
    });

    it('matches literals exactly and case-sensitively, whole segments only', () => {
      const t = table({ pattern: '/api/v1' }, { pattern: '/x/*' });
      expect(t.lookup('GET', '/API/v1').kind).toBe('not-found');
      expect(t.lookup('GET', '/api/v10').kind).toBe('not-found');
      expect(t.lookup('GET', '/api/v').kind).toBe('not-found');
      expect(t.lookup('GET', '/xy').kind).toBe('not-found');
      expect(t.lookup('GET', '/api/v1').kind).toBe('matched');
    });

    it('ignores a trailing slash for patterns without *', () => {
      const t = table({ pattern: '/a/b' }, { pattern: '/c/:id' });
      expect(winner(t, 'GET', '/a/b/')).toBe('/a/b');
      expect(matched(t.lookup('GET', '/c/7/')).params).toEqual({ id: '7' });
    });

    it('matches * against zero or more segments', () => {
      const t = table({ pattern: '/api/service1/*' });
      const rest = (path: string): string | undefined => matched(t.lookup('GET', path)).rest;
      expect(rest('/api/service1')).toBe('');
      expect(rest('/api/service1/')).toBe('');
      expect(rest('/api/service1/a')).toBe('a');
      expect(rest('/api/service1/a/b')).toBe('a/b');
      expect(rest('/api/service1/a/b/')).toBe('a/b/');
      expect(t.lookup('GET', '/api/service10').kind).toBe('not-found');
      expect(t.lookup('GET', '/api').kind).toBe('not-found');
    });

    it('matches the root with / and /*', () => {
      const t = table({ pattern: '/*' }, { pattern: '/' });
      expect(winner(t, 'GET', '/')).toBe('/');
      expect(matched(t.lookup('GET', '/x/y')).rest).toBe('x/y');
      expect(table({ pattern: '/*' }).lookup('GET', '/')).toEqual({
        kind: 'matched',
        match: expect.objectContaining({ rest: '', path: '/' }) as RouteMatch<string>,
      });
    });

    it('captures :params and leaves rest undefined without *', () => {
      const t = table({ pattern: '/users/:userId/orders/:orderId' });
      const m = matched(t.lookup('GET', '/users/u%2F1/orders/42'));
      expect(m.params).toEqual({ userId: 'u%2F1', orderId: '42' });
      expect(m.rest).toBeUndefined();
      expect(m.path).toBe('/users/u%2F1/orders/42');
      expect(m.route).toBe(t.routes[0]);
    });

    it('captures a parameter named like an Object.prototype member', () => {
      const t = table({ pattern: '/a/:__proto__/:constructor' });
      const m = matched(t.lookup('GET', '/a/x/y'));
      expect(m.params.__proto__).toBe('x');
      expect(m.params.constructor).toBe('y');
      expect(Object.keys(m.params)).toEqual(['__proto__', 'constructor']);
    });

    it('shares one frozen empty params object', () => {
      const t = table({ pattern: '/a' }, { pattern: '/b/*' });
      const a = matched(t.lookup('GET', '/a')).params;
      expect(a).toEqual({});
      expect(Object.isFrozen(a)).toBe(true);
      expect(matched(t.lookup('GET', '/b/c')).params).toBe(a);
    });

    it('considers routes starting with :param or * alongside the first-literal bucket', () => {
      const t = table(
        { pattern: '/:svc/health', data: 'param' },
        { pattern: '/api/*', data: 'api' },
        { pattern: '/*', data: 'catch-all' },
      );
      expect(winner(t, 'GET', '/api/health')).toBe('api');
      expect(winner(t, 'GET', '/orders/health')).toBe('param');
      expect(winner(t, 'GET', '/orders/x')).toBe('catch-all');
      expect(winner(t, 'GET', '/')).toBe('catch-all');
    });
  });

  describe('candidates', () => {
    it('lists every route whose pattern matches, in priority order, ignoring methods', () => {
      const t = table(
        { pattern: '/a/*', methods: ['GET'] },
        { pattern: '/a/:x', methods: ['POST'] },
        { pattern: '/a/b', methods: ['PUT'] },
        { pattern: '/c' },
      );
      const c = t.candidates('/a/b');
      expect(c.map((m) => [m.route.pattern, m.params, m.rest])).toEqual([
        ['/a/b', {}, undefined],
        ['/a/:x', { x: 'b' }, undefined],
        ['/a/*', {}, 'b'],
      ]);
      expect(t.candidates('/nothing')).toEqual([]);
    });
  });

  describe('matchesPattern', () => {
    it('tells whether a route pattern matches a path regardless of method', () => {
      const t = table({ pattern: '/api/service1/*', methods: ['POST'] }, { pattern: '/b/:x' });
      const [service1, b] = t.routes;
      expect(t.matchesPattern(service1, '/api/service1/x')).toBe(true);
      expect(t.matchesPattern(service1, '/api/service1')).toBe(true);
      expect(t.matchesPattern(service1, '/api/other')).toBe(false);
      expect(t.matchesPattern(b, '/b/1/')).toBe(true);
      expect(t.matchesPattern(b, '/b')).toBe(false);
    });

    it('refuses a route from another table', () => {
      const t = table({ pattern: '/a' });
      const foreign: CompiledRoute<string> = table({ pattern: '/a' }).routes[0];
      expect(() => t.matchesPattern(foreign, '/a')).toThrow(
        new Error('route does not belong to this table'),
      );
    });
  });

  describe('upstreamPath', () => {
    function upstream(def: Omit<Def, 'data'>, path: string): string {
      const m = matched(table(def).lookup('GET', path));
      return m.route.upstreamPath(m);
    }

    it('sends the normalised path unchanged without a rewrite', () => {
      expect(upstream({ pattern: '/api/service1/*' }, '/api/service1/a/')).toBe('/api/service1/a/');
      expect(upstream({ pattern: '/a/:x' }, '/a/1/')).toBe('/a/1/');
    });

    it.each([
      ['/api/service1/orders/1', '/api/orders/1'],
      ['/api/service1/orders/1/', '/api/orders/1/'],
      ['/api/service1', '/api'],
      ['/api/service1/', '/api/'],
    ])('rewrites %s to %s through /api/*', (path, expected) => {
      expect(upstream({ pattern: '/api/service1/*', rewrite: '/api/*' }, path)).toBe(expected);
    });

    it.each([
      ['/old/x/y', '/x/y'],
      ['/old', '/'],
      ['/old/', '/'],
    ])('rewrites %s to %s through /*', (path, expected) => {
      expect(upstream({ pattern: '/old/*', rewrite: '/*' }, path)).toBe(expected);
    });

    it('substitutes :params, in any order', () => {
      const def = { pattern: '/u/:user/o/:order/*', rewrite: '/orders/:order/by/:user/*' };
      expect(upstream(def, '/u/7/o/42/items')).toBe('/orders/42/by/7/items');
      expect(upstream(def, '/u/7/o/42')).toBe('/orders/42/by/7');
    });

    it('drops the remainder when the rewrite has no *', () => {
      expect(upstream({ pattern: '/legacy/*', rewrite: '/v2' }, '/legacy/a/b')).toBe('/v2');
    });

    it('keeps the trailing slash the matching ignored for a pattern without *', () => {
      expect(upstream({ pattern: '/a/:id', rewrite: '/b/:id' }, '/a/1/')).toBe('/b/1/');
      expect(upstream({ pattern: '/a/:id', rewrite: '/b/:id' }, '/a/1')).toBe('/b/1');
      expect(upstream({ pattern: '/a', rewrite: '/b/' }, '/a/')).toBe('/b/');
      expect(upstream({ pattern: '/', rewrite: '/home' }, '/')).toBe('/home');
    });

    it('rewrites the root onto a prefix', () => {
      expect(upstream({ pattern: '/*', rewrite: '/x/*' }, '/')).toBe('/x/');
      expect(upstream({ pattern: '/*', rewrite: '/x/*' }, '/a')).toBe('/x/a');
    });
  });
});

describe('RouteTable prefix index', () => {
  /** What lookup must answer: the first route in priority order that matches, plainly. */
  function scan(t: RouteTable<string>, method: string, path: string): string {
    const byPath = t.routes.filter((r) => t.matchesPattern(r, path));
    const hit = byPath.find((r) => r.methods === null || r.methods.includes(method));
    if (hit) return `matched ${hit.data}`;
    if (byPath.length === 0) return 'not-found';
    const allow = [...new Set(byPath.flatMap((r) => r.methods ?? []))].sort();
    return `405 ${allow.join(',')}`;
  }
  const answer = (r: RouteLookup<string>): string =>
    r.kind === 'matched'
      ? `matched ${r.match.route.data}`
      : r.kind === 'not-found'
        ? 'not-found'
        : `405 ${r.allow.join(',')}`;

  // A small alphabet, so that patterns and paths overlap often.
  const literal = fc.constantFrom('a', 'b', 'api', 'v1');
  const segment = fc.oneof(literal, fc.constantFrom(':p', ':q'));
  const pattern = fc
    .tuple(fc.array(segment, { maxLength: 4 }), fc.boolean())
    .map(([segs, star]) => {
      // A parameter name appears once per pattern.
      const seen = new Set<string>();
      const named = segs.map((s, i) =>
        s.startsWith(':') ? (seen.has(s) ? `${s}${i}` : (seen.add(s), s)) : s,
      );
      const body = named.map((s) => `/${s}`).join('');
      return star ? `${body}/*` : body || '/';
    });
  const methods = fc.option(fc.subarray(['GET', 'POST', 'DELETE'], { minLength: 1 }), {
    nil: undefined,
  });
  const path = fc
    .tuple(fc.array(fc.constantFrom('a', 'b', 'api', 'v1', 'x'), { maxLength: 5 }), fc.boolean())
    .map(([segs, slash]) => `/${segs.join('/')}${slash && segs.length > 0 ? '/' : ''}`);

  it('answers every lookup as a scan of the routes in priority order would', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ pattern, methods }), { minLength: 1, maxLength: 12 }),
        fc.array(fc.tuple(fc.constantFrom('GET', 'POST', 'PUT'), path), {
          minLength: 1,
          maxLength: 8,
        }),
        (defs, calls) => {
          const t = table(...defs.map((d, i) => ({ ...d, data: `${i}:${d.pattern}` })));
          for (const [method, p] of calls) {
            expect(answer(t.lookup(method, p))).toBe(scan(t, method, p));
            expect(t.candidates(p).map((m) => m.route.data)).toEqual(
              t.routes.filter((r) => t.matchesPattern(r, p)).map((r) => r.data),
            );
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('finds each of 10,000 services under /api/ and misses what no route names', () => {
    const defs = Array.from({ length: 10_000 }, (_, i) => ({ pattern: `/api/svc${i}/*` }));
    const t = table(...defs, { pattern: '/api/:any/health', methods: ['GET'] });
    expect(winner(t, 'GET', '/api/svc9999/orders/1')).toBe('/api/svc9999/*');
    expect(winner(t, 'GET', '/api/svc0')).toBe('/api/svc0/*');
    // A literal segment beats a parameter at the same position (priority), across nodes.
    expect(winner(t, 'GET', '/api/svc5/health')).toBe('/api/svc5/*');
    expect(winner(t, 'GET', '/api/other/health')).toBe('/api/:any/health');
    expect(t.lookup('POST', '/api/other/health')).toEqual({
      kind: 'method-not-allowed',
      allow: ['GET', 'HEAD'],
    });
    expect(t.lookup('GET', '/api/other/x').kind).toBe('not-found');
    expect(t.lookup('GET', '/apix/svc1/a').kind).toBe('not-found');
  });

  it("keys the index by segment text only: a client's __proto__ or constructor segment is just text", () => {
    const t = table({ pattern: '/constructor/*' }, { pattern: '/a/:x' });
    expect(winner(t, 'GET', '/constructor/x')).toBe('/constructor/*');
    for (const p of ['/__proto__/x', '/toString', '/hasOwnProperty/a', '/a/__proto__/b']) {
      expect({ p, kind: t.lookup('GET', p).kind }).toEqual({ p, kind: 'not-found' });
    }
    expect(winner(t, 'GET', '/a/__proto__')).toBe('/a/:x');
  });
});

describe('findRouteConflicts', () => {
  const defs = (...d: Array<Omit<Def, 'data'>>): Def[] => d.map((x) => ({ ...x, data: '' }));

  it('reports the same shape with other param names and overlapping methods', () => {
    expect(
      findRouteConflicts(
        defs(
          { pattern: '/a/:id', methods: ['GET', 'POST'] },
          { pattern: '/b' },
          { pattern: '/a/:x', methods: ['post'] },
        ),
      ),
    ).toEqual([[0, 2]]);
  });

  it('reports no conflict for disjoint methods', () => {
    expect(
      findRouteConflicts(
        defs({ pattern: '/a/:id', methods: ['GET'] }, { pattern: '/a/:x', methods: ['POST'] }),
      ),
    ).toEqual([]);
  });

  it('treats absent methods as all methods', () => {
    expect(
      findRouteConflicts(
        defs(
          { pattern: '/a/*' },
          { pattern: '/a/*', methods: ['DELETE'] },
          { pattern: '/a/*', methods: ['PUT'] },
        ),
      ),
    ).toEqual([
      [0, 1],
      [0, 2],
    ]);
  });

  it('counts the HEAD that GET implies', () => {
    expect(
      findRouteConflicts(
        defs({ pattern: '/a', methods: ['GET'] }, { pattern: '/a', methods: ['HEAD'] }),
      ),
    ).toEqual([[0, 1]]);
  });

  it('reports no conflict between different shapes', () => {
    expect(
      findRouteConflicts(
        defs(
          { pattern: '/a/:x' },
          { pattern: '/a/*' },
          { pattern: '/a/b' },
          { pattern: '/a/:x/b' },
        ),
      ),
    ).toEqual([]);
  });
});
