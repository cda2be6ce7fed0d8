import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import { packageVersion } from './package-version';

describe('packageVersion', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'gw-version-'));
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("reads the gateway's package.json upwards from this folder", () => {
    const pkg = JSON.parse(readFileSync(resolve(__dirname, '../../package.json'), 'utf8')) as {
      version: string;
    };
    expect(packageVersion()).toBe(pkg.version);
  });

  it("skips another package's package.json on the way up", () => {
    writeFileSync(
      join(dir, 'package.json'),
      JSON.stringify({ name: 'nest-api-gateway', version: '9.8.7' }),
    );
    const nested = join(dir, 'node_modules', 'other');
    mkdirSync(nested, { recursive: true });
    writeFileSync(
      join(nested, 'package.json'),
      JSON.stringify({ name: 'other', version: '1.0.0' }),
    );
    expect(packageVersion(join(nested, 'dist'))).toBe('9.8.7');
  });

  it('falls back to 0.0.0 when no package.json of the gateway is found', () => {
    const deep = join(dir, 'a', 'b');
    mkdirSync(deep, { recursive: true });
    expect(packageVersion(deep)).toBe('0.0.0');
  });
});
