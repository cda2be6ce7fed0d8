// Specs that run the real process (`node dist/src/main.js`) compile what they exercise first.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

export const ROOT = join(__dirname, '..', '..');

/** `tsc -p tsconfig.build.json`; throws with the compiler's output when it fails. */
export function buildDist(): void {
  try {
    execFileSync(
      process.execPath,
      [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
      { cwd: ROOT, stdio: 'pipe' },
    );
  } catch (err) {
    const out = (err as { stdout?: Buffer }).stdout?.toString() ?? '';
    throw new Error(`build (tsc -p tsconfig.build.json) failed:\n${out}`);
  }
}
