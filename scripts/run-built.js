// `npm run config:check` / `npm run hash-secret`: in a checkout with the dev dependencies,
// compile first (so the tool is the source's); where there is no TypeScript (the production
// tree, the image) run the compiled tool in dist/ as it is.
'use strict';
const { spawnSync } = require('node:child_process');
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
const [tool, ...args] = process.argv.slice(2);
const script = join(root, 'dist', 'scripts', `${tool}.js`);
let tsc;
try {
  tsc = require.resolve('typescript/bin/tsc', { paths: [root] });
} catch {
  tsc = undefined;
}
if (tsc) {
  const build = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], {
    stdio: 'inherit',
  });
  if (build.status !== 0) process.exit(build.status ?? 1);
} else if (!existsSync(script)) {
  process.stderr.write(`${tool}: ${script} not found and no TypeScript to build it\n`);
  process.exit(1);
}
const run = spawnSync(process.execPath, [script, ...args], { stdio: 'inherit' });
process.exit(run.status ?? 1);
