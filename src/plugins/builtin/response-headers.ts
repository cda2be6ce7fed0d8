// response-headers (response): literal changes to the head sent to the client.
import { validateHeaderValue } from 'node:http';

import { type GatewayPlugin, PluginOptionsError } from '../plugin-api';
import { checkNames, type HeaderOptions, headerOptionsSchema } from './header-rules';

const OWNED = /^(x-request-id|x-ratelimit-.*|ratelimit.*|retry-after|access-control-.*)$/;

export const responseHeaders: GatewayPlugin = {
  name: 'response-headers',
  phase: 'response',
  optionsSchema: headerOptionsSchema({ type: ['string', 'number'] }),
  create(raw) {
    const o = raw as HeaderOptions<string | number>;
    checkNames(o, (n) => OWNED.test(n));
    const set = Object.entries(o.set ?? {}).map(([k, v]) => [k, String(v)] as const);
    const add = Object.entries(o.add ?? {}).map(([k, v]) => [k, String(v)] as const);
    for (const [k, v] of [...set, ...add]) {
      try {
        validateHeaderValue(k, v);
      } catch {
        throw new PluginOptionsError(
          `${o.set && k in o.set ? 'set' : 'add'}.${k}`,
          'not a valid header value',
        );
      }
    }
    const remove = o.remove ?? [];
    return (_call, response) => {
      for (const k of remove) response.headers.delete(k);
      for (const [k, v] of set) response.headers.set(k, v);
      for (const [k, v] of add) response.headers.append(k, v);
    };
  },
};
