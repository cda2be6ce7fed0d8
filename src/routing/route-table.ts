// Patterns and rewrites are parsed once when the table is compiled (rules: common/route-pattern);
// `lookup` runs on every proxied request and only walks precompiled segments against the
// normalised path.

import {
  normaliseMethods,
  type ParsedPattern,
  parsePattern,
  parseRewrite,
  type RewritePart,
} from '../common/route-pattern';

export interface RouteDefinition<T> {
  pattern: string;
  methods?: readonly string[];
  rewrite?: string;
  data: T;
}

export interface CompiledRoute<T> {
  /** As written, e.g. `/api/service1/*`. */
  readonly pattern: string;
  /** Upper-case and sorted, HEAD added when GET is listed; `null` = every method. */
  readonly methods: readonly string[] | null;
  readonly data: T;
  /** Position in priority order. */
  readonly index: number;
  /** The path sent upstream: the rewrite applied, or the normalised path unchanged. */
  upstreamPath(m: RouteMatch<T>): string;
}

export interface RouteMatch<T> {
  route: CompiledRoute<T>;
  params: Readonly<Record<string, string>>;
  /** What `*` matched, without the leading slash ('' when empty); `undefined` without `*`. */
  rest: string | undefined;
  /** The normalised request path. */
  path: string;
}

export type RouteLookup<T> =
  | { kind: 'matched'; match: RouteMatch<T> }
  | { kind: 'method-not-allowed'; allow: readonly string[] }
  | { kind: 'not-found' };

const SLASH = 0x2f;
const EMPTY_PARAMS: Readonly<Record<string, string>> = Object.freeze({});
const NOT_FOUND: { readonly kind: 'not-found' } = Object.freeze({ kind: 'not-found' });

// Priority ranks per position, lower first: literal beats :param beats * (contract), and a
// pattern that has ended sits between :param and * so that longer patterns come first
// while `/a` still beats `/a/*`.
const RANK_LITERAL = 0;
const RANK_PARAM = 1;
const RANK_END = 2;
const RANK_WILDCARD = 3;

class Route<T> implements CompiledRoute<T> {
  private readonly hasParams: boolean;

  constructor(
    readonly pattern: string,
    readonly methods: readonly string[] | null,
    readonly data: T,
    readonly index: number,
    private readonly parsed: ParsedPattern,
    private readonly rewrite: readonly RewritePart[] | null,
  ) {
    this.hasParams = parsed.paramNames.size > 0;
  }

  /** The pattern's leading literal segments (`/api/orders/:id` → api, orders). */
  get literalPrefix(): string[] {
    const out: string[] = [];
    for (const seg of this.parsed.segments) {
      if (seg.kind !== 'literal') break;
      out.push(seg.text);
    }
    return out;
  }

  allows(method: string): boolean {
    return this.methods === null || this.methods.includes(method);
  }

  /**
   * Walks the pattern over `path`; returns where the `*` remainder starts (or the end of the
   * matched path without `*`), -1 when it does not match. Captures into `params` when given.
   */
  walk(path: string, params: Record<string, string> | null): number {
    const end = pathEnd(path);
    const segments = this.parsed.segments;
    let pos = 0;
    for (let i = 0; i < segments.length; i++) {
      if (pos >= end) return -1;
      const seg = segments[i];
      const start = pos + 1;
      if (seg.kind === 'literal') {
        const stop = start + seg.text.length;
        if (stop > end || !path.startsWith(seg.text, start)) return -1;
        if (stop < end && path.charCodeAt(stop) !== SLASH) return -1;
        pos = stop;
      } else {
        let stop = path.indexOf('/', start);
        if (stop === -1 || stop > end) stop = end;
        if (stop === start) return -1;
        if (params !== null) params[seg.name] = path.slice(start, stop);
        pos = stop;
      }
    }
    if (this.parsed.wildcard) return pos + 1;
    return pos === end ? pos : -1;
  }

  capture(path: string): RouteMatch<T> {
    // Null prototype: a parameter may be called `__proto__` or `constructor`.
    const params = this.hasParams ? (Object.create(null) as Record<string, string>) : null;
    const restStart = this.walk(path, params);
    const rest = this.parsed.wildcard ? path.slice(restStart) : undefined;
    return { route: this, params: params ?? EMPTY_PARAMS, rest, path };
  }

  upstreamPath(m: RouteMatch<T>): string {
    if (this.rewrite === null) return m.path;
    const trailingSlash = m.path.charCodeAt(m.path.length - 1) === SLASH;
    let out = '';
    const rest = m.rest ?? '';
    for (const part of this.rewrite) {
      if (part.kind === 'text') out += part.text;
      else if (part.kind === 'param') out += '/' + m.params[part.name];
      // An empty remainder takes its slash with it unless the client sent one.
      else if (rest !== '' || trailingSlash) out += '/' + rest;
    }
    // Without `*` the trailing slash was only ignored for matching; the backend still gets it.
    if (!this.parsed.wildcard && trailingSlash && m.path.length > 1 && !out.endsWith('/')) {
      out += '/';
    }
    return out === '' ? '/' : out;
  }
}

/**
 * Routes indexed by their leading literal segments: a lookup descends one node per literal
 * segment of the path and walks only the routes whose literal prefix is the path's, so match
 * time depends on the routes sharing a prefix, not on how many routes there are.
 */
