import type { IncomingHttpHeaders } from 'node:http';

import { HOP_BY_HOP_HEADERS as HOP_BY_HOP } from '../../common/hop-by-hop';

/**
 * Fields a `Connection` list may not remove: dropping the framing would let a body be sent
 * unframed and read upstream as a second request (smuggling).
 */
const NEVER_LISTED = new Set(['content-length', 'host']);
const HOP = new Set(HOP_BY_HOP);

const NOTHING_LISTED: readonly string[] = [];
/** The usual `Connection` values: what they list beyond the fixed hop-by-hop names. */
const USUAL_LISTS = new Map<string, readonly string[]>([
  ['keep-alive', NOTHING_LISTED],
  ['Keep-Alive', NOTHING_LISTED],
  ['close', ['close']],
  ['Close', ['close']],
  ['upgrade', NOTHING_LISTED],
  ['Upgrade', NOTHING_LISTED],
]);

/**
 * The names a `Connection` value lists (trimmed, lower-cased), without the fixed hop-by-hop
 * names (dropped anyway) and the framing fields it may not remove. The usual values are
 * looked up rather than split.
 */
function listedIn(connection: string | undefined): readonly string[] {
  if (!connection) return NOTHING_LISTED;
  const usual = USUAL_LISTS.get(connection);
  if (usual) return usual;
  const out: string[] = [];
  for (const name of connection.split(',')) {
    const n = name.trim().toLowerCase();
    if (n && !NEVER_LISTED.has(n) && !HOP.has(n)) out.push(n);
  }
  return out;
}

/** A hop-by-hop field: one of the fixed names or one its `Connection` lists. */
function isHop(name: string, listed: readonly string[]): boolean {
  return HOP.has(name) || (listed.length > 0 && listed.includes(name));
}

/** Never taken from a client: backends read them as identity or as the real method / path. */
const NEVER_FROM_CLIENT = new Set(['x-original-url', 'x-rewrite-url', 'x-http-method-override']);
/** Taken only from a peer inside `trustProxy`: they say who the client is and how it came. */
const ONLY_FROM_TRUSTED = new Set([
  'forwarded',
  'x-real-ip',
  'x-forwarded-port',
  'x-forwarded-prefix',
]);

/**
 * Whether a client-sent name must go (Node lower-cases names; `_` stays, and many backend
 * frameworks fold it into `-`, so `x_user_id` would arrive as X-User-Id): what a client may
 * not set. From an untrusted peer an underscore spelling of any X-Forwarded-* goes too,
 * since the gateway's own hyphenated values are what the backend must read.
 */
function isClientOnly(k: string, trusted: boolean): boolean {
  const c = k.charCodeAt(0);
  if (c !== 120 && c !== 102) return false; // only names starting with x or f can match
  const underscored = k.includes('_');
  const n = underscored ? k.replace(/_/g, '-') : k;
  if (n.startsWith('x-user-') || NEVER_FROM_CLIENT.has(n)) return true;
  return !trusted && (ONLY_FROM_TRUSTED.has(n) || (underscored && n.startsWith('x-forwarded-')));
}

export interface ForwardingFacts {
  readonly peer: string;
  readonly peerTrusted: boolean;
  readonly encrypted: boolean;
  readonly requestId: string;
}

/**
 * Rewrites the client's headers in place into what the backend receives (http-proxy copies
 * `req.headers` as they are once this has run). `Host` is set by the proxy (changeOrigin).
 */
export function prepareUpstreamHeaders(h: IncomingHttpHeaders, f: ForwardingFacts): void {
  const chunked = h['transfer-encoding'] !== undefined;
  const listed = listedIn(h.connection);
  const trusted = f.peerTrusted;
  // One pass over the names: hop-by-hop fields (the fixed ones and those Connection lists),
  // `Expect`, and what a client may not set.
  for (const k in h) {
    // Node's server has already answered `100 Continue` on the client's hop, so the
    // expectation is met; forwarding it would also make http-proxy skip its proxyReq event,
    // which the body limit and the deadline hang on.
    if (isHop(k, listed) || k === 'expect' || isClientOnly(k, trusted)) delete h[k];
  }
  // The body is re-framed by Node for the upstream hop; keep saying it is chunked so a
  // GET or DELETE with a body cannot be sent unframed.
  if (chunked) h['transfer-encoding'] = 'chunked';
  const xff = h['x-forwarded-for'];
  const prior = Array.isArray(xff) ? xff.join(', ') : xff;
  h['x-forwarded-for'] = prior ? `${prior}, ${f.peer}` : f.peer;
  if (!trusted || !h['x-forwarded-proto']) h['x-forwarded-proto'] = f.encrypted ? 'https' : 'http';
  if (!trusted || !h['x-forwarded-host']) {
    if (h.host) h['x-forwarded-host'] = h.host;
    else delete h['x-forwarded-host'];
  }
  h['x-request-id'] = f.requestId;
}

/**
 * Response fields the gateway owns (`x-request-id`, `x-ratelimit-*`, `ratelimit*`; with
 * CORS on, `access-control-*`): the backend's values never reach the client.
 */
function isGatewayOwned(k: string, corsOwned: boolean): boolean {
  switch (k.charCodeAt(0)) {
    case 120: // x
      return k.startsWith('x-request-id') || k.startsWith('x-ratelimit-');
    case 114: // r
      return k.startsWith('ratelimit');
    case 97: // a
      return corsOwned && k.startsWith('access-control-');
    default:
      return false;
  }
}

/** Cleans the backend's response headers in place before http-proxy copies them. */
export function prepareClientHeaders(h: IncomingHttpHeaders, corsOwned: boolean): void {
  const listed = listedIn(h.connection);
  for (const k in h) {
    if (isHop(k, listed) || isGatewayOwned(k, corsOwned)) delete h[k];
  }
}
