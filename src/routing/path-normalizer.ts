// Request paths are normalised before route matching so that `/api/a/../b`, `/api//b` and
// `/api/%62` cannot reach a route (or skip one) that the plain spelling would not.

const SLASH = 0x2f;
const DOT = 0x2e;
const PERCENT = 0x25;
const HEX_DIGITS = '0123456789ABCDEF';

/**
 * Normalises the path part of a request target (starting with `/`, no query string).
 * Returns `undefined` when the percent-encoding is invalid or the path does not start with `/`.
 */
export function normalizePath(raw: string): string | undefined {
  if (raw.charCodeAt(0) !== SLASH) return undefined;
  // Every request comes through here and almost none need work: return the same string.
  if (!needsNormalising(raw)) return raw;
  const decoded = decodeUnreserved(raw);
  return decoded === undefined ? undefined : resolveSegments(decoded);
}

function needsNormalising(path: string): boolean {
  const len = path.length;
  for (let i = 0; i < len; i++) {
    const c = path.charCodeAt(i);
    if (c === PERCENT) return true;
    if (c !== SLASH) continue;
    const next = path.charCodeAt(i + 1);
    if (next === SLASH) return true;
    if (next !== DOT) continue;
    if (isSegmentEnd(path, i + 2)) return true;
    if (path.charCodeAt(i + 2) === DOT && isSegmentEnd(path, i + 3)) return true;
  }
  return false;
}

function isSegmentEnd(path: string, i: number): boolean {
  return i >= path.length || path.charCodeAt(i) === SLASH;
}

/**
 * Decodes escapes of unreserved characters (RFC 3986 §2.3), which mean the same encoded or not;
 * every other escape stays encoded, upper-cased, so `%2F` remains data inside its segment.
 */
function decodeUnreserved(path: string): string | undefined {
  let out = '';
  let copied = 0;
  for (let i = path.indexOf('%'); i !== -1; i = path.indexOf('%', i + 3)) {
    const high = hexValue(path.charCodeAt(i + 1));
    const low = hexValue(path.charCodeAt(i + 2));
    if (high < 0 || low < 0) return undefined;
    const byte = high * 16 + low;
    out += path.slice(copied, i);
    out += isUnreserved(byte)
      ? String.fromCharCode(byte)
      : '%' + HEX_DIGITS[high] + HEX_DIGITS[low];
    copied = i + 3;
  }
  return out + path.slice(copied);
}

/** `NaN` (past the end) and non-hex characters give -1. */
function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  return -1;
}

function isUnreserved(c: number): boolean {
  return (
    (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x61 && c <= 0x7a) ||
    (c >= 0x30 && c <= 0x39) ||
    c === 0x2d ||
    c === DOT ||
    c === 0x5f ||
    c === 0x7e
  );
}

/**
 * RFC 3986 remove_dot_segments, with empty segments dropped first (repeated slashes collapse,
 * so `/a//..` is `/`, as nginx's merge_slashes does). A final `/`, `.` or `..` leaves a
 * trailing slash, as in the RFC.
 */
function resolveSegments(path: string): string {
  const segments = path.split('/');
  const kept: string[] = [];
  for (let i = 1; i < segments.length; i++) {
    const s = segments[i];
    if (s === '' || s === '.') continue;
    if (s === '..') kept.pop();
    else kept.push(s);
  }
  if (kept.length === 0) return '/';
  const last = segments[segments.length - 1];
  const trailing = last === '' || last === '.' || last === '..';
  return '/' + kept.join('/') + (trailing ? '/' : '');
}
