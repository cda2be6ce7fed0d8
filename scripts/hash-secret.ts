// `npm run hash-secret`: reads a client secret from stdin (one trailing newline stripped)
// and prints its argon2id PHC string, for `secretHash` in gateway.yaml.
import argon2 from 'argon2';

async function main(): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const secret = Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
  if (secret === '') {
    process.stderr.write('hash-secret: no secret on stdin\n');
    process.exitCode = 1;
    return;
  }
  process.stdout.write(`${phcOrder(await argon2.hash(secret, { type: argon2.argon2id }))}\n`);
}

/**
 * The argon2 package writes the parameters as `m=…,p=…,t=…`; the PHC string format (and
 * libargon2-based verifiers such as PHP's and argon2-cffi) want `m=…,t=…,p=…`.
 */
export function phcOrder(hash: string): string {
  return hash.replace(/\$m=(\d+),p=(\d+),t=(\d+)\$/, '$$m=$1,t=$3,p=$2$$');
}

if (require.main === module) void main();
