import type { IncomingHttpHeaders } from 'node:http';

import { HOP_BY_HOP_HEADERS as HOP_BY_HOP } from '../../common/hop-by-hop';

/** Response fields the gateway owns: the backend's values never reach the client. */
const GATEWAY_OWNED_RESPONSE = /^(x-request-id|x-ratelimit-|ratelimit)/;
const CORS_RESPONSE = /^access-control-/;

/**
 * Fields a `Connection` list may not remove: dropping the framing would let a body be sent
 * unframed and read upstream as a second request (smuggling).
 */
const NEVER_LISTED = new Set(['content-length', 'host']);

function dropHopByHop(h: IncomingHttpHeaders): void {
  const listed = h.connection;
  if (listed) {
    for (const name of listed.split(',')) {
      const n = name.trim().toLowerCase();
      if (n && !NEVER_LISTED.has(n)) delete h[n];
    }
  }
  for (const n of HOP_BY_HOP) if (h[n] !== undefined) delete h[n];
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
 * One pass over the names (Node lower-cases them; `_` stays, and many backend frameworks
 * fold it into `-`, so `x_user_id` would arrive as X-User-Id): drops what a client may not
 * set. From an untrusted peer an underscore spelling of any X-Forwarded-* is dropped too,
 * since the gateway's own hyphenated values are what the backend must read.
 */
function dropClientOnly(h: IncomingHttpHeaders, trusted: boolean): void {
  for (const k in h) {
    const c = k.charCodeAt(0);
    if (c !== 120 && c !== 102) continue; // only names starting with x or f can match
    const underscored = k.includes('_');
    const n = underscored ? k.replace(/_/g, '-') : k;
    if (n.startsWith('x-user-') || NEVER_FROM_CLIENT.has(n)) delete h[k];
    else if (
      !trusted &&
      (ONLY_FROM_TRUSTED.has(n) || (underscored && n.startsWith('x-forwarded-')))
    )
      delete h[k];
  }
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
  dropHopByHop(h);
  // Node's server has already answered `100 Continue` on the client's hop, so the
  // expectation is met; forwarding it would also make http-proxy skip its proxyReq event,
  // which the body limit and the deadline hang on.
  delete h.expect;
  // The body is re-framed by Node for the upstream hop; keep saying it is chunked so a
  // GET or DELETE with a body cannot be sent unframed.
  if (chunked) h['transfer-encoding'] = 'chunked';
  dropClientOnly(h, f.peerTrusted);
  const xff = h['x-forwarded-for'];
  const prior = Array.isArray(xff) ? xff.join(', ') : xff;
  h['x-forwarded-for'] = prior ? `${prior}, ${f.peer}` : f.peer;
  if (!f.peerTrusted || !h['x-forwarded-proto'])
    h['x-forwarded-proto'] = f.encrypted ? 'https' : 'http';
  if (!f.peerTrusted || !h['x-forwarded-host']) {
    if (h.host) h['x-forwarded-host'] = h.host;
    else delete h['x-forwarded-host'];
  }
  h['x-request-id'] = f.requestId;
}

/** Cleans the backend's response headers in place before http-proxy copies them. */
export function prepareClientHeaders(h: IncomingHttpHeaders, corsOwned: boolean): void {
  dropHopByHop(h);
  for (const k in h) {
    if (GATEWAY_OWNED_RESPONSE.test(k) || (corsOwned && CORS_RESPONSE.test(k))) delete h[k];
  }
}
