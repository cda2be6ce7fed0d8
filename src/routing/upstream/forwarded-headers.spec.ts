import type { IncomingHttpHeaders } from 'node:http';

import {
  type ForwardingFacts,
  prepareClientHeaders,
  prepareUpstreamHeaders,
} from './forwarded-headers';

const facts = (over: Partial<ForwardingFacts> = {}): ForwardingFacts => ({
  peer: '203.0.113.9',
  peerTrusted: false,
  encrypted: false,
  requestId: 'req-1',
  ...over,
});

function upstream(h: IncomingHttpHeaders, f: ForwardingFacts = facts()): IncomingHttpHeaders {
  prepareUpstreamHeaders(h, f);
  return h;
}

describe('prepareUpstreamHeaders', () => {
  it('drops hop-by-hop headers and those named in Connection, keeping end-to-end ones', () => {
    const h = upstream({
      host: 'gw.example',
      connection: 'keep-alive, X-Secret-Hop , x-other',
      'keep-alive': 'timeout=5',
      'x-secret-hop': 'a',
      'x-other': 'b',
      te: 'trailers',
      trailer: 'x-t',
      upgrade: 'h2c',
      'proxy-authorization': 'Basic eDp5',
      'proxy-connection': 'keep-alive',
      accept: 'application/json',
      authorization: 'Bearer t',
      'content-type': 'text/plain',
      'content-length': '3',
    });
    expect(h).toEqual({
      host: 'gw.example',
      accept: 'application/json',
      authorization: 'Bearer t',
      'content-type': 'text/plain',
      'content-length': '3',
      'x-forwarded-for': '203.0.113.9',
      'x-forwarded-proto': 'http',
      'x-forwarded-host': 'gw.example',
      'x-request-id': 'req-1',
    });
  });

  it('keeps a chunked body framed as chunked', () => {
    const h = upstream({ host: 'h', connection: 'close', 'transfer-encoding': 'chunked' });
    expect(h['transfer-encoding']).toBe('chunked');
    expect(h.connection).toBeUndefined();
  });

  it('keeps the body chunked even when Connection names Transfer-Encoding', () => {
    const h = upstream({
      host: 'h',
      connection: 'transfer-encoding',
      'transfer-encoding': 'chunked',
    });
    expect(h['transfer-encoding']).toBe('chunked');
  });

  it('adds no Transfer-Encoding when the client sent none', () => {
    const h = upstream({ host: 'h', 'content-length': '0' });
    expect(h['transfer-encoding']).toBeUndefined();
  });

  it('removes every X-User-* header the client sent', () => {
    const h = upstream({
      host: 'h',
      'x-user-id': 'admin',
      'x-user-roles': 'admin',
      'x-user-scopes': 'all',
      'x-user-anything': '1',
      'x-username': 'kept',
    });
    expect(Object.keys(h).filter((k) => k.startsWith('x-user'))).toEqual(['x-username']);
  });

  it('removes identity and override headers in any spelling, trusted peer or not', () => {
    for (const peerTrusted of [false, true]) {
      const h = upstream(
        {
          host: 'h',
          x_user_id: 'admin',
          x_user_roles: 'admin',
          'x-user_scopes': 'all',
          'x-original-url': '/admin',
          x_original_url: '/admin',
          'x-rewrite-url': '/admin',
          'x-http-method-override': 'DELETE',
          x_http_method_override: 'DELETE',
          accept: '*/*',
        },
        facts({ peerTrusted }),
      );
      expect(Object.keys(h).sort()).toEqual([
        'accept',
        'host',
        'x-forwarded-for',
        'x-forwarded-host',
        'x-forwarded-proto',
        'x-request-id',
      ]);
    }
  });

  it('removes address headers from an untrusted peer, underscore spellings too', () => {
    const h = upstream({
      host: 'gw.example',
      forwarded: 'for=1.2.3.4;host=evil',
      'x-real-ip': '1.2.3.4',
      x_real_ip: '1.2.3.4',
      'x-forwarded-port': '443',
      'x-forwarded-prefix': '/admin',
      x_forwarded_host: 'evil.example',
      x_forwarded_proto: 'https',
      x_forwarded_for: '1.2.3.4',
    });
    expect(h).toEqual({
      host: 'gw.example',
      'x-forwarded-for': '203.0.113.9',
      'x-forwarded-proto': 'http',
      'x-forwarded-host': 'gw.example',
      'x-request-id': 'req-1',
    });
  });

  it('keeps address headers from a trusted peer', () => {
    const h = upstream(
      {
        host: 'h',
        forwarded: 'for=1.2.3.4',
        'x-real-ip': '1.2.3.4',
        'x-forwarded-port': '443',
        'x-forwarded-prefix': '/p',
      },
      facts({ peerTrusted: true }),
    );
    expect(h).toMatchObject({
      forwarded: 'for=1.2.3.4',
      'x-real-ip': '1.2.3.4',
      'x-forwarded-port': '443',
      'x-forwarded-prefix': '/p',
    });
  });

  it('sets X-Forwarded-For to the peer when the client sent none', () => {
    expect(upstream({ host: 'h' })['x-forwarded-for']).toBe('203.0.113.9');
  });

  it('appends the peer to the client X-Forwarded-For', () => {
    const h = upstream({ host: 'h', 'x-forwarded-for': '198.51.100.1, 10.0.0.2' });
    expect(h['x-forwarded-for']).toBe('198.51.100.1, 10.0.0.2, 203.0.113.9');
  });

  it('appends the peer even from a trusted proxy', () => {
    const h = upstream(
      { host: 'h', 'x-forwarded-for': '198.51.100.1' },
      facts({ peer: '10.0.0.1', peerTrusted: true }),
    );
    expect(h['x-forwarded-for']).toBe('198.51.100.1, 10.0.0.1');
  });

  it('replaces X-Forwarded-Proto and -Host from an untrusted peer', () => {
    const h = upstream({
      host: 'gw.example:8080',
      'x-forwarded-proto': 'https',
      'x-forwarded-host': 'evil.example',
    });
    expect(h['x-forwarded-proto']).toBe('http');
    expect(h['x-forwarded-host']).toBe('gw.example:8080');
  });

  it('says https on an encrypted socket', () => {
    expect(upstream({ host: 'h' }, facts({ encrypted: true }))['x-forwarded-proto']).toBe('https');
  });

  it('keeps X-Forwarded-Proto and -Host from a trusted peer', () => {
    const h = upstream(
      { host: 'internal:8080', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'api.example' },
      facts({ peerTrusted: true }),
    );
    expect(h['x-forwarded-proto']).toBe('https');
    expect(h['x-forwarded-host']).toBe('api.example');
  });

  it('fills X-Forwarded-Proto and -Host when a trusted peer sent none', () => {
    const h = upstream({ host: 'internal:8080' }, facts({ peerTrusted: true, encrypted: true }));
    expect(h['x-forwarded-proto']).toBe('https');
    expect(h['x-forwarded-host']).toBe('internal:8080');
  });

  it('drops a client X-Forwarded-Host when there is no Host', () => {
    const h = upstream({ 'x-forwarded-host': 'evil.example' });
    expect('x-forwarded-host' in h).toBe(false);
  });

  it('sets X-Request-ID to the request id, replacing the client value', () => {
    expect(upstream({ host: 'h', 'x-request-id': 'client-id' })['x-request-id']).toBe('req-1');
  });
});

