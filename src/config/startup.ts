import { type ConfigSnapshot, loadConfig } from './config-loader';
import type { Env } from './env-substitution';
import { parseRuntimeEnv, type RuntimeEnv } from './runtime-env';

export type Startup =
  | {
      readonly ok: true;
      readonly env: RuntimeEnv;
      readonly raw: Env;
      readonly snapshot: ConfigSnapshot;
    }
  | { readonly ok: false; readonly problems: readonly string[] };

/** Reads the environment and the config folder the way start-up and `config:check` do. */
export function readStartup(dirOverride?: string, raw: Env = process.env): Startup {
  let env: RuntimeEnv;
  try {
    env = parseRuntimeEnv({ ...raw });
  } catch (e) {
    return { ok: false, problems: (e as Error).message.split('\n') };
  }
  if (env.LOG_FORMAT === 'pretty' && !resolvable('pino-pretty')) {
    return {
      ok: false,
      problems: [
        'environment: LOG_FORMAT: pretty needs the pino-pretty package, a development dependency (npm ci without --omit=dev); production logs are json',
      ],
    };
  }
  const loaded = loadConfig(dirOverride ?? env.GATEWAY_CONFIG_DIR, raw);
  if (!loaded.ok) return { ok: false, problems: loaded.problems };
  return { ok: true, env, raw, snapshot: loaded.snapshot };
}

function resolvable(id: string): boolean {
  try {
    require.resolve(id);
    return true;
  } catch {
    return false;
  }
}
