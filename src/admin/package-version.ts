import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The gateway's version from its package.json, found upwards from this file (src or dist). */
export function packageVersion(start = __dirname): string {
  let dir = start;
  for (let i = 0; i < 6; i++) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'nest-api-gateway') return pkg.version ?? '0.0.0';
    }
    dir = dirname(dir);
  }
  return '0.0.0';
}
