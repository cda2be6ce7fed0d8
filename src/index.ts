// The package's library entry: importing it starts nothing. `npm start` runs src/main.ts.
export type { AppOptions } from './app.module';
export type { ConfigSnapshot } from './config/config-loader';
export { loadConfig } from './config/config-loader';
export type { BootstrapOptions, RunningGateway } from './gateway';
export { bootstrapGateway } from './gateway';
export {
  GATEWAY_PLUGINS,
  type GatewayConfigSource,
  GatewayModule,
  type GatewayModuleAsyncOptions,
  type GatewayModuleOptions,
} from './gateway.module';
export * from './plugins/plugin-api';
