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