interface PrefixNode<T> {
  readonly children: Map<string, PrefixNode<T>>;
  /** Routes whose literal prefix ends here, in priority order. */
  readonly routes: Route<T>[];
}

const newNode = <T>(): PrefixNode<T> => ({ children: new Map(), routes: [] });

export class RouteTable<T> {
  /** In priority order. */
  readonly routes: readonly CompiledRoute<T>[];

  private constructor(
    private readonly compiled: readonly Route<T>[],
    private readonly root: PrefixNode<T>,
  ) {
    this.routes = compiled;
  }

  /** Throws on a pattern or rewrite that cannot be compiled (config validation comes first). */
  static compile<T>(defs: readonly RouteDefinition<T>[]): RouteTable<T> {
    const parsed = defs.map((def, i) => {
      const pattern = parsePattern(def.pattern);
      if (typeof pattern === 'string') throw new Error(`route ${i}: pattern ${pattern}`);
      const rewrite = def.rewrite === undefined ? null : parseRewrite(def.rewrite, pattern);
      if (typeof rewrite === 'string') throw new Error(`route ${i}: rewrite ${rewrite}`);
      return { def, pattern, rewrite };
    });
    // Array.prototype.sort is stable, so definition order breaks ties.
    parsed.sort((a, b) => comparePriority(a.pattern, b.pattern));
    const routes = parsed.map(
      ({ def, pattern, rewrite }, index) =>
        new Route(def.pattern, normaliseMethods(def.methods), def.data, index, pattern, rewrite),
    );
    // In priority order, so every node's list is too.
    const root = newNode<T>();
    for (const route of routes) {
      let node = root;
      for (const text of route.literalPrefix) {
        let child = node.children.get(text);
        if (child === undefined) node.children.set(text, (child = newNode<T>()));
        node = child;
      }
      node.routes.push(route);
    }
    return new RouteTable(routes, root);
  }

  /** `path` must already be normalised. */
  lookup(method: string, path: string): RouteLookup<T> {
    // The first route in priority order that matches path and method: each node's list is in
    // priority order, so a node is walked only up to the best found so far.
    let best: Route<T> | undefined;
    let pathMatched = false;
    const end = pathEnd(path);
    let node = this.root;
    let pos = 0;
    for (;;) {
      const list = node.routes;
      for (let i = 0; i < list.length; i++) {
        const route = list[i];
        if (best !== undefined && route.index > best.index) break;
        if (route.walk(path, null) < 0) continue;
        if (route.allows(method)) {
          best = route;
          break;
        }
        pathMatched = true;
      }
      if (node.children.size === 0 || pos >= end) break;
      const stop = segmentEnd(path, pos, end);
      const child = node.children.get(path.slice(pos + 1, stop));
      if (child === undefined) break;
      node = child;
      pos = stop;
    }
    if (best !== undefined) return { kind: 'matched', match: best.capture(path) };
    if (!pathMatched) return NOT_FOUND;
    // Rare enough to walk the nodes again rather than collect methods on every lookup.
    const allow = new Set<string>();
    for (const route of this.pathRoutes(path)) {
      if (route.methods !== null) for (const m of route.methods) allow.add(m);
    }
    return { kind: 'method-not-allowed', allow: [...allow].sort() };
  }

  matchesPattern(route: CompiledRoute<T>, path: string): boolean {
    return this.own(route).walk(path, null) >= 0;
  }

  /** Every route whose pattern matches `path`, in priority order. */
  candidates(path: string): RouteMatch<T>[] {
    return this.pathRoutes(path).map((route) => route.capture(path));
  }

  /** The routes whose pattern matches `path`, whatever the method, in priority order. */
  private pathRoutes(path: string): Route<T>[] {
    const out: Route<T>[] = [];
    const end = pathEnd(path);
    let node = this.root;
    let pos = 0;
    for (;;) {
      for (const route of node.routes) if (route.walk(path, null) >= 0) out.push(route);
      if (node.children.size === 0 || pos >= end) break;
      const stop = segmentEnd(path, pos, end);
      const child = node.children.get(path.slice(pos + 1, stop));
      if (child === undefined) break;
      node = child;
      pos = stop;
    }
    return out.sort((a, b) => a.index - b.index);
  }

  private own(route: CompiledRoute<T>): Route<T> {
    const mine = this.compiled[route.index];
    if (mine !== route) throw new Error('route does not belong to this table');
    return mine;
  }
}

/** Where the path's segment after the slash at `pos` ends. */
function segmentEnd(path: string, pos: number, end: number): number {
  const stop = path.indexOf('/', pos + 1);
  return stop === -1 || stop > end ? end : stop;
}

/** Where matching stops: a trailing slash is not a segment. */
function pathEnd(path: string): number {
  const len = path.length;
  return len > 0 && path.charCodeAt(len - 1) === SLASH ? len - 1 : len;
}

function rankAt(p: ParsedPattern, i: number): number {
  const seg = p.segments[i];
  if (seg !== undefined) return seg.kind === 'literal' ? RANK_LITERAL : RANK_PARAM;
  return i === p.segments.length && p.wildcard ? RANK_WILDCARD : RANK_END;
}

function comparePriority(a: ParsedPattern, b: ParsedPattern): number {
  for (let i = 0; ; i++) {
    const ra = rankAt(a, i);
    const rb = rankAt(b, i);
    if (ra !== rb) return ra - rb;
    if (ra === RANK_END || ra === RANK_WILDCARD) return 0;
  }
}
