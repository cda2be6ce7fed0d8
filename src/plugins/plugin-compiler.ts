// Resolves the `plugins:` lists of a config into each route's hooks when the config loads:
// plugin files loaded, options validated by each plugin's JSON Schema (ajv), `create`
// called once per route. Problems come back as config problem lines.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

import Ajv2020, { type ErrorObject, type ValidateFunction } from 'ajv/dist/2020';
import requireFromString from 'require-from-string';

import { BUILTIN_PLUGINS } from './builtin';
import type { CallHook, GatewayPlugin, PluginContext, ResponseHook } from './plugin-api';
import { PluginOptionsError } from './plugin-api';
import { type NamedHook, RoutePlugins } from './route-plugins';

export interface PluginRef {
  readonly name: string;
  readonly options?: unknown;
}

/** The parts of a loaded config the compiler reads. */
export interface PluginSources {
  readonly dir: string;
  readonly bodyLimit: number;
  readonly files: readonly string[];
  /** Plugins the application registered (GatewayModule.forRoot({ plugins })). */
  readonly registered?: readonly GatewayPlugin[];
  readonly global: readonly PluginRef[];
  readonly services: readonly {
    readonly file: string;
    readonly plugins: readonly PluginRef[];
    readonly routes: readonly { readonly plugins: readonly PluginRef[] }[];
  }[];
}

const NAME = /^[a-z0-9][a-z0-9-]*$/;
const PHASES = new Set(['access', 'request', 'response']);
const BUILTIN_NAMES = new Set(BUILTIN_PLUGINS.map((p) => p.name));

interface Closable {
  close?(): void | Promise<void>;
}

/** The hooks of every route of one config snapshot, and what to close when it is replaced. */
export class CompiledPlugins {
  static readonly NONE = new CompiledPlugins([], []);
  private closed = false;

  constructor(
    /** [service index][route index] */
    private readonly routes: readonly (readonly RoutePlugins[])[],
    private readonly instances: readonly { plugin: string; instance: Closable }[],
  ) {}

  forRoute(service: number, route: number): RoutePlugins {
    return this.routes[service]?.[route] ?? RoutePlugins.NONE;
  }

  /** Calls every instance's close() once; failures are reported, never thrown. */
  async close(onError: (plugin: string, err: unknown) => void = () => undefined): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(
      this.instances.map(async ({ plugin, instance }) => {
        try {
          await instance.close?.();
        } catch (err) {
          onError(plugin, err);
        }
      }),
    );
  }
}

export type CompileResult =
  | { readonly ok: true; readonly plugins: CompiledPlugins }
  | { readonly ok: false; readonly problems: readonly string[] };

