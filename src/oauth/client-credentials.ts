import type { IncomingHttpHeaders } from 'node:http';

import { invalidRequest, OAuthError } from './oauth-error';

export interface PresentedClient {
  readonly clientId: string;
  readonly secret: string;
  readonly method: 'client_secret_basic' | 'client_secret_post';
}

export type FormBody = Readonly<Record<string, unknown>>;

const FORM = /^application\/x-www-form-urlencoded(\s*;.*)?$/i;

/** The form's fields as single strings: RFC 6749 §3.2 forbids repeating a parameter. */
export function formFields(headers: IncomingHttpHeaders, body: unknown): Record<string, string> {
  if (!FORM.test(headers['content-type'] ?? '')) {
    throw invalidRequest('the body must be application/x-www-form-urlencoded');
  }
  const out: Record<string, string> = {};
  if (body === null || typeof body !== 'object') return out;
  for (const [k, v] of Object.entries(body as FormBody)) {
    if (typeof v !== 'string') throw invalidRequest(`parameter ${k} is repeated or malformed`);
    out[k] = v;
  }
  return out;
}

/** RFC 6749 §2.3.1: id and secret are form-encoded before Basic encoding. */
function formDecode(s: string): string {
  return decodeURIComponent(s.replace(/\+/g, ' '));
}

/** Longest client_id or client_secret read (contract): longer is 400, before any check. */
export const MAX_CREDENTIAL_LENGTH = 256;

export function presentedClient(
  headers: IncomingHttpHeaders,
  form: Record<string, string>,
): PresentedClient {
  const tooLong = (v: string | undefined) => v !== undefined && v.length > MAX_CREDENTIAL_LENGTH;
  const refuse = () =>
    invalidRequest(`client_id and client_secret are at most ${MAX_CREDENTIAL_LENGTH} characters`);
  if (tooLong(form.client_id) || tooLong(form.client_secret)) throw refuse();
  const p = presentedClientUnchecked(headers, form);
  if (tooLong(p.clientId) || tooLong(p.secret)) throw refuse();
  return p;
}

function presentedClientUnchecked(
  headers: IncomingHttpHeaders,
  form: Record<string, string>,
): PresentedClient {
  const basic = parseBasic(headers.authorization);
  if (basic) {
    if (form.client_secret !== undefined) {
      throw invalidRequest('use one client authentication method, not both');
    }
    if (form.client_id !== undefined && form.client_id !== basic.clientId) {
      throw invalidRequest('client_id does not match the Authorization header');
    }
    return basic;
  }
  if (form.client_id !== undefined && form.client_secret !== undefined) {
    return { clientId: form.client_id, secret: form.client_secret, method: 'client_secret_post' };
  }
  throw new OAuthError(401, 'invalid_client', 'client authentication is required');
}

function parseBasic(header: string | undefined): PresentedClient | undefined {
  if (!header || !/^basic /i.test(header)) return undefined;
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  const bad = () =>
    new OAuthError(401, 'invalid_client', 'malformed Basic credentials', {
      'WWW-Authenticate': 'Basic realm="api-gateway"',
    });
  if (colon < 0) throw bad();
  try {
    return {
      clientId: formDecode(decoded.slice(0, colon)),
      secret: formDecode(decoded.slice(colon + 1)),
      method: 'client_secret_basic',
    };
  } catch {
    throw bad();
  }
}
