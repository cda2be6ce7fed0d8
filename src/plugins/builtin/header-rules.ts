// Header names the header plugins may not touch, and the options shape they share.
import { HOP_BY_HOP_HEADERS, PluginOptionsError } from '../plugin-api';

const HOP_BY_HOP = new Set(HOP_BY_HOP_HEADERS);
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

const map = (values: Record<string, unknown>) => ({
  type: 'object',
  propertyNames: { pattern: TOKEN.source },
  additionalProperties: values,
});

export function headerOptionsSchema(values: Record<string, unknown>) {
  return {
    type: 'object',
    properties: {
      set: map(values),
      add: map(values),
      remove: { type: 'array', items: { type: 'string', pattern: TOKEN.source } },
    },
    additionalProperties: false,
  };
}

export interface HeaderOptions<V> {
  readonly set?: Readonly<Record<string, V>>;
  readonly add?: Readonly<Record<string, V>>;
  readonly remove?: readonly string[];
}

/** Throws PluginOptionsError for a name `forbidden` refuses. */
export function checkNames<V>(o: HeaderOptions<V>, forbidden: (lower: string) => boolean): void {
  const check = (name: string, where: string) => {
    const lower = name.toLowerCase().replace(/_/g, '-');
    if (HOP_BY_HOP.has(lower) || forbidden(lower)) {
      throw new PluginOptionsError(where, `${name} cannot be changed by a plugin`);
    }
  };
  for (const k of Object.keys(o.set ?? {})) check(k, `set.${k}`);
  for (const k of Object.keys(o.add ?? {})) check(k, `add.${k}`);
  (o.remove ?? []).forEach((k, i) => check(k, `remove[${i}]`));
}