export function compilePlugins(src: PluginSources): CompileResult {
  const problems: string[] = [];
  const catalog = new Map<string, GatewayPlugin>(BUILTIN_PLUGINS.map((p) => [p.name, p]));
  (src.registered ?? []).forEach((candidate, i) => {
    const at = `plugin ${i + 1} registered by the application`;
    const p = checkShape(candidate, at, problems);
    if (!p) return;
    if (catalog.has(p.name)) {
      problems.push(
        `${at}: plugin name "${p.name}" is ${BUILTIN_NAMES.has(p.name) ? 'a built-in name' : 'registered twice'}`,
      );
      return;
    }
    catalog.set(p.name, p);
  });
  src.files.forEach((f, i) => {
    const p = loadPluginFile(resolve(src.dir, f), `gateway.yaml: plugins.files[${i}]`, problems);
    if (!p) return;
    if (catalog.has(p.name)) {
      problems.push(
        `gateway.yaml: plugins.files[${i}]: plugin name "${p.name}" is ${BUILTIN_NAMES.has(p.name) ? 'a built-in name' : 'already taken by another file'}`,
      );
      return;
    }
    catalog.set(p.name, p);
  });
  if (problems.length > 0) return { ok: false, problems };

  const ajv = new Ajv2020({ allErrors: true, strict: false });
  const validators = new Map<string, ValidateFunction | undefined>();
  for (const p of catalog.values()) {
    try {
      validators.set(p.name, p.optionsSchema ? ajv.compile(p.optionsSchema) : undefined);
    } catch (e) {
      problems.push(
        `plugin ${p.name}: optionsSchema is not a usable JSON Schema: ${(e as Error).message}`,
      );
    }
  }
  if (problems.length > 0) return { ok: false, problems };

  /** Checks one list; returns its entries with where they were written. */
  const check = (list: readonly PluginRef[], at: string) =>
    list.map((ref, i) => {
      const where = `${at}[${i}]`;
      const plugin = catalog.get(ref.name);
      if (!plugin) {
        problems.push(`${where}.name: unknown plugin "${ref.name}"`);
        return undefined;
      }
      const options = ref.options === undefined ? {} : structuredClone(ref.options);
      const validate = validators.get(plugin.name);
      if (validate && !validate(options)) {
        for (const e of validate.errors ?? [])
          problems.push(`${where}.options${pointer(e)}: ${e.message ?? 'is not valid'}`);
        return undefined;
      }
      return { plugin, options, where };
    });
  const global = check(src.global, 'gateway.yaml: plugins.global');
  const perService = src.services.map((s) => ({
    own: check(s.plugins, `${s.file}: plugins`),
    routes: s.routes.map((r, j) => check(r.plugins, `${s.file}: routes[${j}].plugins`)),
  }));
  if (problems.length > 0) return { ok: false, problems: dedupe(problems) };

  const instances: { plugin: string; instance: Closable }[] = [];
  const context: PluginContext = { configDir: src.dir, bodyLimit: src.bodyLimit };
  const routes = perService.map((s) =>
    s.routes.map((own) => {
      const access: NamedHook<CallHook>[] = [];
      const request: NamedHook<CallHook>[] = [];
      const response: NamedHook<ResponseHook>[] = [];
      for (const entry of [...global, ...s.own, ...own]) {
        if (!entry) continue;
        const { plugin, options, where } = entry;
        let hook: unknown;
        try {
          hook = plugin.create(structuredClone(options), context);
        } catch (e) {
          if (e instanceof PluginOptionsError) {
            problems.push(`${where}.options${e.path ? `.${e.path}` : ''}: ${e.message}`);
          } else
            problems.push(
              `${where}: plugin ${plugin.name} could not be created: ${(e as Error)?.message ?? String(e)}`,
            );
          continue;
        }
        if (typeof hook !== 'function') {
          problems.push(`${where}: plugin ${plugin.name}: create() must return a function`);
          continue;
        }
        instances.push({ plugin: plugin.name, instance: hook as Closable });
        const named = { plugin: plugin.name, hook: hook as CallHook & ResponseHook };
        if (plugin.phase === 'access') access.push(named);
        else if (plugin.phase === 'request') request.push(named);
        else response.push(named);
      }
      return access.length + request.length + response.length === 0
        ? RoutePlugins.NONE
        : new RoutePlugins(access, request, response);
    }),
  );
  const compiled = new CompiledPlugins(routes, instances);
  if (problems.length > 0) {
    void compiled.close();
    return { ok: false, problems: dedupe(problems) };
  }
  return { ok: true, plugins: compiled };
}

/** ajv's instancePath (`/allow/0`) as the config's key path (`.allow[0]`). */
function pointer(e: ErrorObject): string {
  let path = e.instancePath
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? `[${s}]` : `.${s}`))
    .join('');
  if (e.keyword === 'additionalProperties') {
    path += `.${String((e.params as { additionalProperty?: string }).additionalProperty)}`;
  }
  return path;
}

function dedupe(lines: string[]): string[] {
  return [...new Set(lines)];
}

function loadPluginFile(path: string, at: string, problems: string[]): GatewayPlugin | undefined {
  let mod: unknown;
  try {
    // Compiled afresh on every config load (a changed file takes effect with the reload),
    // outside any module cache; the files it requires are cached as usual.
    const code = readFileSync(path, 'utf8');
    try {
      mod = requireFromString(code, path);
    } catch (e) {
      problems.push(`${at}: cannot be loaded: ${String((e as Error)?.message).split('\n')[0]}`);
      return undefined;
    }
  } catch {
    problems.push(`${at}: cannot read the file (paths are relative to the config folder)`);
    return undefined;
  }
  return checkShape((mod as { default?: unknown })?.default ?? mod, at, problems);
}

/** A plugin object as the API describes it, or problem lines saying why not. */
function checkShape(candidate: unknown, at: string, problems: string[]): GatewayPlugin | undefined {
  const p = candidate as Partial<GatewayPlugin> | undefined;
  if (!p || typeof p !== 'object') {
    problems.push(`${at}: must export { name, phase, optionsSchema, create }`);
    return undefined;
  }
  if (typeof p.name !== 'string' || !NAME.test(p.name)) {
    problems.push(`${at}: name must be lower-case letters, digits and -`);
    return undefined;
  }
  if (typeof p.phase !== 'string' || !PHASES.has(p.phase)) {
    problems.push(`${at}: phase must be access, request or response`);
    return undefined;
  }
  if (typeof p.create !== 'function') {
    problems.push(`${at}: create must be a function`);
    return undefined;
  }
  if (
    p.optionsSchema !== undefined &&
    (typeof p.optionsSchema !== 'object' || p.optionsSchema === null)
  ) {
    problems.push(`${at}: optionsSchema must be a JSON Schema object`);
    return undefined;
  }
  return p as GatewayPlugin;
}