describe('prepareClientHeaders', () => {
  const backend = (): IncomingHttpHeaders => ({
    connection: 'keep-alive, x-hop',
    'keep-alive': 'timeout=5',
    'x-hop': '1',
    'transfer-encoding': 'chunked',
    'proxy-authenticate': 'Basic',
    upgrade: 'websocket',
    trailer: 'x-t',
    'x-request-id': 'backend-id',
    'x-ratelimit-limit': '5',
    'x-ratelimit-remaining': '4',
    'x-ratelimit-reset': '60',
    ratelimit: '"b";r=4;t=60',
    'ratelimit-policy': '"b";q=5;w=60',
    'access-control-allow-origin': '*',
    'access-control-allow-credentials': 'true',
    'content-type': 'text/plain',
    'content-length': '4',
    'set-cookie': ['a=1', 'b=2'],
    'cache-control': 'no-store',
    'retry-after': '7',
    'x-backend': 'b',
  });

  const endToEnd = {
    'content-type': 'text/plain',
    'content-length': '4',
    'set-cookie': ['a=1', 'b=2'],
    'cache-control': 'no-store',
    'retry-after': '7',
    'x-backend': 'b',
  };

  it('drops hop-by-hop and gateway-owned headers, keeping Access-Control-* without cors', () => {
    const h = backend();
    prepareClientHeaders(h, false);
    expect(h).toEqual({
      ...endToEnd,
      'access-control-allow-origin': '*',
      'access-control-allow-credentials': 'true',
    });
  });

  it('also drops Access-Control-* when the gateway owns CORS', () => {
    const h = backend();
    prepareClientHeaders(h, true);
    expect(h).toEqual(endToEnd);
  });

  it('matches the owned names case-insensitively as Node lower-cases them', () => {
    const h: IncomingHttpHeaders = { 'ratelimit-reset': '1', 'x-ratelimit-used': '1', vary: 'x' };
    prepareClientHeaders(h, false);
    expect(h).toEqual({ vary: 'x' });
  });
});
