// Reads a config folder (gateway.yaml + services/*.yaml) into one validated, frozen snapshot,
// or into the list of every problem found, one line each: `<file>: <key.path>: <what>`.
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  type KeyObject,
  X509Certificate,
} from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { LineCounter, parseDocument } from 'yaml';

import { argon2Usable } from '../common/native-argon2';
import { findRouteConflicts } from '../common/route-pattern';
import type { GatewayPlugin } from '../plugins/plugin-api';
import { type CompiledPlugins, compilePlugins } from '../plugins/plugin-compiler';
import {
  gatewayFileSchema,
  type GatewaySettings,
  serviceFileSchema,
  type ServiceSettings,
} from './config.schema';
import { formatZodIssues } from './config-problems';
import { type Env, substituteEnv } from './env-substitution';
import { patternOverlapsOwnedPath } from './owned-paths';
import { workerCount } from './runtime-env';

export const GATEWAY_FILE = 'gateway.yaml';
/** The other spelling, accepted like services/*.yml; both at once is a problem. */
const GATEWAY_FILE_YML = 'gateway.yml';
export const SERVICES_DIR = 'services';

export interface LoadedService {
  /** Relative to the config folder, e.g. `services/orders.yaml`. */
  readonly file: string;
  readonly settings: ServiceSettings;
  /** `tls` files read and checked at load: what the service's https agents present. */
  readonly tls?: UpstreamTls;
}

/** PEM texts for https:// targets (Node's tls options `ca`, `cert`, `key`). */
export interface UpstreamTls {
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
  /** A hash of the three: targets are rebuilt when it changes. */
  readonly fingerprint: string;
}

export interface ConfigSnapshot {
  /** Hash of every file's name and bytes: equal revisions mean identical folders. */
  readonly revision: string;
  /** ISO 8601 time of the load. */
  readonly loadedAt: string;
  readonly dir: string;
  /** Relative file name -> sha256 of its bytes, to report what a reload changed. */
  readonly files: Readonly<Record<string, string>>;
  readonly gateway: GatewaySettings;
  readonly services: readonly LoadedService[];
  /** From REDIS_URL; read with the files so a reload sees one consistent view. */
  readonly redisUrl: string | undefined;
  /** Things worth one log line each (skipped empty keys, a random JWT key). */
  readonly warnings: readonly string[];
  /**
   * Every route's plugin hooks, created for this snapshot (not frozen: plugin instances).
   * Whoever replaces or drops the snapshot closes them (GatewayConfig, config:check).
   */
  readonly plugins: CompiledPlugins;
  /** The PEM files of the config, parsed once at load (the key resolver and signer use these). */
  readonly keys: ParsedKeys;
}

