// request-headers (request): changes to the headers sent upstream, with per-call values.
import { type GatewayPlugin, type PluginCall, PluginOptionsError } from '../plugin-api';
import { checkNames, type HeaderOptions, headerOptionsSchema } from './header-rules';

const OWNED = /^(host|x-user-.*|x-forwarded-.*|x-request-id)$/;
const PLACEHOLDER = /\{\{\s*([^}]*?)\s*\}\}/g;
const VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

type Part = string | ((call: PluginCall) => unknown);

function resolver(expr: string): ((call: PluginCall) => unknown) | undefined {
  if (expr === 'identity.id') return (c) => c.identity?.id;
  if (expr === 'identity.roles') return (c) => c.identity?.roles.join(',');
  if (expr === 'client.ip') return (c) => c.clientIp;
  if (expr === 'request.id') return (c) => c.requestId;
  const claim = /^claim\.([A-Za-z0-9_:.-]+)$/.exec(expr);
  if (claim) {
    const name = claim[1];
    return (c) =>
      c.identity
        ? Object.prototype.hasOwnProperty.call(c.identity.claims, name)
          ? c.identity.claims[name]
          : undefined
        : undefined;
  }
  return undefined;
}

/** The value's parts, or undefined when the value holds no placeholder. */
function template(value: string, where: string): Part[] | undefined {
  const parts: Part[] = [];
  let last = 0;
  let dynamic = false;
  for (const m of value.matchAll(PLACEHOLDER)) {
    const fn = resolver(m[1]);
    if (!fn) throw new PluginOptionsError(where, `unknown placeholder {{${m[1]}}}`);
    parts.push(value.slice(last, m.index), fn);
    last = (m.index ?? 0) + m[0].length;
    dynamic = true;
  }
  parts.push(value.slice(last));
  return dynamic ? parts : undefined;
}

/** The value for this call; undefined = do not send the header. */
function render(parts: readonly Part[], call: PluginCall): string | undefined {
  let out = '';
  for (const p of parts) {
    if (typeof p === 'string') {
      out += p;
      continue;
    }
    const v = p(call);
    if (typeof v === 'number' && Number.isFinite(v)) out += String(v);
    else if (typeof v === 'string' && v !== '') out += v;
    else return undefined;
  }
  return VALUE.test(out) ? out : undefined;
}

interface Change {
  readonly name: string;
  readonly literal: string | undefined;
  readonly parts: readonly Part[] | undefined;
}

function compile(entries: Record<string, string | number>, key: string): Change[] {
  return Object.entries(entries).map(([name, raw]) => {
    const value = String(raw);
    const parts = template(value, `${key}.${name}`);
    if (!parts && !VALUE.test(value)) {
      throw new PluginOptionsError(`${key}.${name}`, 'not a valid header value');
    }
    return { name, literal: parts ? undefined : value, parts };
  });
}

export const requestHeaders: GatewayPlugin = {
  name: 'request-headers',
  phase: 'request',
  optionsSchema: headerOptionsSchema({ type: ['string', 'number'] }),
  create(raw) {
    const o = raw as HeaderOptions<string | number>;
    checkNames(o, (n) => OWNED.test(n));
    const set = compile({ ...o.set }, 'set');
    const add = compile({ ...o.add }, 'add');
    const remove = o.remove ?? [];
    return (call) => {
      const h = call.upstream.headers;
      for (const k of remove) h.delete(k);
      for (const c of set) {
        const v = c.literal ?? render(c.parts as Part[], call);
        if (v === undefined) h.delete(c.name);
        else h.set(c.name, v);
      }
      for (const c of add) {
        const v = c.literal ?? render(c.parts as Part[], call);
        if (v !== undefined) h.append(c.name, v);
      }
    };
  },
};
