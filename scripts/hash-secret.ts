// `hash-secret` (inside the image: `node dist/scripts/hash-secret.js`): prints the argon2id
// PHC string of a client secret, for `secretHash` in gateway.yaml. At a terminal it asks for
// the secret without echoing it; otherwise it reads stdin (one trailing newline stripped).
import argon2 from 'argon2';

const USAGE = `usage: hash-secret < secret-file
       hash-secret            (at a terminal: prompts, without echo)

Prints the argon2id PHC string of an OAuth client secret for oauth.clients[].secretHash.
Exit status: 0 printed, 1 no secret given, 2 usage error.
`;

async function main(argv: readonly string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (argv.length > 0) {
    process.stderr.write(`hash-secret: unexpected argument ${argv[0]}\n${USAGE}`);
    return 2;
  }
  const secret = process.stdin.isTTY ? await prompt('Client secret: ') : await readStdin();
  if (secret === '') {
    process.stderr.write('hash-secret: no secret given\n');
    return 1;
  }
  process.stdout.write(`${phcOrder(await argon2.hash(secret, { type: argon2.argon2id }))}\n`);
  return 0;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

/** Reads one line from the terminal in raw mode, echoing nothing; Ctrl-C aborts. */
function prompt(question: string): Promise<string> {
  const stdin = process.stdin;
  // Echo off before the prompt shows: what is typed after it is never echoed.
  stdin.setRawMode(true);
  process.stderr.write(question);
  stdin.setEncoding('utf8');
  return new Promise((resolve) => {
    let line = '';
    const done = (value: string) => {
      stdin.setRawMode(false);
      stdin.off('data', onData);
      stdin.pause();
      process.stderr.write('\n');
      resolve(value);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return done(line);
        if (ch === '\u0003') {
          process.stderr.write('\n');
          process.exit(130);
        }
        if (ch === '\u007f' || ch === '\b') line = line.slice(0, -1);
        else line += ch;
      }
    };
    stdin.on('data', onData);
    stdin.resume();
  });
}

/**
 * The argon2 package writes the parameters as `m=…,p=…,t=…`; the PHC string format (and
 * libargon2-based verifiers such as PHP's and argon2-cffi) want `m=…,t=…,p=…`.
 */
export function phcOrder(hash: string): string {
  return hash.replace(/\$m=(\d+),p=(\d+),t=(\d+)\$/, '$$m=$1,t=$3,p=$2$$');
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
