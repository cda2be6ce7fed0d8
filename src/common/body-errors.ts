// The own endpoints' body parsers (Express's body-parser, set up by Nest) signal a body
// they cannot read with an error carrying a `type`. Unmapped, Nest answers those with 500
// and an error-level stack, or echoes JSON.parse's message. The contract (Security, "Own
// endpoints' bodies"): 413, 415 or 400 with a plain message.
import type { IncomingMessage, ServerResponse } from 'node:http';

import { GatewayException } from './gateway.exception';

/** Bodies of the own endpoints (the OAuth forms are a few hundred bytes). */
export const OWN_BODY_LIMIT = 64 * 1024;

const BY_TYPE: Record<string, [number, string]> = {
  'entity.too.large': [413, 'request body is larger than 64 kb'],
  'charset.unsupported': [415, 'unsupported charset in Content-Type'],
  'encoding.unsupported': [415, 'unsupported Content-Encoding'],
  'entity.parse.failed': [400, 'the request body is malformed'],
  'entity.verify.failed': [400, 'the request body is malformed'],
  'parameters.too.many': [400, 'the request body has too many parameters'],
  'request.size.invalid': [400, 'the request body does not match its Content-Length'],
  'request.aborted': [400, 'the request body was not received'],
};

interface ParserError {
  readonly type?: unknown;
  readonly status?: unknown;
}

/** The gateway's own error for a body-parser failure; undefined if `err` is not one. */
export function bodyError(err: unknown): GatewayException | undefined {
  if (err === null || typeof err !== 'object') return undefined;
  const { type, status } = err as ParserError;
  if (typeof status !== 'number' || status < 400 || status > 499) return undefined;
  // raw-body's decompression errors carry a status but no type (a broken gzip stream).
  const [code, message] = (typeof type === 'string' && BY_TYPE[type]) || [
    status,
    status === 400 ? 'the request body is malformed' : 'the request body cannot be read',
  ];
  return new GatewayException(code, message);
}

/** Express error middleware placed right after the parsers: hands Nest a mapped error. */
export function mapBodyErrors(
  err: unknown,
  _req: IncomingMessage,
  _res: ServerResponse,
  next: (err?: unknown) => void,
): void {
  next(bodyError(err) ?? err);
}
