// `npm run bench:routes`: the scale of configuration. How long a config of 100 service files
// of 10 routes (and 1,000 of 10) takes to load and validate, and what one route match costs
// with 10 to 10,000 routes in the table: the match should stay flat.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { loadConfig } from '../src/config/config-loader';
import { RouteTable } from '../src/routing/route-table';

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function configDir(files: number, routesPerFile: number): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-routes-'));
  mkdirSync(path.join(dir, 'services'));
  writeFileSync(path.join(dir, 'gateway.yaml'), 'rateLimit: { enabled: false }\n');
  for (let f = 0; f < files; f++) {
    const routes = Array.from(
      { length: routesPerFile },
      (_, r) => `  - { path: /api/s${f}/r${r}/*, rewrite: /r${r}/* }`,
    );
    writeFileSync(
      path.join(dir, 'services', `s${f}.yaml`),
      `name: s${f}\ntargets: [{ url: "http://127.0.0.1:9" }]\nroutes:\n${routes.join('\n')}\n`,
    );
  }
  return dir;
}

function timeLoad(files: number, routesPerFile: number): number {
  const dir = configDir(files, routesPerFile);
  try {
    const runs: number[] = [];
    for (let i = 0; i < 5; i++) {
      const started = process.hrtime.bigint();
      const loaded = loadConfig(dir, {});
      runs.push(Number(process.hrtime.bigint() - started) / 1e6);
      if (!loaded.ok) throw new Error(loaded.problems.join('\n'));
    }
    return median(runs);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** ns per lookup, median of 5 batches, for a table of `n` services under /api/. */
function timeMatch(n: number): { hit: number; miss: number; compileMs: number } {
  const defs = Array.from({ length: n }, (_, i) => ({
    pattern: `/api/svc${i}/*`,
    rewrite: '/*',
    data: i,
  }));
  const started = process.hrtime.bigint();
  const table = RouteTable.compile(defs);
  const compileMs = Number(process.hrtime.bigint() - started) / 1e6;
  const batch = (p: string, method = 'GET') => {
    const iterations = 200_000;
    let sink = 0;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) {
      const r = table.lookup(method, p);
      if (r.kind === 'matched') sink += r.match.route.index;
    }
    const ns = Number(process.hrtime.bigint() - t0) / iterations;
    if (sink < 0) throw new Error('unreachable');
    return ns;
  };
  const last = `/api/svc${n - 1}/orders/42`;
  const runs = (p: string) => median(Array.from({ length: 5 }, () => batch(p)));
  return { hit: runs(last), miss: runs('/api/nothing/here'), compileMs };
}

function main(): void {
  const lines = [`node ${process.version}, ${os.cpus().length} cpus`];
  lines.push(
    `load 100 files x 10 routes (1,000): ${timeLoad(100, 10).toFixed(0)} ms (median of 5)`,
  );
  lines.push(`load 1,000 files x 10 routes (10,000): ${timeLoad(1000, 10).toFixed(0)} ms`);
  lines.push('routes    compile ms  hit ns/lookup  miss ns/lookup');
  for (const n of [10, 100, 1_000, 10_000]) {
    const m = timeMatch(n);
    lines.push(
      `${String(n).padStart(6)}  ${m.compileMs.toFixed(1).padStart(10)}  ${m.hit.toFixed(0).padStart(13)}  ${m.miss.toFixed(0).padStart(14)}`,
    );
  }
  console.log(lines.join('\n'));
}

main();
