// https:// targets (contract, Protocols): the backend's certificate is verified against the
// service's tls.caFile (else the system CAs), SNI is the target's host name, and
// tls.certFile / keyFile present a client certificate (mTLS to the backend). Certificates
// are made at test time with openssl; the backends are real node:https servers.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';

import { loadConfig } from '../src/config/config-loader';
import { poll } from './support/poll';
import { rawRequest } from './support/raw-http';
import { startTestGateway, type TestGateway, writeConfigDir } from './support/test-gateway';

interface Seen {
  servername: string | false | undefined;
  clientCN: string | undefined;
  url: string | undefined;
}

function makePki(dir: string): Record<string, string> {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  ssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '2',
    '-subj',
    '/CN=test-ca',
  );
  const leaf = (name: string, cn: string, ext: string) => {
    ssl(
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
      '-subj',
      `/CN=${cn}`,
    );
    writeFileSync(join(dir, `${name}.ext`), ext);
    ssl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-days',
      '2',
      '-out',
      `${name}.pem`,
      '-extfile',
      `${name}.ext`,
    );
  };
  leaf('server', 'localhost', 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  leaf('client', 'gateway-client', 'extendedKeyUsage=clientAuth\n');
  const files: Record<string, string> = {};
  for (const f of ['ca.pem', 'server.pem', 'server.key', 'client.pem', 'client.key']) {
    files[f] = readFileSync(join(dir, f), 'utf8');
  }
  return files;
}

describe('https:// targets: CA, SNI and client certificates (e2e)', () => {
  let pki: Record<string, string>;
  let pkiDir: string;
  let open: Server;
  let strict: Server;
  let gw: TestGateway;
  const seen: Seen[] = [];

  const backend = (requireClientCert: boolean) =>
    createServer(
      {
        key: pki['server.key'],
        cert: pki['server.pem'],
        ca: pki['ca.pem'],
        requestCert: true,
        rejectUnauthorized: requireClientCert,
      },
      (req, res) => {
        const socket = req.socket as TLSSocket;
        const peer = socket.getPeerCertificate();
        seen.push({
          servername: (socket as TLSSocket & { servername?: string | false }).servername,
          clientCN:
            peer && 'subject' in peer ? String(peer.subject?.CN ?? '') || undefined : undefined,
          url: req.url,
        });
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ ok: true }));
      },
    );
  const listenOn = (s: Server) =>
    new Promise<number>((ok) =>
      s.listen(0, '127.0.0.1', () => ok((s.address() as AddressInfo).port)),
    );

  beforeAll(async () => {
    pkiDir = mkdtempSync(join(tmpdir(), 'gw-pki-'));
    pki = makePki(pkiDir);
    open = backend(false);
    strict = backend(true);
    const openPort = await listenOn(open);
    const strictPort = await listenOn(strict);
    const svc = (name: string, port: number, tls: string) => `
name: ${name}
targets: [{ url: "https://localhost:${port}" }]
${tls}
routes: [{ path: /api/${name}/*, rewrite: /* }]
`;
    gw = await startTestGateway({
      services: {
        trusted: svc(
          'trusted',
          openPort,
          'tls: { caFile: tls/ca.pem }\nhealthCheck: { path: /health, intervalMs: 200, timeoutMs: 1000 }',
        ),
        untrusted: svc('untrusted', openPort, ''),
        mtls: svc(
          'mtls',
          strictPort,
          'tls: { caFile: tls/ca.pem, certFile: tls/client.pem, keyFile: tls/client.key }',
        ),
        nocert: svc('nocert', strictPort, 'tls: { caFile: tls/ca.pem }'),
      },
      extra: {
        'tls/ca.pem': pki['ca.pem'],
        'tls/client.pem': pki['client.pem'],
        'tls/client.key': pki['client.key'],
      },
    });
  }, 60_000);

  afterAll(async () => {
    await gw?.close();
    await new Promise((r) => open?.close(r));
    await new Promise((r) => strict?.close(r));
    if (pkiDir) rmSync(pkiDir, { recursive: true, force: true });
  });

  it('verifies the backend against tls.caFile and sends the host name as SNI', async () => {
    seen.length = 0;
    const r = await rawRequest({ port: gw.port, path: '/api/trusted/orders' });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body.toString('utf8'))).toEqual({ ok: true });
    const last = seen.find((s) => s.url === '/orders');
    expect(last).toMatchObject({ servername: 'localhost', clientCN: undefined });
  });

  it('refuses a backend its CAs do not vouch for: 502, nothing served', async () => {
    seen.length = 0;
    const r = await rawRequest({ port: gw.port, path: '/api/untrusted/orders' });
    expect(r.status).toBe(502);
    expect(JSON.parse(r.body.toString('utf8'))).toMatchObject({ statusCode: 502 });
    expect(seen.filter((s) => s.url === '/orders')).toEqual([]);
  });

  it('presents tls.certFile to a backend that requires a client certificate (mTLS)', async () => {
    seen.length = 0;
    const r = await rawRequest({ port: gw.port, path: '/api/mtls/orders' });
    expect(r.status).toBe(200);
    expect(seen.find((s) => s.url === '/orders')?.clientCN).toBe('gateway-client');
  });

  it('gets 502 from that backend without a client certificate', async () => {
    const r = await rawRequest({ port: gw.port, path: '/api/nocert/orders' });
    expect(r.status).toBe(502);
  });

  it('runs active health checks with the same CA', async () => {
    await poll(
      async () => {
        const r = await rawRequest({ port: gw.port, path: '/ready' });
        const text = r.body.toString('utf8');
        return text.includes('"trusted"') && seen.some((s) => s.url === '/health')
          ? true
          : undefined;
      },
      5000,
      'a health check of the trusted target',
      100,
    );
    const ready = JSON.parse(
      (await rawRequest({ port: gw.port, path: '/ready' })).body.toString('utf8'),
    ) as { details: { upstreams: Record<string, { targets: { healthy: boolean }[] }> } };
    expect(JSON.stringify(ready.details)).toContain('"healthy":true');
  });

  it('reports bad tls files as config problems, one line each', () => {
    const dir = writeConfigDir({
      services: {
        a: `name: a\ntargets: [{ url: "https://localhost:1" }]\ntls: { caFile: tls/none.pem, certFile: tls/client.pem, keyFile: tls/other.key }\nroutes: [{ path: /api/a/* }]\n`,
        b: `name: b\ntargets: [{ url: "https://localhost:1" }]\ntls: { caFile: tls/garbage.pem }\nroutes: [{ path: /api/b/* }]\n`,
        c: `name: c\ntargets: [{ url: "https://localhost:1" }]\ntls: { certFile: tls/client.pem }\nroutes: [{ path: /api/c/* }]\n`,
      },
      extra: {
        'tls/client.pem': pki['client.pem'],
        'tls/other.key': pki['server.key'],
        'tls/garbage.pem': 'not a certificate',
      },
    });
    try {
      const r = loadConfig(dir, {});
      expect(r.ok).toBe(false);
      expect(r.ok ? [] : [...r.problems].sort()).toEqual(
        [
          'services/a.yaml: tls.caFile: cannot read the file (paths are relative to the config folder)',
          'services/a.yaml: tls.keyFile: does not match the certificate of certFile',
          'services/b.yaml: tls.caFile: is not a PEM certificate',
          'services/c.yaml: tls.certFile: give certFile and keyFile together',
        ].sort(),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
