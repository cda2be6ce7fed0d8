// The HTTPS listener (server.tls, HTTPS_PORT): HTTP/1.1 over TLS beside plain HTTP, the same
// pipeline on both, X-Forwarded-Proto: https to the backend, the certificate replaced by a
// reload, and a bad certificate file as a config problem. Certificates made with openssl.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type PeerCertificate } from 'node:tls';

import { loadConfig } from '../src/config/config-loader';
import { GatewayConfig } from '../src/config/gateway-config';
import { startBackend, type TestBackend } from './support/backend';
import { rawRequest } from './support/raw-http';
import { startTestGateway, type TestGateway, writeConfigDir } from './support/test-gateway';
import { selfSigned } from './support/tls';

function httpsGet(
  port: number,
  path: string,
  ca: string,
): Promise<{ status: number; headers: Record<string, unknown>; body: string; cn: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, ca, servername: 'localhost', agent: false },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => {
          const peer = (
            res.socket as unknown as { getPeerCertificate(): PeerCertificate }
          ).getPeerCertificate?.();
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body,
            cn: peer?.subject?.CN,
          });
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('HTTPS listener (e2e)', () => {
  let pki: string;
  let first: { cert: string; key: string };
  let second: { cert: string; key: string };
  let backend: TestBackend;
  let gw: TestGateway;

  beforeAll(async () => {
    pki = mkdtempSync(join(tmpdir(), 'gw-tls-'));
    first = selfSigned(pki, 'gateway-one');
    second = selfSigned(pki, 'gateway-two');
    backend = await startBackend({ kind: 'echo' });
    gw = await startTestGateway(
      {
        gateway: 'server:\n  tls: { certFile: tls/cert.pem, keyFile: tls/key.pem }\n',
        services: {
          e: `name: e\ntargets: [{ url: "${backend.url}" }]\nroutes: [{ path: /api/e/*, rewrite: /* }]\n`,
        },
        extra: { 'tls/cert.pem': first.cert, 'tls/key.pem': first.key },
      },
      { HTTPS_PORT: '0' },
    );
  }, 60_000);

  afterAll(async () => {
    await gw?.close();
    await backend?.close();
    if (pki) rmSync(pki, { recursive: true, force: true });
  });

  it('serves the same routes over TLS, telling the backend X-Forwarded-Proto: https', async () => {
    expect(gw.httpsPort).toEqual(expect.any(Number));
    const secure = await httpsGet(gw.httpsPort!, '/api/e/orders?x=1', first.cert);
    expect(secure.status).toBe(200);
    expect(secure.headers['x-request-id']).toEqual(expect.any(String));
    const seen = backend.received.at(-1)!;
    expect(seen.url).toBe('/orders?x=1');
    expect(seen.headers['x-forwarded-proto']).toBe('https');
    const plain = await rawRequest({ port: gw.port, path: '/api/e/orders?x=1' });
    expect(plain.status).toBe(200);
    expect(backend.received.at(-1)!.headers['x-forwarded-proto']).toBe('http');
  });

  it('answers own endpoints and errors over TLS with the contract body', async () => {
    expect((await httpsGet(gw.httpsPort!, '/health', first.cert)).status).toBe(200);
    const miss = await httpsGet(gw.httpsPort!, '/nowhere', first.cert);
    expect(miss.status).toBe(404);
    expect(JSON.parse(miss.body)).toMatchObject({ statusCode: 404, error: 'Not Found' });
  });

  it('offers h2 and http/1.1 by ALPN, h2 first', async () => {
    const alpn = await new Promise<string | false>((resolve, reject) => {
      const s = connect(
        {
          host: '127.0.0.1',
          port: gw.httpsPort!,
          ca: first.cert,
          servername: 'localhost',
          ALPNProtocols: ['h2', 'http/1.1'],
        },
        () => {
          resolve(s.alpnProtocol ?? false);
          s.end();
        },
      );
      s.on('error', reject);
    });
    expect(alpn).toBe('h2');
  });

  it('takes a new certificate with a reload', async () => {
    expect((await httpsGet(gw.httpsPort!, '/health', first.cert)).cn).toBe('gateway-one');
    writeFileSync(join(gw.dir, 'tls/cert.pem'), second.cert);
    writeFileSync(join(gw.dir, 'tls/key.pem'), second.key);
    expect(gw.app.get(GatewayConfig).reload()).toMatchObject({ ok: true });
    const after = await httpsGet(gw.httpsPort!, '/health', second.cert);
    expect(after.status).toBe(200);
    expect(after.cn).toBe('gateway-two');
  });

  it('reports a bad certificate or a key of another certificate as one problem line', () => {
    const dir = writeConfigDir({
      gateway: 'server:\n  tls: { certFile: tls/cert.pem, keyFile: tls/key.pem }\n',
      extra: { 'tls/cert.pem': first.cert, 'tls/key.pem': second.key },
    });
    const bad = writeConfigDir({
      gateway: 'server:\n  tls: { certFile: tls/cert.pem, keyFile: tls/key.pem }\n',
      extra: { 'tls/cert.pem': 'garbage', 'tls/key.pem': first.key },
    });
    try {
      const r = loadConfig(dir, {});
      expect(r.ok ? [] : r.problems).toEqual([
        'gateway.yaml: server.tls.keyFile: does not match the certificate of certFile',
      ]);
      const r2 = loadConfig(bad, {});
      expect(r2.ok ? [] : r2.problems).toEqual([
        'gateway.yaml: server.tls.certFile: is not a PEM certificate',
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      rmSync(bad, { recursive: true, force: true });
    }
  });
});
