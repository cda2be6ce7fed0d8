// Certificates made at test time with openssl (the TLS and HTTP/2 specs).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** A self-signed certificate for localhost and 127.0.0.1 with the given CN, in `dir`. */
export function selfSigned(dir: string, cn: string): { cert: string; key: string } {
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '2',
      '-keyout',
      `${cn}.key`,
      '-out',
      `${cn}.pem`,
      '-subj',
      `/CN=${cn}`,
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
    ],
    { cwd: dir, stdio: 'pipe' },
  );
  return {
    cert: readFileSync(join(dir, `${cn}.pem`), 'utf8'),
    key: readFileSync(join(dir, `${cn}.key`), 'utf8'),
  };
}
