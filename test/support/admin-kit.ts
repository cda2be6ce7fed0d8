// Calls for the admin API specs: one HTTP exchange with the body parsed as JSON when it is,
// and every WWW-Authenticate field kept apart (a 401 on an own endpoint carries two).
import { rawRequest } from './raw-http';

export interface JsonReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** Every WWW-Authenticate field, one entry each, in order. */
  challenges: string[];
  text: string;
  /** The body parsed as JSON; undefined when it is not JSON. */
  json: unknown;
}

export async function jsonCall(
  port: number,
  path: string,
  o: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<JsonReply> {
  const r = await rawRequest({ port, path, method: o.method, headers: o.headers, body: o.body });
  const challenges: string[] = [];
  for (let i = 0; i < r.rawHeaders.length; i += 2) {
    if (r.rawHeaders[i].toLowerCase() === 'www-authenticate') challenges.push(r.rawHeaders[i + 1]);
  }
  const text = r.body.toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: r.status, headers: r.headers, challenges, text, json };
}

/** The contract's error body (`statusCode`, `error`, `message`, `requestId`), checked whole. */
export function expectErrorBody(
  r: JsonReply,
  status: number,
  error: string,
  extraKeys: readonly string[] = [],
): Record<string, unknown> {
  expect(r.status).toBe(status);
  expect(r.headers['content-type']).toMatch(/^application\/json\b/);
  const body = r.json as Record<string, unknown>;
  expect(Object.keys(body).sort()).toEqual(
    ['error', 'message', 'requestId', 'statusCode', ...extraKeys].sort(),
  );
  expect(body).toMatchObject({
    statusCode: status,
    error,
    message: expect.any(String),
    requestId: r.headers['x-request-id'],
  });
  return body;
}
