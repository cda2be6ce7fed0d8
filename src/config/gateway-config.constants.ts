import type { ConfigSnapshot } from './config-loader';
import type { Env } from './env-substitution';

export interface GatewayConfigOptions {
  /** The snapshot start-up already loaded and validated (so problems print before Nest starts). */
  readonly initial: ConfigSnapshot;
  /** Environment used for `${VAR}` substitution on reload. */
  readonly env: Env;
}
