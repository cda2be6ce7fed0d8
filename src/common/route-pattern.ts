// The rules of a route's `path` and `rewrite` (contract, routes): one place, used by the
// config schema (problem lines) and by the route table (compiled once). Depends on nothing.

type Segment =
  | { readonly kind: 'literal'; readonly text: string }
  | { readonly kind: 'param'; readonly name: string };

export type RewritePart =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'param'; readonly name: string }
  | { readonly kind: 'rest' };

export interface ParsedPattern {
  readonly segments: readonly Segment[];
  readonly wildcard: boolean;
  readonly paramNames: ReadonlySet<string>;
}

const SLASH = 0x2f;
const PARAM = /^:[A-Za-z_][A-Za-z0-9_]*$/;
/** A literal segment: RFC 3986 pchar without `*` (percent-encoded octets pass as `%`). */
const LITERAL = /^[A-Za-z0-9\-._~!$&'()+,;=:@%]+$/;

/** What `path` and `rewrite` break of the rules, per field; empty when both are valid. */
export function routePatternProblems(
  path: string,
  rewrite: string | undefined,
): { field: 'path' | 'rewrite'; message: string }[] {
  const parsed = parsePattern(path);
  if (typeof parsed === 'string') return [{ field: 'path', message: parsed }];
  if (rewrite === undefined) return [];
  const parts = parseRewrite(rewrite, parsed);
  return typeof parts === 'string' ? [{ field: 'rewrite', message: parts }] : [];
}

/** A problem description, or the parsed pattern. */
export function parsePattern(pattern: string): ParsedPattern | string {
  if (pattern.charCodeAt(0) !== SLASH) return 'must start with /';
  const segments: Segment[] = [];
  const paramNames = new Set<string>();
  if (pattern === '/') return { segments, wildcard: false, paramNames };
  const raw = pattern.slice(1).split('/');
  for (let i = 0; i < raw.length; i++) {
    const s = raw[i];
    if (s === '*') {
      if (i !== raw.length - 1) return '* may only be the last segment';
      return { segments, wildcard: true, paramNames };
    }
    if (s === '') return 'has an empty segment';
    if (s.includes('*')) return '* may only be a whole segment';
    if (PARAM.test(s)) {
      const name = s.slice(1);
      if (paramNames.has(name)) return `repeats the parameter :${name}`;
      paramNames.add(name);
      segments.push({ kind: 'param', name });
    } else if (LITERAL.test(s)) {
      segments.push({ kind: 'literal', text: s });
    } else {
      return 'must be /-separated segments: literals, :name or a final *';
    }
  }
  return { segments, wildcard: false, paramNames };
}

/** Adjacent literal segments are merged into one text part, each with its leading slash. */
export function parseRewrite(rewrite: string, pattern: ParsedPattern): RewritePart[] | string {
  if (rewrite.charCodeAt(0) !== SLASH) return 'must start with /';
  const parts: RewritePart[] = [];
  let text = '';
  const raw = rewrite.slice(1).split('/');
  for (let i = 0; i < raw.length; i++) {
    const s = raw[i];
    const last = i === raw.length - 1;
    if (s === '*') {
      if (!last) return '* may only be the last segment';
      if (!pattern.wildcard) return 'uses * but path has none';
      if (text !== '') parts.push({ kind: 'text', text });
      parts.push({ kind: 'rest' });
      return parts;
    }
    if (s.includes('*')) return '* may only be a whole segment';
    if (s === '' && !last) return 'has an empty segment';
    if (PARAM.test(s)) {
      const name = s.slice(1);
      if (!pattern.paramNames.has(name)) return `uses ${s}, not in path`;
      if (text !== '') parts.push({ kind: 'text', text });
      text = '';
      parts.push({ kind: 'param', name });
    } else {
      text += '/' + s;
    }
  }
  if (text !== '') parts.push({ kind: 'text', text });
  return parts;
}

/** Index pairs (into `defs`, lower first) of routes that would shadow each other. */
export function findRouteConflicts(
  defs: readonly { readonly pattern: string; readonly methods?: readonly string[] }[],
): Array<[number, number]> {
  const shapes = defs.map((d) =>
    d.pattern
      .split('/')
      .map((s) => (PARAM.test(s) ? ':' : s))
      .join('/'),
  );
  const methods = defs.map((d) => normaliseMethods(d.methods));
  const conflicts: Array<[number, number]> = [];
  for (let i = 0; i < defs.length; i++) {
    for (let j = i + 1; j < defs.length; j++) {
      if (shapes[i] === shapes[j] && methodsOverlap(methods[i], methods[j])) {
        conflicts.push([i, j]);
      }
    }
  }
  return conflicts;
}

function methodsOverlap(a: readonly string[] | null, b: readonly string[] | null): boolean {
  return a === null || b === null || a.some((m) => b.includes(m));
}

/** Upper-case and sorted, HEAD added when GET is listed; `null` = every method. */
export function normaliseMethods(methods: readonly string[] | undefined): readonly string[] | null {
  if (methods === undefined) return null;
  const set = new Set(methods.map((m) => m.toUpperCase()));
  // A GET route answers HEAD too (RFC 9110 §9.3.2), so HEAD is allowed and can conflict.
  if (set.has('GET')) set.add('HEAD');
  return Object.freeze([...set].sort());
}
