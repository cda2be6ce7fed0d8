// Request paths are normalised before route matching so that `/api/a/../b`, `/api//b` and
// `/api/%62` cannot reach a route (or skip one) that the plain spelling would not. The same
// file holds the characters a request target may not carry at all: whatever the route table
// matched must mean the same to every URL parser behind the gateway.

const SLASH = 0x2f;
const DOT = 0x2e;
const PERCENT = 0x25;
const HEX_DIGITS = '0123456789ABCDEF';

/** Why a path is refused with 400; `message` is the error body's, naming no client value. */
export interface PathRefusal {
  readonly message: string;
}

export const INVALID_ENCODING: PathRefusal = { message: 'invalid percent-encoding in path' };
export const CONTROL_CHARACTER: PathRefusal = { message: 'encoded control character in path' };

/**
 * Normalises the path part of a request target (starting with `/`, no query string).
 * Refuses invalid percent-encoding, a path that does not start with `/`, and an encoded
 * control character (`%00`-`%1F`, `%7F`): backends that decode them read NUL or CR/LF where
 * the gateway saw data.
 */
export function normalizePath(raw: string): string | PathRefusal {
  if (raw.charCodeAt(0) !== SLASH) return INVALID_ENCODING;
  // Every request comes through here and almost none need work: return the same string.
  if (!needsNormalising(raw)) return raw;
  const decoded = decodeUnreserved(raw);
  return typeof decoded === 'string' ? resolveSegments(decoded) : decoded;
}

/**
 * A raw `\` or `#` anywhere in the request target. Node's legacy URL parser (which
 * http-proxy and Express use) reads `\` as `/` and drops a fragment, while the route table
 * reads neither: a call would be matched as one path and forwarded as another.
 */
export function hasForbiddenCharacter(target: string): boolean {
  return target.includes('\\') || target.includes('#');
}

/**
 * `%2F`, `%5C` or `;` in a normalised path (its escapes are upper-cased): characters some
 * backends decode into separators or strip as matrix parameters.
 */
export function isAmbiguousPath(normalised: string): boolean {
  return normalised.includes('%2F') || normalised.includes('%5C') || normalised.includes(';');
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
function decodeUnreserved(path: string): string | PathRefusal {
  let out = '';
  let copied = 0;
  for (let i = path.indexOf('%'); i !== -1; i = path.indexOf('%', i + 3)) {
    const high = hexValue(path.charCodeAt(i + 1));
    const low = hexValue(path.charCodeAt(i + 2));
    if (high < 0 || low < 0) return INVALID_ENCODING;
    const byte = high * 16 + low;
    if (byte < 0x20 || byte === 0x7f) return CONTROL_CHARACTER;
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
