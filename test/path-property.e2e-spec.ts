// A property of the path rule (CONTRACT.md, Security, "Path characters", and Proxy
// behaviour): for any request target, the gateway either refuses it, or the backend receives
// exactly the normalised, rewritten path plus the query. The expected path comes from a
// small reference model written here from the contract's words, not from the gateway's code.
import fc from 'fast-check';

import { startBackend, type TestBackend } from './support/backend';
import { rawRequest } from './support/raw-http';
import { startTestGateway, type TestGateway } from './support/test-gateway';

const SECRET = 'path-property-secret-0123456789abcdef';
const PREFIX = '/api/service1';

/** Pieces that different URL parsers read differently. Raw UTF-8 goes as its bytes. */
const TOKENS = [
  '/',
  '//',
  '\\',
  '.',
  '..',
  '%2e',
  '%2E',
  '%2e%2e',
  '%2f',
  '%2F',
  '%5c',
  '%5C',
  ';',
  ';a=b',
  '#',
  '?',
  '&',
  'http:',
  'https:',
  'admin',
  'x',
  '%41',
  '%7e',
  '%00',
  '%1f',
  '%7F',
  '%zz',
  '%C3%A9',
  '%e6%97%a5',
  latin1('é'),
  latin1('日本'),
];

function latin1(s: string): string {
  return Buffer.from(s, 'utf8').toString('latin1');
}

const targetArb = fc
  .tuple(
    fc.constantFrom(PREFIX, `${PREFIX}/`, `${PREFIX}/admin`, `${PREFIX}/admin/`, '/api', '/'),
    fc.array(fc.constantFrom(...TOKENS), { maxLength: 8 }),
  )
  .map(([prefix, tokens]) => prefix + tokens.join(''));

/**
 * Counterexamples the property found (shrunk) on the code before the fix, with seeds
 * 20261202, 1 and 2, kept so they run on every seed. Before the fix `/api/service1/\\` and
 * `/api/service1/#` reached the backend as `/api/`, `/api/service1/adminhttps:/` as
 * `/api/adminhttps://` (http-proxy's urlJoin), and the encoded control characters were
 * forwarded or answered 401/404.
 */
const FOUND: readonly string[] = [
  '/api/service1%7F',
  '/api/service1%1f',
  '/api/service1#',
  '/api/service1\\',
  '/api/service1/#',
  '/api/service1/\\',
  '/api/service1/admin/\\',
  '/api/service1/admin/%7F',
  '/api/service1/adminhttps:/',
  // The report: 200 and `/api/admin/secret` upstream with no identity.
  '/api/service1/admin\\secret',
];

type Expected =
  | { readonly kind: 'bad-request' }
  | { readonly kind: 'no-route' }
  | { readonly kind: 'route'; readonly admin: boolean; readonly upstream: string };

const UNRESERVED = /^[A-Za-z0-9\-._~]$/;

const BAD_REQUEST = Symbol('bad-request');

/** The contract's normalisation, or BAD_REQUEST when the path is a 400. */
function normalise(path: string): string | typeof BAD_REQUEST {
  if (/[^\x21-\x7e]/.test(path)) return BAD_REQUEST;
  let decoded = '';
  for (let i = 0; i < path.length; i++) {
    if (path[i] !== '%') {
      decoded += path[i];
      continue;
    }
    const hex = path.slice(i + 1, i + 3);
    if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return BAD_REQUEST;
    const byte = parseInt(hex, 16);
    if (byte < 0x20 || byte === 0x7f) return BAD_REQUEST;
    const c = String.fromCharCode(byte);
    decoded += UNRESERVED.test(c) ? c : `%${hex.toUpperCase()}`;
    i += 2;
  }
  const segments = decoded.split('/').slice(1);
  const kept: string[] = [];
  for (const s of segments) {
    if (s === '..') kept.pop();
    else if (s !== '' && s !== '.') kept.push(s);
  }
  const last = segments[segments.length - 1];
  const trailing = kept.length > 0 && (last === '' || last === '.' || last === '..');
  return '/' + kept.join('/') + (trailing ? '/' : '');
}

/** What the contract says must happen to `target` with the two routes below. */
function expected(target: string): Expected {
  if (/[\\#]/.test(target)) return { kind: 'bad-request' };
  const q = target.indexOf('?');
  const path = q === -1 ? target : target.slice(0, q);
  const query = q === -1 ? '' : target.slice(q);
  const n = normalise(path);
  if (n === BAD_REQUEST) return { kind: 'bad-request' };
  if (n !== PREFIX && !n.startsWith(`${PREFIX}/`)) return { kind: 'no-route' };
  const rest = n.slice(PREFIX.length);
  const admin = rest === '/admin' || rest.startsWith('/admin/');
  // Both routes rewrite `/api/service1/*` to `/api/*`.
  return { kind: 'route', admin, upstream: '/api' + rest + query };
}

describe('Path rule (property)', () => {
  let backend: TestBackend;
  let gw: TestGateway;

  beforeAll(async () => {
    backend = await startBackend();
    gw = await startTestGateway(
      {
        gateway: [
          'rateLimit: { enabled: false }',
          'auth:',
          '  jwt: { algorithms: [HS256], secret: "${JWT_SECRET}" }',
          '',
        ].join('\n'),
        services: {
          service1: [
            'name: service1',
            `targets: [{ url: "${backend.url}" }]`,
            'routes:',
            '  - { path: /api/service1/admin/*, rewrite: /api/admin/*, auth: jwt, roles: [admin] }',
            '  - { path: /api/service1/*, rewrite: /api/*, auth: none }',
            '',
          ].join('\n'),
        },
      },
      { JWT_SECRET: SECRET },
    );
  });

  afterAll(async () => {
    await gw.close();
    await backend.close();
  });

  /** Sends `target` as is (no token) and checks the outcome against the model. */
  async function check(target: string): Promise<void> {
    backend.received.splice(0);
    const res = await rawRequest({ port: gw.port, path: target });
    const received = backend.received.splice(0).map((r) => r.url);
    const want = expected(target);
    if (want.kind === 'bad-request') {
      expect({ target, status: res.status, received }).toEqual({
        target,
        status: 400,
        received: [],
      });
      return;
    }
    if (res.status === 400 || res.status === 404) {
      expect({ target, received }).toEqual({ target, received: [] });
      return;
    }
    expect(want.kind).toBe('route');
    if (want.kind !== 'route') return;
    if (want.admin) {
      // The admin route needs a token: the call must never reach the backend without one.
      expect({ target, status: res.status, received }).toEqual({
        target,
        status: 401,
        received: [],
      });
      return;
    }
    expect({ target, status: res.status, received }).toEqual({
      target,
      status: 200,
      received: [want.upstream],
    });
    const q = received[0].indexOf('?');
    const path = q === -1 ? received[0] : received[0].slice(0, q);
    expect({ target, path, normalised: normalise(path) }).toEqual({
      target,
      path,
      normalised: path,
    });
    expect({ target, path, unsafe: /[\\#]|\/\/|%(?:[01][0-9A-Fa-f]|7[Ff])/.test(path) }).toEqual({
      target,
      path,
      unsafe: false,
    });
  }

  it('the backend receives rewrite(normalise(path)) + query, or the call is refused', async () => {
    await fc.assert(
      fc.asyncProperty(targetArb, (target) => check(target)),
      { seed: 20261202, numRuns: 300, examples: FOUND.map((t) => [t] as [string]) },
    );
  });

  it.each(FOUND.map((t) => [t]))('holds for the counterexample %s', (target) => check(target));
});
