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
  const loaded = loadConfig(dirOverride ?? env.GATEWAY_CONFIG_DIR, raw);
  if (!loaded.ok) return { ok: false, problems: loaded.problems };
  return { ok: true, env, raw, snapshot: loaded.snapshot };
}
