// `npm run config:check [dir]`: validates a config folder as start-up would, like
// `nginx -t`: the same one line per problem on stderr, exit 0 valid / 1 invalid.
import { readStartup } from '../src/config/startup';

const dir = process.argv[2];
const startup = readStartup(dir);
if (startup.ok) {
  const s = startup.snapshot;
  const routes = s.services.reduce((n, svc) => n + svc.settings.routes.length, 0);
  process.stdout.write(
    `${s.dir}: ok (revision ${s.revision}, ${s.services.length} services, ${routes} routes)\n`,
  );
  for (const w of s.warnings) process.stdout.write(`warning: ${w}\n`);
  process.exitCode = 0;
  void s.plugins.close();
} else {
  for (const line of startup.problems) process.stderr.write(`${line}\n`);
  process.exitCode = 1;
}
