// request-validation (request): the body must be JSON that satisfies a JSON Schema file
// (draft 2020-12). Only a route with this plugin buffers a body; a valid body is forwarded
// byte for byte.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

import Ajv2020, { type ErrorObject } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';

import { type GatewayPlugin, PluginOptionsError } from '../plugin-api';

const MAX_PROBLEMS = 20;
const JSON_TYPE = /^application\/(?:json|[^\s;/]+\+json)\s*(?:;|$)/i;
const SIZE = /^(\d+)\s*(b|kb|mb)?$/i;
const UNITS: Record<string, number> = { b: 1, kb: 1024, mb: 1024 * 1024 };

interface Options {
  readonly schema: string;
  readonly maxBodySize?: number | string;
}

function bytes(v: number | string | undefined, limit: number): number {
  if (v === undefined) return limit;
  const m = typeof v === 'number' ? [String(v), String(v), 'b'] : SIZE.exec(v.trim());
  if (!m) throw new PluginOptionsError('maxBodySize', 'must be a size such as 512kb or 1mb');
  const n = Number(m[1]) * UNITS[(m[2] ?? 'b').toLowerCase()];
  if (n < 1 || n > limit) {
    throw new PluginOptionsError(
      'maxBodySize',
      `must be between 1 byte and server.bodyLimit (${limit} bytes)`,
    );
  }
  return n;
}

function charsetOk(contentType: string): boolean {
  const m = /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(contentType);
  return !m || m[1].toLowerCase() === 'utf-8' || m[1].toLowerCase() === 'utf8';
}

function problemLine(e: ErrorObject): string {
  const where = e.instancePath === '' ? '/' : e.instancePath;
  return `${where}: ${e.message ?? 'is not valid'}`;
}

export const requestValidation: GatewayPlugin = {
  name: 'request-validation',
  phase: 'request',
  optionsSchema: {
    type: 'object',
    properties: {
      schema: { type: 'string', minLength: 1 },
      maxBodySize: { type: ['integer', 'string'] },
    },
    required: ['schema'],
    additionalProperties: false,
  },
  create(raw, context) {
    const o = raw as Options;
    const max = bytes(o.maxBodySize, context.bodyLimit);
    let schema: unknown;
    try {
      schema = JSON.parse(readFileSync(resolve(context.configDir, o.schema), 'utf8'));
    } catch (e) {
      const what = (e as NodeJS.ErrnoException).code
        ? 'cannot read the file (paths are relative to the config folder)'
        : 'is not valid JSON';
      throw new PluginOptionsError('schema', what);
    }
    if (schema === null || (typeof schema !== 'object' && typeof schema !== 'boolean')) {
      throw new PluginOptionsError('schema', 'is not a JSON Schema (an object or a boolean)');
    }
    const declared = (schema as { $schema?: unknown }).$schema;
    if (
      declared !== undefined &&
      (typeof declared !== 'string' ||
        !/^https:\/\/json-schema\.org\/draft\/2020-12\/schema#?$/.test(declared))
    ) {
      throw new PluginOptionsError(
        'schema',
        'must be draft 2020-12 ($schema absent or https://json-schema.org/draft/2020-12/schema)',
      );
    }
    // One instance per route: no schema id can clash with another route's.
    const ajv = new Ajv2020({ allErrors: true, strict: false, loadSchema: undefined });
    addFormats(ajv);
    let validate: ReturnType<typeof ajv.compile>;
    try {
      validate = ajv.compile(schema as object);
    } catch (e) {
      throw new PluginOptionsError(
        'schema',
        `is not a usable JSON Schema: ${(e as Error).message}`,
      );
    }
    return async (call) => {
      const type = call.headers['content-type'] ?? '';
      const hasBody =
        call.headers['transfer-encoding'] !== undefined ||
        (call.headers['content-length'] !== undefined && call.headers['content-length'] !== '0');
      if (hasBody && (!JSON_TYPE.test(type) || !charsetOk(type))) {
        call.reject(415, 'the body must be application/json in UTF-8');
      }
      const body = await call.readBody(max);
      let value: unknown;
      if (body.length > 0) {
        if (!JSON_TYPE.test(type) || !charsetOk(type)) {
          call.reject(415, 'the body must be application/json in UTF-8');
        }
        try {
          value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body));
        } catch {
          call.reject(400, 'the request body is not valid JSON', undefined, [
            '/: is not valid JSON',
          ]);
        }
      }
      if (value === undefined) {
        call.reject(400, 'the request body is not valid', undefined, [
          '/: a JSON body is required',
        ]);
      }
      if (!validate(value)) {
        const problems = (validate.errors ?? []).slice(0, MAX_PROBLEMS).map(problemLine);
        call.reject(400, 'the request body is not valid', undefined, problems);
      }
    };
  },
};
