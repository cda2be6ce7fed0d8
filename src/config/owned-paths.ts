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
  const fits = (i: number, lit: string): boolean | 'rest' => {
    const s = segs[i];
    if (s === undefined) return false;
    if (s === '*') return 'rest';
    return s === lit || s.startsWith(':');
  };
  for (const exact of OWNED_EXACT_PATHS) {
    const want = exact.split('/').slice(1);
    let ok = true;
    let i = 0;
    for (; i < want.length; i++) {
      const f = fits(i, want[i]);
      if (f === 'rest') break;
      if (!f) {
        ok = false;
        break;
      }
    }
    if (ok && (i < want.length || segs.length === want.length || segs[want.length] === '*'))
      return true;
  }
  for (const prefix of OWNED_PREFIXES) {
    const want = prefix.split('/').slice(1);
    let ok = true;
    for (let i = 0; i < want.length; i++) {
      const f = fits(i, want[i]);
      if (f === 'rest') break;
      if (!f) {
        ok = false;
        break;
      }
    }
    if (ok) return true;
  }
  return false;
}
