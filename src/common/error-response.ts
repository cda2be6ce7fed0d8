import { type ServerResponse, STATUS_CODES } from 'node:http';

export interface ErrorBody {
  readonly statusCode: number;
  readonly error: string;
  readonly message: string;
  readonly requestId: string;
  /** Config reload only: one line per problem. */
  readonly problems?: readonly string[];
}

export function errorBody(
  statusCode: number,
  message: string,
  requestId: string,
  problems?: readonly string[],
): ErrorBody {
  const body = { statusCode, error: STATUS_CODES[statusCode] ?? 'Error', message, requestId };
  return problems ? { ...body, problems } : body;
}

/**
 * Writes the contract's JSON error with node:http APIs only (it serves both the proxy path,
 * which never sees Express, and the own endpoints). Once a response head has gone there is
 * nothing honest left to send: the connection is cut instead.
 */
export function sendError(
  res: ServerResponse,
  statusCode: number,
  message: string,
  requestId: string,
  headers?: Readonly<Record<string, string | number | readonly string[]>>,
  problems?: readonly string[],
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (res.writableEnded || res.destroyed) return;
  const body = JSON.stringify(errorBody(statusCode, message, requestId, problems));
  res.statusCode = statusCode;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.setHeader('X-Request-ID', requestId);
  if (headers) for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.end(body);
}

/** The RFC 6749 §5.2 body of the /oauth/* endpoints (no request id in it, by the RFC). */
export function sendOAuthError(
  res: ServerResponse,
  status: number,
  error: string,
  description: string,
  headers?: Readonly<Record<string, string>>,
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({ error, error_description: description });
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Pragma', 'no-cache');
  if (headers) for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.end(body);
}

/** The Terminus body of /health and /ready, on 503 as on 200. */
export function sendTerminus(
  res: ServerResponse,
  status: number,
  body: unknown,
  requestId: string | undefined,
  extra?: Readonly<Record<string, string>>,
): void {
  const text = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  if (requestId) res.setHeader('X-Request-ID', requestId);
  if (extra) for (const [k, v] of Object.entries(extra)) res.setHeader(k, v);
  res.end(text);
}
