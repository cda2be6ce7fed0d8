// Validates an OpenAPI document with @apidevtools/swagger-parser in a child Node process:
// its dependency json-schema-ref-parser is ES-module only, which Node (>= 20.19) can
// require but Jest's CommonJS module loader cannot.
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';

const ROOT = resolve(__dirname, '..', '..');

const SCRIPT = `
const SwaggerParser = require('@apidevtools/swagger-parser');
let text = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (c) => (text += c));
process.stdin.on('end', () => {
  SwaggerParser.validate(JSON.parse(text)).then(
    (api) => process.stdout.write(JSON.stringify({ valid: true, version: api.openapi ?? api.swagger })),
    (err) => process.stdout.write(JSON.stringify({ valid: false, message: String(err.message) })),
  );
});
`;

export type Validation =
  | { readonly valid: true; readonly version: string }
  | { readonly valid: false; readonly message: string };

/** swagger-parser's `validate()` verdict on `doc` (schema and semantic checks). */
export function validateOpenApi(doc: unknown): Promise<Validation> {
  return new Promise<Validation>((done, fail) => {
    const child = spawn(process.execPath, ['-e', SCRIPT], { cwd: ROOT });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
    child.on('error', fail);
    child.on('close', (code) => {
      if (code !== 0 || out === '') {
        fail(new Error(`swagger-parser did not run (exit ${String(code)}): ${err}`));
        return;
      }
      done(JSON.parse(out) as Validation);
    });
    child.stdin.end(JSON.stringify(doc));
  });
}
