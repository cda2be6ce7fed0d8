// ip-filter (access): the client IP, as server.trustProxy determines it, against CIDR lists.
import { BlockList, isIP } from 'node:net';

import { type GatewayPlugin, PluginOptionsError } from '../plugin-api';

interface Options {
  readonly allow?: readonly string[];
  readonly deny?: readonly string[];
}

const list = { type: 'array', items: { type: 'string' }, maxItems: 10000 };

function blockList(cidrs: readonly string[], key: string): BlockList {
  const b = new BlockList();
  cidrs.forEach((c, i) => {
    const [addr, bits, extra] = c.split('/');
    const family = isIP(addr ?? '');
    const max = family === 4 ? 32 : 128;
    const prefix = bits === undefined ? max : /^\d{1,3}$/.test(bits) ? Number(bits) : -1;
    if (family === 0 || extra !== undefined || prefix < 0 || prefix > max) {
      throw new PluginOptionsError(`${key}[${i}]`, 'not a CIDR');
    }
    b.addSubnet(addr, prefix, family === 4 ? 'ipv4' : 'ipv6');
  });
  return b;
}

export const ipFilter: GatewayPlugin = {
  name: 'ip-filter',
  phase: 'access',
  optionsSchema: {
    type: 'object',
    properties: { allow: list, deny: list },
    additionalProperties: false,
    anyOf: [{ required: ['allow'] }, { required: ['deny'] }],
  },
  create(raw) {
    const o = raw as Options;
    const allow = o.allow && blockList(o.allow, 'allow');
    const deny = o.deny && blockList(o.deny, 'deny');
    return (call) => {
      const ip = call.clientIp;
      const type = isIP(ip) === 6 ? 'ipv6' : 'ipv4';
      if (deny?.check(ip, type) || (allow && !allow.check(ip, type))) {
        call.reject(403, 'address not allowed');
      }
    };
  },
};
