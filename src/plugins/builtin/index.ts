import type { GatewayPlugin } from '../plugin-api';
import { ipFilter } from './ip-filter';
import { requestHeaders } from './request-headers';
import { requestValidation } from './request-validation';
import { responseHeaders } from './response-headers';

export const BUILTIN_PLUGINS: readonly GatewayPlugin[] = [
  ipFilter,
  requestHeaders,
  responseHeaders,
  requestValidation,
];
