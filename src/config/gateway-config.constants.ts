import type { GatewayPlugin } from '../plugins/plugin-api';
import type { ConfigSnapshot } from './config-loader';
import type { Env } from './env-substitution';

export interface GatewayConfigOptions {
  /** The snapshot start-up already loaded and validated (so problems print before Nest starts). */
  readonly initial: ConfigSnapshot;
  /** Environment used for `${VAR}` substitution on reload. */
  readonly env: Env;
  /** Plugins the application registered; every reload compiles with them too. */
  readonly plugins?: readonly GatewayPlugin[];
}
