// Paths the gateway answers itself. The entry hands them to Express; a service route that
// could match one of them is a config error.
export const OWNED_EXACT_PATHS: readonly string[] = ['/health', '/ready', '/metrics'];
export const OWNED_PREFIXES: readonly string[] = ['/oauth', '/.well-known', '/api/gateway'];

/** Whether a request path (normalised or not) belongs to the gateway's own endpoints. */
export function isOwnedPath(path: string): boolean {
  for (const p of OWNED_EXACT_PATHS) {
    if (path === p || (path.length === p.length + 1 && path.startsWith(p) && path.endsWith('/')))
      return true;
  }
  for (const p of OWNED_PREFIXES) {
    if (path.startsWith(p) && (path.length === p.length || path.charCodeAt(p.length) === 47))
      return true;
  }
  return false;
}

/** Whether a route pattern (literal, `:param`, final `*` segments) can match an owned path. */
export function patternOverlapsOwnedPath(pattern: string): boolean {
  const segs = pattern.split('/').slice(1);
  /** How the pattern meets `want`'s segments: no, a `*` swallows the rest, or all matched. */
  const meet = (want: readonly string[]): 'no' | 'rest' | 'all' => {
    for (let i = 0; i < want.length; i++) {
      const s = segs[i];
      if (s === '*') return 'rest';
      if (s === undefined || (s !== want[i] && !s.startsWith(':'))) return 'no';
    }
    return 'all';
  };
  for (const exact of OWNED_EXACT_PATHS) {
    const want = exact.split('/').slice(1);
    const m = meet(want);
    // An exact path: the pattern must end there, or go on only with a `*`.
    if (m === 'rest' || (m === 'all' && (segs.length === want.length || segs[want.length] === '*')))
      return true;
  }
  // A prefix: anything under it counts, so meeting its segments is enough.
  return OWNED_PREFIXES.some((prefix) => meet(prefix.split('/').slice(1)) !== 'no');
}
