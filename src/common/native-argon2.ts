// argon2 is a native module. Its prebuilt binaries need Node-API 10 (Node >= 22.14); on an
// older Node, an install without scripts (`npm ci --ignore-scripts`) keeps only those, and
// loading them crashes the process (SIGSEGV) — no exception to catch. So whether it works
// is asked once per process, in a child process, before a config that needs it is accepted.
import { spawnSync } from 'node:child_process';

let usable: { ok: true } | { ok: false; why: string } | undefined;

const PROBE =
  "require('argon2').hash('probe',{type:2,timeCost:2,memoryCost:1024}).then(()=>process.exit(0),()=>process.exit(3))";

/** Whether argon2 loads and hashes in this Node; the reason when it does not. */
export function argon2Usable(): { ok: true } | { ok: false; why: string } {
  if (usable) return usable;
  const r = spawnSync(process.execPath, ['-e', PROBE], { timeout: 15_000, stdio: 'ignore' });
  if (r.status === 0) return (usable = { ok: true });
  const how = r.signal ? `crashed (${r.signal})` : `failed (exit ${r.status ?? 'none'})`;
  return (usable = {
    ok: false,
    why: `the argon2 native module ${how} on Node ${process.versions.node}: reinstall with install scripts (npm ci, which builds it) or run Node >= 22.14`,
  });
}
