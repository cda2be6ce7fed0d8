// Header editors handed to plugins: one over the headers that will be sent upstream (the
// request's own header object, which http-proxy copies), one over the response head.
import {
  type IncomingHttpHeaders,
  type ServerResponse,
  validateHeaderName,
  validateHeaderValue,
} from 'node:http';

import type { HeaderEditor } from './plugin-api';

function checked(name: string, value: string | number | readonly string[]): string | string[] {
  validateHeaderName(name);
  const v: string | string[] =
    typeof value === 'number' ? String(value) : typeof value === 'string' ? value : [...value];
  for (const one of Array.isArray(v) ? v : [v]) validateHeaderValue(name, one);
  return v;
}

export function requestHeaderEditor(h: IncomingHttpHeaders): HeaderEditor {
  return {
    get: (name) => h[name.toLowerCase()],
    set: (name, value) => {
      h[name.toLowerCase()] = checked(name, value);
    },
    append: (name, value) => {
      const n = name.toLowerCase();
      const v = checked(name, value) as string;
      const old = h[n];
      if (old === undefined) h[n] = v;
      else if (Array.isArray(old)) h[n] = [...old, v];
      else h[n] = n === 'set-cookie' ? [old, v] : `${old}, ${v}`;
    },
    delete: (name) => {
      delete h[name.toLowerCase()];
    },
  };
}

export function responseHeaderEditor(res: ServerResponse): HeaderEditor {
  return {
    get: (name) => {
      const v = res.getHeader(name);
      return typeof v === 'number' ? String(v) : v;
    },
    set: (name, value) => {
      res.setHeader(name, checked(name, value));
    },
    append: (name, value) => {
      res.appendHeader(name, checked(name, value));
    },
    delete: (name) => {
      res.removeHeader(name);
    },
  };
}
