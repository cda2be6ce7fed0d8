// `config:check [dir]` (inside the image: `node dist/scripts/config-check.js [dir]`): validates
// a config folder as start-up would, like `nginx -t`: the same one line per problem on
// stderr, exit 0 valid / 1 invalid / 2 usage.
import { readStartup } from '../src/config/startup';

const USAGE = `usage: config-check [dir]

Validates a gateway config folder (gateway.yaml or gateway.yml, services/*.yaml) the way
start-up does, with the process environment for \${VAR} substitution.
  dir   the folder; default GATEWAY_CONFIG_DIR, else ./config
Exit status: 0 valid (warnings on stdout), 1 invalid (one line per problem on stderr),
2 usage error.
`;

function main(argv: readonly string[]): number {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(USAGE);
    return 0;
  }
  const unknown = argv.find((a) => a.startsWith('-'));
  if (unknown !== undefined || argv.length > 1) {
    process.stderr.write(
      `config-check: ${unknown ? `unknown option ${unknown}` : 'one folder only'}\n${USAGE}`,
    );
    return 2;
  }
  const startup = readStartup(argv[0]);
  if (!startup.ok) {
    for (const line of startup.problems) process.stderr.write(`${line}\n`);
    return 1;
  }
  const s = startup.snapshot;
  const routes = s.services.reduce((n, svc) => n + svc.settings.routes.length, 0);
  process.stdout.write(
    `${s.dir}: ok (revision ${s.revision}, ${s.services.length} services, ${routes} routes)\n`,
  );
  for (const w of s.warnings) process.stdout.write(`warning: ${w}\n`);
  void s.plugins.close();
  return 0;
}

process.exitCode = main(process.argv.slice(2));