export interface ParsedKeys {
  /** `auth.jwt.publicKeyFile`. */
  readonly jwtPublicKey?: KeyObject;
  /** `oauth.signing.privateKeyFile` (RS256 signing). */
  readonly signingPrivateKey?: KeyObject;
  /** `server.tls`: the HTTPS listener's certificate chain and key (PEM). */
  readonly serverTls?: { readonly cert: string; readonly key: string };
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export type LoadResult =
  | { readonly ok: true; readonly snapshot: ConfigSnapshot }
  | { readonly ok: false; readonly problems: readonly string[] };

interface RawFile {
  readonly name: string;
  readonly text: string;
}

/**
 * `plugins`: the plugins an application registered besides the built-ins and the files
 * of `plugins.files` (GatewayModule.forRoot({ plugins })).
 */
export function loadConfig(
  dirArg: string,
  env: Env,
  plugins: readonly GatewayPlugin[] = [],
): LoadResult {
  const dir = resolve(dirArg);
  const problems: string[] = [];
  const files = readFolder(dir, problems);
  if (files === undefined) return { ok: false, problems };
  // Problem and warning lines name the gateway file as it is spelled in the folder.
  const yml = files.some((f) => f.name === GATEWAY_FILE_YML);
  const named = (lines: string[]): string[] =>
    yml
      ? lines.map((l) =>
          l.startsWith(`${GATEWAY_FILE}:`) ? GATEWAY_FILE_YML + l.slice(GATEWAY_FILE.length) : l,
        )
      : lines;
  return loadFiles(dir, files, env, plugins, named);
}

function loadFiles(
  dir: string,
  filesAsRead: readonly RawFile[],
  env: Env,
  plugins: readonly GatewayPlugin[],
  named: (lines: string[]) => string[],
): LoadResult {
  const problems: string[] = [];
  // gateway.yml is read as gateway.yaml; the snapshot keeps the name it has on disk.
  const files = filesAsRead.map((f) =>
    f.name === GATEWAY_FILE_YML ? { ...f, name: GATEWAY_FILE, disk: f.name } : f,
  );

  const gatewayRaw = files.find((f) => f.name === GATEWAY_FILE);
  const gateway = validate(gatewayRaw ?? { name: GATEWAY_FILE, text: '' }, env, problems, (v) =>
    gatewayFileSchema.safeParse(v ?? {}, { reportInput: true }),
  );
  const services: LoadedService[] = [];
  for (const f of files) {
    if (f.name === GATEWAY_FILE) continue;
    const settings = validate(f, env, problems, (v) =>
      serviceFileSchema.safeParse(v, { reportInput: true }),
    );
    if (settings) services.push({ file: f.name, settings });
  }

  const warnings: string[] = [];
  const redisUrl = env.REDIS_URL === '' ? undefined : env.REDIS_URL;
  const keys: Mutable<ParsedKeys> = {};
  const workers = workerCount(env);
  if (gateway) checkGateway(gateway, dir, redisUrl, workers, problems, warnings, keys);
  checkServices(services, problems, warnings);
  for (let i = 0; i < services.length; i++) {
    const s = services[i];
    if (!s.settings.tls) continue;
    const tls = readUpstreamTls(dir, s.file, s.settings.tls, problems);
    if (tls) services[i] = { ...s, tls };
    if (!s.settings.targets.some((t) => t.url?.startsWith('https:') || t.srv !== undefined)) {
      warnings.push(`${s.file}: tls: no https:// target; the files are not used`);
    }
  }
  if (services.length === 0 && problems.length === 0) {
    warnings.push(
      `${SERVICES_DIR}/: no service files (*.yaml, *.yml) in ${join(dir, SERVICES_DIR)}: nothing is routed`,
    );
  }
  if (!gateway) return { ok: false, problems: named(problems) };
  // Plugins last: instances are created only once the gateway file is valid; the services
  // that are valid get theirs checked too, so one pass reports every problem.
  const compiled = compilePlugins({
    dir,
    bodyLimit: gateway.server.bodyLimit,
    files: gateway.plugins.files,
    registered: plugins,
    global: gateway.plugins.global,
    services: services.map((s) => ({
      file: s.file,
      plugins: s.settings.plugins,
      routes: s.settings.routes,
    })),
  });
  if (!compiled.ok) problems.push(...compiled.problems);
  else if (problems.length > 0) void compiled.plugins.close();
  if (problems.length > 0 || !compiled.ok) return { ok: false, problems: named(problems) };

  const hashes: Record<string, string> = {};
  const whole = createHash('sha256');
  for (const f of files) {
    const name = 'disk' in f ? f.disk : f.name;
    hashes[name] = createHash('sha256').update(f.text).digest('hex');
    whole.update(name).update('\0').update(f.text).update('\0');
  }
  const snapshot: ConfigSnapshot = {
    revision: whole.digest('hex').slice(0, 16),
    loadedAt: new Date().toISOString(),
    dir,
    files: hashes,
    gateway,
    services,
    redisUrl,
    warnings: named(warnings),
    plugins: compiled.plugins,
    keys,
  };
  return { ok: true, snapshot: deepFreeze(snapshot) };
}

function readFolder(dir: string, problems: string[]): RawFile[] | undefined {
  if (!isDir(dir)) {
    problems.push(`${dir}: (root): is not a readable folder`);
    return undefined;
  }
  const out: RawFile[] = [];
  const gatewayFiles = [GATEWAY_FILE, GATEWAY_FILE_YML].filter((n) => existsSync(join(dir, n)));
  if (gatewayFiles.length > 1) {
    problems.push(
      `${GATEWAY_FILE_YML}: (root): both ${GATEWAY_FILE} and ${GATEWAY_FILE_YML} exist; keep one`,
    );
  }
  for (const name of gatewayFiles) {
    try {
      out.push({ name, text: readFileSync(join(dir, name), 'utf8') });
    } catch {
      problems.push(`${name}: (root): cannot be read`);
    }
  }
  const servicesDir = join(dir, SERVICES_DIR);
  if (isDir(servicesDir)) {
    const names = readdirSync(servicesDir)
      .filter((n) => n.endsWith('.yaml') || n.endsWith('.yml'))
      .sort();
    for (const n of names) {
      const name = `${SERVICES_DIR}/${n}`;
      try {
        out.push({ name, text: readFileSync(join(servicesDir, n), 'utf8') });
      } catch {
        problems.push(`${name}: (root): cannot be read`);
      }
    }
  }
  return problems.length > 0 ? undefined : out;
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

interface Parsed<T> {
  success: boolean;
  data?: T;
  error?: { issues: Parameters<typeof formatZodIssues>[1] };
}

function validate<T>(
  file: RawFile,
  env: Env,
  problems: string[],
  parse: (v: unknown) => Parsed<T>,
): T | undefined {
  const lines = new LineCounter();
  // prettyErrors off: its messages quote the source, which may hold a secret.
  const doc = parseDocument(file.text, {
    prettyErrors: false,
    uniqueKeys: true,
    lineCounter: lines,
  });
  if (doc.errors.length > 0) {
    for (const err of doc.errors) {
      const line = lines.linePos(err.pos[0]).line;
      // The library's message may quote the offending text (a secret, perhaps): its code only.
      const what = err.code.toLowerCase().replace(/_/g, ' ');
      problems.push(`${file.name}: ${line ? `(line ${line})` : '(root)'}: invalid YAML: ${what}`);
    }
    return undefined;
  }
  let tree: unknown;
  try {
    tree = doc.toJS();
  } catch {
    // An alias to an anchor that does not exist, and the like; the alias name stays out.
    problems.push(`${file.name}: (root): invalid YAML: unresolved alias or bad structure`);
    return undefined;
  }
  const result = parse(substituteEnv(tree, env));
  if (!result.success) {
    problems.push(...formatZodIssues(file.name, result.error?.issues ?? []));
    return undefined;
  }
  return result.data;
}

function checkGateway(
  g: GatewaySettings,
  dir: string,
  redisUrl: string | undefined,
  workers: number,
  problems: string[],
  warnings: string[],
  keys: Mutable<ParsedKeys>,
): void {
  const at = (key: string, what: string) => problems.push(`${GATEWAY_FILE}: ${key}: ${what}`);
  if (g.rateLimit.store === 'redis' && !redisUrl) {
    at('rateLimit.store', 'redis needs the REDIS_URL environment variable');
  }
  // Each worker would count on its own: a limit of 100 would let 100 × workers through.
  // The OAuth budgets (clientAuthFailures, tokenEndpoint) count even with rateLimit off.
  const limitsCount = g.rateLimit.enabled || g.oauth.clients.length > 0;
  if (limitsCount && g.rateLimit.store === 'memory' && workers > 1) {
    at(
      'rateLimit.store',
      `memory with GATEWAY_WORKERS=${workers}: each worker would count on its own (limits would not be exact); use store redis with REDIS_URL, or one worker`,
    );
  }
  const jwt = g.auth.jwt;
  if (jwt.publicKeyFile) {
    keys.jwtPublicKey = readKeyFile(dir, jwt.publicKeyFile, 'public', 'auth.jwt.publicKeyFile', at);
  }
  if (jwt.algorithms.includes('RS256') && !jwt.publicKeyFile && !jwt.jwksUri) {
    if (g.oauth.signing.algorithm !== 'RS256') {
      at('auth.jwt.algorithms', 'RS256 needs auth.jwt.publicKeyFile or auth.jwt.jwksUri');
    }
  }
  if (jwt.publicKeyFile && jwt.jwksUri) {
    at('auth.jwt.jwksUri', 'give publicKeyFile or jwksUri, not both');
  }
  // Every process would mint and accept its own tokens.
  const hmacUsed =
    jwt.algorithms.includes('HS256') ||
    (g.oauth.signing.algorithm === 'HS256' && g.oauth.clients.length > 0);
  if (hmacUsed && !jwt.secret && redisUrl) {
    at(
      'auth.jwt.secret',
      "empty while REDIS_URL is set: instances would not accept each other's tokens",
    );
  } else if (hmacUsed && !jwt.secret && workers > 1) {
    at(
      'auth.jwt.secret',
      `empty with GATEWAY_WORKERS=${workers}: workers would not accept each other's tokens`,
    );
  }
  if (jwt.jwksUri && isPlainRemote(jwt.jwksUri)) {
    warnings.push(
      `${GATEWAY_FILE}: auth.jwt.jwksUri: plain http to a non-loopback host; keys can be tampered with in transit`,
    );
  }
  if (jwt.algorithms.includes('HS256') && !jwt.secret) {
    warnings.push(
      `${GATEWAY_FILE}: auth.jwt.secret: empty; HS256 uses a random per-process key (tokens will not survive a restart or work across instances)`,
    );
  }
  if (g.server.tls) {
    const t = readServerTls(dir, g.server.tls, at);
    if (t) keys.serverTls = t;
  }
  if (g.oauth.signing.algorithm === 'RS256') {
    keys.signingPrivateKey = readKeyFile(
      dir,
      g.oauth.signing.privateKeyFile,
      'private',
      'oauth.signing.privateKeyFile',
      at,
    );
  }
  g.auth.apiKeys.keys.forEach((k, i) => {
    if (k.key === '') warnings.push(`${GATEWAY_FILE}: auth.apiKeys.keys[${i}].key: empty; skipped`);
  });
  g.oauth.clients.forEach((c, i) => {
    if (c.clientSecret === '') {
      warnings.push(`${GATEWAY_FILE}: oauth.clients[${i}].clientSecret: empty; skipped`);
    }
  });
  const names = new Set<string>();
  g.auth.apiKeys.keys.forEach((k, i) => {
    if (names.has(k.name)) at(`auth.apiKeys.keys[${i}].name`, 'duplicate key name');
    names.add(k.name);
  });
  const ids = new Set<string>();
  g.oauth.clients.forEach((c, i) => {
    if (ids.has(c.clientId)) at(`oauth.clients[${i}].clientId`, 'duplicate client id');
    ids.add(c.clientId);
  });
  // An argon2 hash is checked with the native module: refuse the config where it cannot load
  // (the token endpoint would otherwise crash the process at the first call).
  const hashed = g.oauth.clients.findIndex((c) => c.secretHash?.startsWith('$argon2'));
  if (hashed !== -1) {
    const argon2 = argon2Usable();
    if (!argon2.ok) at(`oauth.clients[${hashed}].secretHash`, argon2.why);
  }
  if (g.cors?.credentials && g.cors.origins.includes('*')) {
    at('cors.origins', '"*" cannot be used with credentials: true');
  }
}

/** An http: URL whose host is not loopback (127.0.0.0/8, ::1, localhost). */
function isPlainRemote(uri: string): boolean {
  const u = new URL(uri);
  if (u.protocol !== 'http:') return false;
  const host = u.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return !(host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host));
}

/** The RSA key in `file` (relative to the config folder), or undefined with a problem line. */
function readKeyFile(
  dir: string,
  file: string,
  kind: 'public' | 'private',
  key: string,
  at: (key: string, what: string) => void,
): KeyObject | undefined {
  let pem: string;
  try {
    pem = readFileSync(resolve(dir, file), 'utf8');
  } catch {
    at(key, 'cannot read the file (paths are relative to the config folder)');
    return undefined;
  }
  try {
    const k = kind === 'public' ? createPublicKey(pem) : createPrivateKey(pem);
    if (k.asymmetricKeyType === 'rsa') return k;
    at(key, 'must be an RSA key');
  } catch {
    at(key, `is not a PEM ${kind} key`);
  }
  return undefined;
}

/** `server.tls`: the certificate (chain) and its key, checked to belong together. */
function readServerTls(
  dir: string,
  t: { certFile: string; keyFile: string },
  at: (key: string, what: string) => void,
): { cert: string; key: string } | undefined {
  let cert: string;
  let key: string;
  try {
    cert = readFileSync(resolve(dir, t.certFile), 'utf8');
  } catch {
    at('server.tls.certFile', 'cannot read the file (paths are relative to the config folder)');
    return undefined;
  }
  try {
    key = readFileSync(resolve(dir, t.keyFile), 'utf8');
  } catch {
    at('server.tls.keyFile', 'cannot read the file (paths are relative to the config folder)');
    return undefined;
  }
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch {
    at('server.tls.certFile', 'is not a PEM certificate');
    return undefined;
  }
  try {
    if (!x509.checkPrivateKey(createPrivateKey(key))) {
      at('server.tls.keyFile', 'does not match the certificate of certFile');
      return undefined;
    }
  } catch {
    at('server.tls.keyFile', 'is not a PEM private key');
    return undefined;
  }
  return { cert, key };
}

/** Reads and checks a service's `tls` files; undefined with problem lines when one is bad. */
function readUpstreamTls(
  dir: string,
  file: string,
  t: NonNullable<ServiceSettings['tls']>,
  problems: string[],
): UpstreamTls | undefined {
  const at = (key: string, what: string) => problems.push(`${file}: tls.${key}: ${what}`);
  const read = (key: string, name: string | undefined): string | undefined => {
    if (name === undefined) return undefined;
    try {
      return readFileSync(resolve(dir, name), 'utf8');
    } catch {
      at(key, 'cannot read the file (paths are relative to the config folder)');
      return undefined;
    }
  };
  const before = problems.length;
  const ca = read('caFile', t.caFile);
  const cert = read('certFile', t.certFile);
  const key = read('keyFile', t.keyFile);
  let certificate: X509Certificate | undefined;
  if (ca !== undefined) {
    try {
      new X509Certificate(ca);
    } catch {
      at('caFile', 'is not a PEM certificate');
    }
  }
  if (cert !== undefined) {
    try {
      certificate = new X509Certificate(cert);
    } catch {
      at('certFile', 'is not a PEM certificate');
    }
  }
  if (key !== undefined) {
    try {
      const k = createPrivateKey(key);
      if (certificate && !certificate.checkPrivateKey(k)) {
        at('keyFile', 'does not match the certificate of certFile');
      }
    } catch {
      at('keyFile', 'is not a PEM private key');
    }
  }
  if (problems.length > before) return undefined;
  const fingerprint = createHash('sha256')
    .update(`${ca ?? ''}\0${cert ?? ''}\0${key ?? ''}`)
    .digest('hex');
  return { ca, cert, key, fingerprint };
}

function checkServices(
  services: readonly LoadedService[],
  problems: string[],
  warnings: string[],
): void {
  const byName = new Map<string, string>();
  for (const s of services) {
    const first = byName.get(s.settings.name);
    if (first) problems.push(`${s.file}: name: duplicate service name (also in ${first})`);
    else byName.set(s.settings.name, s.file);
  }
  const owners: { file: string; index: number }[] = [];
  const defs = services.flatMap((s) =>
    s.settings.routes.map((r, index) => {
      owners.push({ file: s.file, index });
      if (patternOverlapsOwnedPath(r.path)) {
        problems.push(
          `${s.file}: routes[${index}].path: can match a gateway-owned path (/health, /ready, /metrics, /oauth/*, /.well-known/*, /api/gateway/*)`,
        );
      }
      return { pattern: r.path, methods: r.methods };
    }),
  );
  for (const [a, b] of findRouteConflicts(defs)) {
    const first = owners[a];
    const second = owners[b];
    problems.push(
      `${second.file}: routes[${second.index}].path: same pattern and methods as ${first.file} routes[${first.index}]`,
    );
  }
  services.forEach((s) => {
    if (
      s.settings.loadBalancing === 'round-robin' &&
      s.settings.targets.some((t) => t.weight !== 1)
    ) {
      warnings.push(`${s.file}: targets: weights are ignored unless loadBalancing is weighted`);
    }
  });
}

/** Freezes plain data only: class instances (the compiled plugins) keep their own state. */
function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o) && isPlain(o)) {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

function isPlain(o: object): boolean {
  const proto = Object.getPrototypeOf(o) as unknown;
  return Array.isArray(o) || proto === Object.prototype || proto === null;
}
