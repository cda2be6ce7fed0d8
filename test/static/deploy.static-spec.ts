// The container image, docker-compose.yml and the Kubernetes manifests in deploy/, checked by
// reading them: no Docker engine or cluster is needed. What can be run is run: the health-check
// one-liners against a real HTTP server, and the ConfigMaps' files through the gateway's own
// config loader.
import { spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, posix, resolve } from 'node:path';

import { parse as parseYaml, parseAllDocuments } from 'yaml';

import { loadConfig } from '../../src/config/config-loader';
import { selfSigned } from '../support/tls';

const ROOT = resolve(__dirname, '../..');
const read = (file: string): string => readFileSync(join(ROOT, file), 'utf8');

// ---------------------------------------------------------------------------------------------
// The contract's environment variables. CI has shared/ beside the clone; read the table there
// when it is, so a variable added to the contract needs no change here.
const CONTRACT_ENV_FALLBACK = [
  'PORT',
  'HOST',
  'GATEWAY_CONFIG_DIR',
  'REDIS_URL',
  'JWT_SECRET',
  'CI_BOT_KEY',
  'ACME_SECRET',
  'LOG_LEVEL',
  'SERVICE1_URL',
  'SERVICE2_URL',
  'LOG_FORMAT',
  'HTTPS_PORT',
  'GATEWAY_WORKERS',
  'METRICS_PORT',
];

function contractEnv(): string[] {
  const file = join(ROOT, '..', 'shared', 'CONTRACT.md');
  if (!existsSync(file)) return CONTRACT_ENV_FALLBACK;
  const text = readFileSync(file, 'utf8');
  const start = text.indexOf('| variable | meaning | default |');
  if (start === -1) throw new Error('CONTRACT.md: the environment variable table is missing');
  const names: string[] = [];
  for (const line of text.slice(start).split('\n').slice(2)) {
    if (!line.startsWith('|')) break;
    const first = line.split('|')[1] ?? '';
    for (const m of first.matchAll(/`([A-Z0-9_]+)`/g)) names.push(m[1]);
  }
  if (names.length === 0) throw new Error('CONTRACT.md: no variables found in the table');
  return names;
}

// ---------------------------------------------------------------------------------------------
// Dockerfile: instructions with continuation lines joined, grouped by stage.
interface Instruction {
  readonly keyword: string;
  readonly args: string;
}
interface Stage {
  readonly base: string;
  readonly name: string | undefined;
  readonly instructions: Instruction[];
}

function parseDockerfile(text: string): Stage[] {
  const logical: string[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (pending === '' && (line === '' || line.startsWith('#'))) continue;
    if (pending !== '' && line.startsWith('#')) continue; // comments inside a continued line
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1).trim()} `;
      continue;
    }
    logical.push(pending + line);
    pending = '';
  }
  if (pending !== '') logical.push(pending.trim());

  const stages: Stage[] = [];
  for (const line of logical) {
    const m = /^(\S+)\s*(.*)$/.exec(line);
    if (!m) continue;
    const keyword = m[1].toUpperCase();
    const args = m[2];
    if (keyword === 'FROM') {
      const from = /^(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      if (!from) throw new Error(`Dockerfile: cannot read FROM ${args}`);
      stages.push({ base: from[1], name: from[2], instructions: [] });
      continue;
    }
    const stage = stages[stages.length - 1];
    if (!stage) throw new Error(`Dockerfile: ${keyword} before the first FROM`);
    stage.instructions.push({ keyword, args });
  }
  return stages;
}

/** The JSON array of an exec-form CMD (or HEALTHCHECK ... CMD); throws on shell form. */
function execForm(args: string): string[] {
  const json = args.slice(args.indexOf('['));
  const parsed = JSON.parse(json) as unknown;
  const isStrings = (v: unknown): v is string[] =>
    Array.isArray(v) && v.every((a) => typeof a === 'string');
  if (!isStrings(parsed)) throw new Error(`not an exec-form array: ${args}`);
  return parsed;
}

// ---------------------------------------------------------------------------------------------
// Running a health-check command (`node -e ...`) against a server that answers as told.
function serve(status: number): Promise<Server> {
  const server = createServer((req, res) => {
    res.statusCode = req.url === '/health' ? status : 404;
    res.end();
  });
  return new Promise((ok) => server.listen(0, '0.0.0.0', () => ok(server)));
}
const portOf = (s: Server): number => (s.address() as AddressInfo).port;
const close = (s: Server): Promise<void> => new Promise((ok) => s.close(() => ok()));

function runCheck(argv: string[], env: Record<string, string>): Promise<number | null> {
  // node is /nodejs/bin/node in the distroless image; here, this process's node.
  if (argv[0] !== '/nodejs/bin/node') {
    throw new Error(`health check does not start with /nodejs/bin/node: ${argv[0]}`);
  }
  return new Promise((ok, fail) => {
    const child = spawn(process.execPath, argv.slice(1), {
      env: { ...process.env, ...env },
      stdio: 'ignore',
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.on('error', fail);
    child.on('exit', (code) => {
      clearTimeout(timer);
      ok(code);
    });
  });
}

// ---------------------------------------------------------------------------------------------
// docker-compose.yml, typed as far as the checks read it.
interface Healthcheck {
  test?: string[] | string;
}
interface ComposeService {
  build?: string | { context?: string; dockerfile?: string };
  image?: string;
  command?: string[] | string;
  ports?: string[];
  environment?: Record<string, string> | string[];
  volumes?: string[];
  healthcheck?: Healthcheck;
  depends_on?: Record<string, { condition?: string }> | string[];
  restart?: string;
}
interface Compose {
  services: Record<string, ComposeService>;
}

function environment(s: ComposeService): Record<string, string> {
  const env = s.environment ?? {};
  if (!Array.isArray(env)) return env;
  return Object.fromEntries(
    env.map((kv) => {
      const at = kv.indexOf('=');
      return at === -1 ? [kv, ''] : [kv.slice(0, at), kv.slice(at + 1)];
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// Kubernetes manifests, typed as far as the checks read them.
interface Metadata {
  name: string;
  labels?: Record<string, string>;
}
interface Selector {
  matchLabels?: Record<string, string>;
}
interface Probe {
  httpGet?: { path?: string; port?: number | string };
  periodSeconds?: number;
}
interface KeyToPath {
  key: string;
  path: string;
}
interface ConfigMapProjection {
  name: string;
  items?: KeyToPath[];
}
interface Volume {
  name: string;
  emptyDir?: Record<string, unknown>;
  configMap?: ConfigMapProjection;
  projected?: { sources: { configMap?: ConfigMapProjection; secret?: ConfigMapProjection }[] };
}
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string } };
}
interface SecurityContext {
  runAsNonRoot?: boolean;
  runAsUser?: number;
  readOnlyRootFilesystem?: boolean;
  allowPrivilegeEscalation?: boolean;
  capabilities?: { drop?: string[] };
}
interface Container {
  name: string;
  image: string;
  ports?: { name?: string; containerPort: number }[];
  env?: EnvVar[];
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  lifecycle?: { preStop?: { sleep?: { seconds: number } } };
  resources?: {
    requests?: { cpu?: string; memory?: string };
    limits?: { cpu?: string; memory?: string };
  };
  securityContext?: SecurityContext;
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
}
interface PodSpec {
  containers: Container[];
  volumes?: Volume[];
  securityContext?: SecurityContext;
  terminationGracePeriodSeconds?: number;
}
interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: Metadata;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  spec?: {
    replicas?: number;
    /** `{ matchLabels }` on workloads, a plain label map on a Service. */
    selector?: Selector | Record<string, string>;
    template?: { metadata: { labels: Record<string, string> }; spec: PodSpec };
    type?: string;
    ports?: { port: number; targetPort?: number | string }[];
    scaleTargetRef?: { apiVersion: string; kind: string; name: string };
    minReplicas?: number;
    maxReplicas?: number;
    metrics?: {
      type: string;
      resource?: { name: string; target: { type: string; averageUtilization?: number } };
    }[];
    minAvailable?: number | string;
  };
}

const DEPLOY = join(ROOT, 'deploy');

function manifestFiles(): string[] {
  return readdirSync(DEPLOY)
    .filter((f) => /\.ya?ml$/.test(f) && f !== 'kustomization.yaml')
    .sort();
}

function loadManifests(): { file: string; doc: Manifest }[] {
  const out: { file: string; doc: Manifest }[] = [];
  for (const file of manifestFiles()) {
    for (const doc of parseAllDocuments(readFileSync(join(DEPLOY, file), 'utf8'))) {
      if (doc.errors.length > 0) throw new Error(`deploy/${file}: ${doc.errors[0].message}`);
      const value = doc.toJS() as Manifest | null;
      if (value !== null) out.push({ file, doc: value });
    }
  }
  return out;
}

const matchLabels = (m: Manifest): Record<string, string> =>
  (m.spec?.selector as Selector | undefined)?.matchLabels ?? {};
const serviceSelector = (m: Manifest): Record<string, string> =>
  (m.spec?.selector as Record<string, string> | undefined) ?? {};

/** Does this label map pick pods with these labels? */
function selects(selector: Record<string, string>, labels: Record<string, string>): boolean {
  const entries = Object.entries(selector);
  return entries.length > 0 && entries.every(([k, v]) => labels[k] === v);
}

/** A Service's or probe's port, by number or by the container port's name. */
function resolvePort(port: number | string | undefined, container: Container): number | undefined {
  if (typeof port === 'number') return port;
  return container.ports?.find((p) => p.name === port)?.containerPort;
}

// An optional dev dependency: loaded only when installed.
const requireOptional = createRequire(__filename);

/** kubernetes-models (when the project has it) validates each manifest against the API schema. */
type ModelClass = new (data: unknown) => { validate(): void };
function kubernetesModel(apiVersion: string, kind: string): ModelClass | undefined {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  const mod = requireOptional(`kubernetes-models/${group ? `${group}/` : ''}${version}`) as Record<
    string,
    ModelClass | undefined
  >;
  return mod[kind];
}
const hasKubernetesModels = ((): boolean => {
  try {
    requireOptional.resolve('kubernetes-models/apps/v1');
    return true;
  } catch {
    return false;
  }
})();

// =============================================================================================

describe('Deployment artefacts (e2e)', () => {
  it("keeps the fallback variable list equal to the contract's table (when it is beside the checkout)", () => {
    if (!existsSync(join(ROOT, '..', 'shared', 'CONTRACT.md'))) return;
    expect([...CONTRACT_ENV_FALLBACK].sort()).toEqual([...contractEnv()].sort());
  });

  describe('Dockerfile', () => {
    const stages = parseDockerfile(read('Dockerfile'));
    const build = stages.find((s) => s.name === 'build');
    const runtime = stages[stages.length - 1];
    const runs = (s: Stage | undefined) =>
      (s?.instructions ?? []).filter((i) => i.keyword === 'RUN').map((i) => i.args);
    const last = (keyword: string) =>
      runtime.instructions.filter((i) => i.keyword === keyword).pop();

    it('builds on Node 24 (Debian 12) and runs on distroless Node 24 (Debian 12), non-root', () => {
      expect(stages.map((s) => s.name)).toEqual(['build', 'deps', 'runtime']);
      for (const s of stages.slice(0, 2)) expect(s.base).toBe('node:24-bookworm-slim');
      expect(runtime.base).toBe('gcr.io/distroless/nodejs24-debian12:nonroot');
    });

    it('builds with npm ci and npm run build', () => {
      const cmds = runs(build);
      expect(cmds.some((c) => /\bnpm ci\b/.test(c))).toBe(true);
      expect(cmds.some((c) => /\bnpm run build\b/.test(c))).toBe(true);
    });

    it('installs production dependencies only, in the deps stage, with NODE_ENV=production', () => {
      const deps = stages.find((s) => s.name === 'deps')!;
      const at = deps.instructions.findIndex(
        (i) => i.keyword === 'RUN' && /\bnpm ci\b/.test(i.args),
      );
      expect(at).toBeGreaterThanOrEqual(0);
      expect(deps.instructions[at].args).toMatch(/--omit=dev\b/);
      expect(deps.instructions[at].args).toMatch(/--ignore-scripts\b/);
      const envBefore = deps.instructions
        .slice(0, at)
        .filter((i) => i.keyword === 'ENV')
        .map((i) => i.args);
      expect(envBefore.some((e) => /\bNODE_ENV=production\b/.test(e))).toBe(true);
      // Distroless has no shell: nothing may RUN in the runtime stage.
      expect(runs(runtime)).toEqual([]);
      expect(
        runtime.instructions.some((i) => i.keyword === 'ENV' && /NODE_ENV=production/.test(i.args)),
      ).toBe(true);
    });

    it('copies node_modules from deps, dist/ from build and the shipped config/', () => {
      const copies = runtime.instructions.filter((i) => i.keyword === 'COPY').map((i) => i.args);
      expect(copies).toContainEqual(
        expect.stringMatching(/^--from=deps\s+\S*node_modules\/?\s+\S*node_modules/),
      );
      expect(copies).toContainEqual(expect.stringMatching(/^--from=build\s+\S*dist\/?\s+\S*dist/));
      expect(copies).toContainEqual(expect.stringMatching(/^config\/?\s+\S*config/));
    });

    it('runs as a non-root user and exposes 8080', () => {
      const user = last('USER')?.args.trim();
      expect(user).toBeDefined();
      expect(['root', '0', '0:0']).not.toContain(user);
      expect(user).toBe('nonroot');
      expect(last('EXPOSE')?.args.split(/\s+/)).toEqual(['8080', '8081', '9464']);
    });

    it('starts node itself in exec form on the file `npm start` runs, built from src/main.ts', () => {
      // The distroless base's ENTRYPOINT is /nodejs/bin/node: the CMD is the script.
      // The same node flags (V8's young generation, docs/performance.md) and script as npm start.
      const argv = execForm(last('CMD')?.args ?? '');
      expect(argv).toEqual(['--max-semi-space-size=8', 'dist/src/main.js']);
      const cmd = argv.slice(-1);
      const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
      expect(pkg.scripts.start).toBe(`node ${argv.join(' ')}`);
      // tsconfig.build.json: rootDir ./ and outDir dist, so dist/<x>.js comes from <x>.ts.
      const source = cmd[0].replace(/^dist\//, '').replace(/\.js$/, '.ts');
      expect(existsSync(join(ROOT, source))).toBe(true);
      // An ENTRYPOINT of our own could put something between PID 1 and node.
      expect(runtime.instructions.some((i) => i.keyword === 'ENTRYPOINT')).toBe(false);
    });

    it('has a HEALTHCHECK run by node against /health that tells 200 from anything else', async () => {
      const hc = last('HEALTHCHECK');
      expect(hc).toBeDefined();
      const argv = execForm(hc?.args ?? '');
      expect(argv[0]).toBe('/nodejs/bin/node');
      expect(argv.join(' ')).toContain('/health');
      await expectHealthCheck(argv, (port) => ({ PORT: String(port) }));
    });

    it('keeps local state out of the build context (.dockerignore)', () => {
      const ignored = read('.dockerignore')
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l && !l.startsWith('#'));
      for (const p of [
        'node_modules',
        'dist',
        'coverage',
        '.git',
        'test',
        'bench/results',
        'config/keys/',
        '*.pem',
        '*.key',
      ]) {
        expect(ignored).toContain(p);
      }
      expect(ignored).toContain('*.log');
    });
  });

  describe('docker-compose.yml', () => {
    const compose = parseYaml(read('docker-compose.yml')) as Compose;
    const services = compose.services;
    const gateway = services.gateway;
    const names = Object.keys(services);

    it('runs the gateway, the demo backends, Redis, Prometheus and Grafana', () => {
      for (const n of ['gateway', 'redis', 'prometheus', 'grafana']) expect(names).toContain(n);
      expect(gateway.ports).toContain('8080:8080');
      expect(gateway.ports).toContain('8081:8081');
      expect(environment(gateway).HTTPS_PORT).toBe('8081');
      expect(services.prometheus.ports).toContain('9090:9090');
      expect(services.grafana.ports).toContain('3000:3000');
    });

    // A one-shot service (restart "no": the certificate maker) runs to its end instead.
    const oneShot = (s: ComposeService) => s.restart === 'no';

    it('gives every service a health check', () => {
      for (const [name, s] of Object.entries(services)) {
        if (oneShot(s)) continue;
        expect({ name, test: s.healthcheck?.test }).toEqual({ name, test: expect.anything() });
      }
    });

    it('waits for healthy dependencies only, on services that exist, without cycles', () => {
      const deps = (s: ComposeService) =>
        Array.isArray(s.depends_on) ? s.depends_on : Object.keys(s.depends_on ?? {});
      for (const [name, s] of Object.entries(services)) {
        expect(Array.isArray(s.depends_on)).toBe(false);
        for (const [dep, how] of Object.entries(s.depends_on ?? {})) {
          expect({ name, dep, known: names.includes(dep) }).toEqual({ name, dep, known: true });
          expect({ name, dep, condition: how.condition }).toEqual({
            name,
            dep,
            condition: oneShot(services[dep])
              ? 'service_completed_successfully'
              : 'service_healthy',
          });
        }
      }
      expect(deps(services.prometheus)).toContain('gateway');
      const visiting = new Set<string>();
      const done = new Set<string>();
      const visit = (n: string): void => {
        if (done.has(n)) return;
        if (visiting.has(n)) throw new Error(`depends_on cycle through ${n}`);
        visiting.add(n);
        for (const d of deps(services[n])) visit(d);
        visiting.delete(n);
        done.add(n);
      };
      names.forEach(visit);
    });

    it('points the gateway at its backends and Redis by service name, on ports they use', () => {
      const env = environment(gateway);
      for (const dep of ['SERVICE1_URL', 'SERVICE2_URL', 'REDIS_URL']) {
        const url = new URL(env[dep]);
        expect({ dep, host: names.includes(url.hostname) }).toEqual({ dep, host: true });
        expect(Object.keys(gateway.depends_on ?? {})).toContain(url.hostname);
      }
      for (const [urlVar, portVar] of [
        ['SERVICE1_URL', 'SERVICE1_PORT'],
        ['SERVICE2_URL', 'SERVICE2_PORT'],
      ]) {
        const url = new URL(env[urlVar]);
        const backend = environment(services[url.hostname]);
        expect(url.port).toBe(backend[portVar] ?? (portVar === 'SERVICE1_PORT' ? '3001' : '3002'));
      }
      // Required, no placeholder: compose refuses to start without a real secret.
      expect(env.JWT_SECRET).toMatch(/^\$\{JWT_SECRET:\?[^}]+\}$/);
      expect(environment(services.grafana).GF_SECURITY_ADMIN_PASSWORD).toMatch(
        /^\$\{GRAFANA_ADMIN_PASSWORD:\?[^}]+\}$/,
      );
    });

    it('sets only environment variables the contract lists on the gateway', () => {
      const known = contractEnv();
      for (const name of Object.keys(environment(gateway))) {
        expect({ name, listed: known.includes(name) }).toEqual({ name, listed: true });
      }
    });

    it('runs the demo backends from the built image, with a source file behind the command', () => {
      for (const s of Object.values(services)) {
        if (s.build === undefined) continue;
        const ctx = typeof s.build === 'string' ? s.build : (s.build.context ?? '.');
        const dockerfile =
          typeof s.build === 'string' ? 'Dockerfile' : (s.build.dockerfile ?? 'Dockerfile');
        expect(existsSync(join(ROOT, ctx, dockerfile))).toBe(true);
        const cmd = Array.isArray(s.command) ? s.command : undefined;
        if (cmd?.[0] === 'node') {
          const source = cmd[1].replace(/^dist\//, '').replace(/\.js$/, '.ts');
          expect(existsSync(join(ROOT, source))).toBe(true);
        }
      }
    });

    it('mounts only files and folders that exist in the repository', () => {
      for (const [name, s] of Object.entries(services)) {
        for (const v of s.volumes ?? []) {
          const host = v.split(':')[0];
          if (!host.startsWith('.')) continue; // named volumes
          expect({ name, host, exists: existsSync(join(ROOT, host)) }).toEqual({
            name,
            host,
            exists: true,
          });
        }
      }
    });

    it('serves HTTPS with the shipped config plus server.tls, the certificate made by `certs`', () => {
      const mounted = (gateway.volumes ?? []).map((v) => v.split(':'));
      const file = mounted.find(([, target]) => target === '/app/config/gateway.yaml')?.[0];
      expect(file).toBe('./deploy/compose/gateway.yaml');
      const shipped = parseYaml(read('config/gateway.yaml')) as { server: { tls?: unknown } };
      shipped.server.tls = { certFile: 'tls/cert.pem', keyFile: 'tls/key.pem' };
      expect(parseYaml(read(file ?? ''))).toEqual(shipped);
      // The certs service's volume is the one mounted at /app/config/tls, read-only.
      const volume = mounted.find(([, target]) => target === '/app/config/tls');
      expect(volume?.[2]).toBe('ro');
      const certs = services.certs;
      expect(oneShot(certs)).toBe(true);
      expect(certs.volumes).toEqual([`${volume?.[0]}:/tls`]);

      // Run its script here, /tls a temporary folder, apk and chown stand-ins (openssl is
      // real), then load the compose config with what it made.
      const dir = mkdtempSync(join(tmpdir(), 'gw-compose-'));
      try {
        const bin = join(dir, 'bin');
        const tls = join(dir, 'config', 'tls');
        mkdirSync(bin);
        mkdirSync(tls, { recursive: true });
        for (const tool of ['apk', 'chown']) {
          writeFileSync(join(bin, tool), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
        }
        const [shell, flags, script] = Array.isArray(certs.command) ? certs.command : [];
        expect([shell, flags]).toEqual(['sh', '-ec']);
        const run = () =>
          spawnSync(shell, [flags, script.replaceAll('/tls/', `${tls}/`)], {
            env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` },
            encoding: 'utf8',
          });
        const first = run();
        expect({ status: first.status, error: first.stderr.includes('error') }).toEqual({
          status: 0,
          error: false,
        });
        const made = readFileSync(join(tls, 'cert.pem'), 'utf8');
        expect(made).toMatch(/^-----BEGIN CERTIFICATE-----/);
        // A second `up` keeps the certificate it made.
        expect(run().status).toBe(0);
        expect(readFileSync(join(tls, 'cert.pem'), 'utf8')).toBe(made);

        writeFileSync(join(dir, 'config', 'gateway.yaml'), read(file ?? ''));
        const loaded = loadConfig(join(dir, 'config'), {
          JWT_SECRET: 'placeholder-secret-value-0123456789abcdef',
        });
        if (!loaded.ok)
          throw new Error(`compose config is invalid:\n${loaded.problems.join('\n')}`);
        expect(loaded.snapshot.gateway.server.tls).toBeDefined();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it("the gateway's node health check tells 200 on /health from anything else", async () => {
      const argv = composeTest(gateway);
      await expectHealthCheck(argv, (port) => ({ PORT: String(port) }));
    });

    it("the backends' node health check needs both backends to answer", async () => {
      const name = Object.keys(services).find((n) => /backends/.test(String(services[n].command)));
      expect(name).toBeDefined();
      const argv = composeTest(services[name ?? '']);
      const up1 = await serve(200);
      const up2 = await serve(200);
      const down = await serve(503);
      try {
        const env = (a: Server, b: Server) => ({
          SERVICE1_PORT: String(portOf(a)),
          SERVICE2_PORT: String(portOf(b)),
        });
        expect(await runCheck(argv, env(up1, up2))).toBe(0);
        expect(await runCheck(argv, env(up1, down))).toBe(1);
      } finally {
        await Promise.all([close(up1), close(up2), close(down)]);
      }
    });
  });

  describe('docker-compose.dev.yml', () => {
    const dev = parseYaml(read('docker-compose.dev.yml'), { merge: true }) as Compose;
    const services = dev.services;

    it('runs the gateway from the mounted source, rebuilt and restarted on change', () => {
      expect(Object.keys(services).sort()).toEqual(['backends', 'build', 'gateway', 'redis']);
      for (const name of ['build', 'gateway', 'backends']) {
        const s = services[name] as ComposeService & { volumes?: string[]; command?: string[] };
        expect(s.volumes).toContain('.:/app');
        expect(s.volumes).toContain('node_modules:/app/node_modules');
      }
      const cmd = (name: string) =>
        ((services[name] as { command?: string[] }).command ?? []).join(' ');
      expect(cmd('build')).toContain('tsc -p tsconfig.build.json --watch');
      expect(cmd('gateway')).toMatch(/node --watch-path=dist .*dist\/src\/main\.js$/);
      expect(cmd('backends')).toMatch(/dist\/demo\/backends\.js$/);
      // The files the commands run exist in the source (dist/ from these).
      for (const f of ['src/main.ts', 'demo/backends.ts', 'tsconfig.build.json']) {
        expect(existsSync(join(ROOT, f))).toBe(true);
      }
    });

    it('requires JWT_SECRET and sets only contract variables on the gateway', () => {
      const env = environment(services.gateway);
      expect(env.JWT_SECRET).toMatch(/^\$\{JWT_SECRET:\?[^}]+\}$/);
      const known = contractEnv();
      for (const name of Object.keys(env)) {
        expect({ name, listed: known.includes(name) }).toEqual({ name, listed: true });
      }
    });

    it('waits for a healthy build, backends and Redis, each with a health check', () => {
      for (const [name, s] of Object.entries(services)) {
        expect({ name, test: s.healthcheck?.test }).toEqual({ name, test: expect.anything() });
      }
      expect(Object.keys(services.gateway.depends_on ?? {}).sort()).toEqual([
        'backends',
        'build',
        'redis',
      ]);
    });
  });

  describe('Kubernetes manifests (deploy/)', () => {
    const all = loadManifests();
    const docs = all.map((m) => m.doc);
    const one = (kind: string, name?: string): Manifest => {
      const found = docs.filter((d) => d.kind === kind && (!name || d.metadata.name === name));
      if (found.length !== 1)
        throw new Error(`expected one ${kind} ${name ?? ''}, found ${found.length}`);
      return found[0];
    };
    const deployment = one('Deployment', 'api-gateway');
    const pod = deployment.spec?.template?.spec as PodSpec;
    const podLabels = deployment.spec?.template?.metadata.labels ?? {};
    const container = pod.containers[0];
    const configMaps = new Map(
      docs.filter((d) => d.kind === 'ConfigMap').map((d) => [d.metadata.name, d]),
    );
    const gatewayYaml = configMaps.get('gateway-config')?.data?.['gateway.yaml'] ?? '';

    it('lists every manifest file in kustomization.yaml, and only those', () => {
      const k = parseYaml(readFileSync(join(DEPLOY, 'kustomization.yaml'), 'utf8')) as {
        resources: string[];
      };
      expect([...k.resources].sort()).toEqual(manifestFiles());
    });

    (hasKubernetesModels ? it : it.skip)(
      'every manifest is valid against the Kubernetes API schema (kubernetes-models)',
      () => {
        for (const { file, doc } of all) {
          const Model = kubernetesModel(doc.apiVersion, doc.kind);
          if (!Model) throw new Error(`deploy/${file}: unknown ${doc.apiVersion} ${doc.kind}`);
          expect(() => new Model(doc).validate()).not.toThrow();
        }
      },
    );

    it('leaves the replica count to the HPA and runs a versioned image, http 8080, https 8081, metrics 9464', () => {
      expect(deployment.spec?.replicas).toBeUndefined();
      expect(pod.containers).toHaveLength(1);
      const version = (JSON.parse(read('package.json')) as { version: string }).version;
      expect(container.image).toBe(`api-gateway:${version}`);
      const k = parseYaml(readFileSync(join(DEPLOY, 'kustomization.yaml'), 'utf8')) as {
        images: { name: string; newTag: string }[];
      };
      expect(k.images).toEqual([{ name: 'api-gateway', newTag: version }]);
      expect(container.ports?.map((p) => [p.name, p.containerPort])).toEqual([
        ['http', 8080],
        ['https', 8081],
        ['metrics', 9464],
      ]);
      expect(container.env?.find((e) => e.name === 'METRICS_PORT')?.value).toBe('9464');
      expect(container.env?.find((e) => e.name === 'HTTPS_PORT')?.value).toBe('8081');
      expect(selects(matchLabels(deployment), podLabels)).toBe(true);
      const compose = parseYaml(read('docker-compose.yml')) as Compose;
      expect(compose.services.gateway.image).toBe(container.image);
    });

    it('probes liveness on /health and readiness on /ready every 5 s, on port 8080', () => {
      expect(container.livenessProbe?.httpGet?.path).toBe('/health');
      expect(resolvePort(container.livenessProbe?.httpGet?.port, container)).toBe(8080);
      expect(container.readinessProbe?.httpGet?.path).toBe('/ready');
      expect(resolvePort(container.readinessProbe?.httpGet?.port, container)).toBe(8080);
      expect(container.readinessProbe?.periodSeconds).toBe(5);
    });

    it('sleeps before SIGTERM and leaves the drain its whole shutdownTimeoutMs', () => {
      const sleep = container.lifecycle?.preStop?.sleep?.seconds ?? 0;
      expect(sleep).toBeGreaterThanOrEqual(5);
      const settings = parseYaml(gatewayYaml) as { server?: { shutdownTimeoutMs?: number } };
      const drain = (settings.server?.shutdownTimeoutMs ?? 30000) / 1000;
      expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(sleep + drain);
    });

    it('runs unprivileged on a read-only root file system with a writable /tmp', () => {
      const sc = container.securityContext ?? {};
      expect(sc.runAsNonRoot ?? pod.securityContext?.runAsNonRoot).toBe(true);
      expect(sc.runAsUser ?? pod.securityContext?.runAsUser).not.toBe(0);
      expect(sc.readOnlyRootFilesystem).toBe(true);
      expect(sc.allowPrivilegeEscalation).toBe(false);
      expect(sc.capabilities?.drop).toEqual(['ALL']);
      const tmp = container.volumeMounts?.find((m) => m.mountPath === '/tmp');
      expect(pod.volumes?.find((v) => v.name === tmp?.name)?.emptyDir).toBeDefined();
    });

    it('sets CPU and memory requests and limits', () => {
      const r = container.resources;
      for (const v of [r?.requests?.cpu, r?.requests?.memory, r?.limits?.cpu, r?.limits?.memory]) {
        expect(v).toEqual(expect.any(String));
      }
    });

    it('takes its secrets from the Secret, whose keys exist, and only contract variables', () => {
      const known = contractEnv();
      const env = container.env ?? [];
      // A variable only there to be expanded into a later one ($(REDIS_PASSWORD)) is allowed.
      const expanded = (name: string) => env.some((e) => e.value?.includes(`$(${name})`));
      for (const e of env)
        expect({ name: e.name, listed: known.includes(e.name) || expanded(e.name) }).toEqual({
          name: e.name,
          listed: true,
        });
      for (const name of ['JWT_SECRET', 'ACME_SECRET', 'CI_BOT_KEY', 'REDIS_PASSWORD']) {
        const ref = env.find((e) => e.name === name)?.valueFrom?.secretKeyRef;
        expect({ name, ref: ref !== undefined }).toEqual({ name, ref: true });
        const secret = one('Secret', ref?.name);
        const keys = Object.keys({ ...secret.data, ...secret.stringData });
        expect(keys).toContain(ref?.key);
      }
      expect(env.find((e) => e.name === 'REDIS_URL')?.value).toBe(
        'redis://:$(REDIS_PASSWORD)@redis:6379',
      );
    });

    it('mounts the config at GATEWAY_CONFIG_DIR from the two ConfigMaps, every key projected', () => {
      const dir = container.env?.find((e) => e.name === 'GATEWAY_CONFIG_DIR')?.value;
      expect(dir).toBe('/app/config');
      const mount = container.volumeMounts?.find((m) => m.mountPath === dir);
      expect(mount?.readOnly).toBe(true);
      const sources = configSources(pod, mount?.name ?? '');
      expect(sources.map((s) => s.name).sort()).toEqual(['gateway-config', 'gateway-services']);
      for (const src of sources) {
        const cm = configMaps.get(src.name);
        expect(cm).toBeDefined();
        const items = src.items ?? [];
        expect(items.length).toBeGreaterThan(0);
        for (const item of items) {
          expect(item.path).toMatch(/^(gateway\.yaml|services\/[A-Za-z0-9._-]+\.ya?ml)$/);
          expect(Object.keys(cm?.data ?? {})).toContain(item.key);
        }
        // A key the volume leaves out would be a service the gateway never loads.
        expect(Object.keys(cm?.data ?? {}).sort()).toEqual(items.map((i) => i.key).sort());
      }
    });

    it("projects the Ingress's TLS Secret where server.tls reads its certificate", () => {
      const mount = container.volumeMounts?.find((m) => m.mountPath === '/app/config');
      const secrets = secretSources(pod, mount?.name ?? '');
      const ingress = one('Ingress', 'api-gateway') as Manifest & {
        spec: { tls: { secretName: string }[] };
      };
      expect(secrets.map((s) => s.name)).toEqual([ingress.spec.tls[0].secretName]);
      const tls = (parseYaml(gatewayYaml) as { server: { tls: Record<string, string> } }).server
        .tls;
      // The keys of a kubernetes.io/tls Secret, at the paths the config names.
      expect(secrets[0].items).toEqual([
        { key: 'tls.crt', path: tls.certFile },
        { key: 'tls.key', path: tls.keyFile },
      ]);
    });

    it("loads the mounted files with the gateway's own config loader", () => {
      const dir = mkdtempSync(join(tmpdir(), 'gw-deploy-'));
      try {
        const mount = container.volumeMounts?.find((m) => m.mountPath === '/app/config');
        for (const src of configSources(pod, mount?.name ?? '')) {
          for (const item of src.items ?? []) {
            const file = join(dir, ...item.path.split(posix.sep));
            mkdirSync(dirname(file), { recursive: true });
            writeFileSync(file, configMaps.get(src.name)?.data?.[item.key] ?? '');
          }
        }
        // The TLS Secret's files: a real certificate, as cert-manager or `kubectl create
        // secret tls` would leave there.
        for (const src of secretSources(pod, mount?.name ?? '')) {
          const pair = selfSigned(dir, 'deploy');
          for (const item of src.items ?? []) {
            const file = join(dir, ...item.path.split(posix.sep));
            mkdirSync(dirname(file), { recursive: true });
            writeFileSync(file, item.key === 'tls.key' ? pair.key : pair.cert);
          }
        }
        const env: Record<string, string> = {};
        for (const e of container.env ?? []) {
          // Kubernetes expands $(NAME) from the variables defined before it.
          env[e.name] =
            e.value?.replace(/\$\((\w+)\)/g, (_m, n: string) => env[n] ?? `$(${n})`) ??
            (e.valueFrom?.secretKeyRef ? 'placeholder-secret-value-0123456789abcdef' : '');
        }
        const loaded = loadConfig(dir, env);
        if (!loaded.ok)
          throw new Error(`config from deploy/ is invalid:\n${loaded.problems.join('\n')}`);
        expect(loaded.snapshot.services.map((s) => s.file).sort()).toEqual([
          'services/service1.yaml',
          'services/service2.yaml',
        ]);
        // Three replicas share their rate-limit counters through Redis.
        expect(loaded.snapshot.gateway.rateLimit.store).toBe('redis');
        expect(loaded.snapshot.redisUrl).toBe(
          'redis://:placeholder-secret-value-0123456789abcdef@redis:6379',
        );
        expect(loaded.snapshot.gateway.server.trustProxy).toEqual(['10.0.0.0/8']);
        expect(loaded.snapshot.gateway.server.tls).toBeDefined();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('carries the shipped config/ (only rateLimit.store, server.trustProxy and server.tls differ)', () => {
      const shipped = parseYaml(read('config/gateway.yaml')) as {
        rateLimit: { store?: string };
        server: { trustProxy?: unknown; tls?: unknown };
      };
      shipped.rateLimit.store = 'redis';
      shipped.server.trustProxy = ['10.0.0.0/8'];
      shipped.server.tls = { certFile: 'tls/cert.pem', keyFile: 'tls/key.pem' };
      expect(parseYaml(gatewayYaml)).toEqual(shipped);
      const services = configMaps.get('gateway-services')?.data ?? {};
      const shippedFiles = readdirSync(join(ROOT, 'config', 'services')).sort();
      expect(Object.keys(services).sort()).toEqual(shippedFiles);
      for (const f of shippedFiles) {
        expect(parseYaml(services[f])).toEqual(parseYaml(read(`config/services/${f}`)));
      }
    });

    it('exposes the pods through a ClusterIP Service, port 80 to 8080 and 443 to 8081', () => {
      const svc = one('Service', 'api-gateway');
      expect(svc.spec?.type ?? 'ClusterIP').toBe('ClusterIP');
      expect(selects(serviceSelector(svc), podLabels)).toBe(true);
      expect(svc.spec?.ports?.map((p) => [p.port, resolvePort(p.targetPort, container)])).toEqual([
        [80, 8080],
        [443, 8081],
      ]);
    });

    it('scales the Deployment on 70% CPU from 3 to 10 pods', () => {
      const hpa = one('HorizontalPodAutoscaler');
      expect(hpa.apiVersion).toBe('autoscaling/v2');
      expect(hpa.spec?.scaleTargetRef).toEqual({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        name: deployment.metadata.name,
      });
      expect(hpa.spec?.minReplicas).toBe(3);
      expect(hpa.spec?.maxReplicas).toBe(10);
      expect(hpa.spec?.metrics).toEqual([
        {
          type: 'Resource',
          resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } },
        },
      ]);
    });

    it("keeps 2 pods through voluntary disruptions, selecting the Deployment's pods", () => {
      const pdb = one('PodDisruptionBudget');
      expect(pdb.apiVersion).toBe('policy/v1');
      expect(pdb.spec?.minAvailable).toBe(2);
      expect(selects(matchLabels(pdb), podLabels)).toBe(true);
      expect(pdb.spec?.minAvailable).toBeLessThan(
        one('HorizontalPodAutoscaler').spec?.minReplicas ?? 0,
      );
    });

    it('runs the Redis that REDIS_URL names, behind a Service on its port', () => {
      const url = new URL(container.env?.find((e) => e.name === 'REDIS_URL')?.value ?? '');
      const svc = one('Service', url.hostname);
      const redis = docs.find(
        (d) =>
          d.kind === 'Deployment' &&
          selects(serviceSelector(svc), d.spec?.template?.metadata.labels ?? {}),
      );
      expect(redis).toBeDefined();
      const redisContainer = redis?.spec?.template?.spec.containers[0] as Container;
      expect(redisContainer.image).toMatch(/^redis:\d+\.\d+/);
      const port = svc.spec?.ports?.[0];
      expect(String(port?.port)).toBe(url.port || '6379');
      expect(resolvePort(port?.targetPort, redisContainer)).toBe(6379);
    });

    it('gives Redis a password from the Secret and refuses to start it without one', () => {
      const redis = one('Deployment', 'redis');
      const c = redis.spec?.template?.spec.containers[0] as Container & {
        command?: string[];
        args?: string[];
      };
      const fromSecret = (name: string) =>
        c.env?.find((e) => e.name === name)?.valueFrom?.secretKeyRef;
      expect(fromSecret('REDIS_PASSWORD')).toEqual({
        name: 'api-gateway-secrets',
        key: 'REDIS_PASSWORD',
      });
      expect(fromSecret('REDISCLI_AUTH')).toEqual(fromSecret('REDIS_PASSWORD'));
      expect(c.command?.slice(0, 2)).toEqual(['sh', '-c']);
      const script = c.command?.[2] ?? '';
      expect(script).toContain('--requirepass "$REDIS_PASSWORD"');
      // The start script itself, with the password empty: it exits before redis-server.
      const run = spawnSync('/bin/sh', ['-c', script], {
        env: { PATH: '/nonexistent', REDIS_PASSWORD: '' },
        encoding: 'utf8',
      });
      expect({ status: run.status, stderr: run.stderr }).toEqual({
        status: 1,
        stderr: expect.stringContaining('REDIS_PASSWORD is empty'),
      });
    });

    it('lets only the gateway pods reach Redis (NetworkPolicy)', () => {
      const np = one('NetworkPolicy', 'redis') as Manifest & {
        spec: {
          podSelector: Selector;
          policyTypes: string[];
          ingress: {
            from: { podSelector: Selector }[];
            ports: { port: number; protocol: string }[];
          }[];
        };
      };
      const redis = one('Deployment', 'redis');
      expect(
        selects(np.spec.podSelector.matchLabels ?? {}, redis.spec?.template?.metadata.labels ?? {}),
      ).toBe(true);
      expect(selects(np.spec.podSelector.matchLabels ?? {}, podLabels)).toBe(false);
      expect(np.spec.policyTypes).toEqual(['Ingress']);
      expect(np.spec.ingress).toHaveLength(1);
      const [rule] = np.spec.ingress;
      expect(rule.from).toHaveLength(1);
      expect(selects(rule.from[0].podSelector.matchLabels ?? {}, podLabels)).toBe(true);
      expect(
        selects(
          rule.from[0].podSelector.matchLabels ?? {},
          redis.spec?.template?.metadata.labels ?? {},
        ),
      ).toBe(false);
      expect(rule.ports).toEqual([{ port: 6379, protocol: 'TCP' }]);
    });

    it('routes the Ingress (TLS) to the http port only: /metrics is on no exposed port', () => {
      const ingress = one('Ingress', 'api-gateway') as Manifest & {
        spec: {
          tls: { hosts: string[]; secretName: string }[];
          rules: {
            host: string;
            http: {
              paths: {
                path: string;
                backend: { service: { name: string; port: { name?: string } } };
              }[];
            };
          }[];
        };
      };
      expect(ingress.spec.tls[0].secretName).toEqual(expect.any(String));
      expect(ingress.spec.tls[0].hosts).toContain(ingress.spec.rules[0].host);
      const backends = ingress.spec.rules.flatMap((r) => r.http.paths.map((p) => p.backend));
      expect(backends).toEqual([{ service: { name: 'api-gateway', port: { name: 'http' } } }]);
      const svc = one('Service', 'api-gateway');
      // Neither of the Service's ports is the metrics port.
      expect(svc.spec?.ports?.map((p) => resolvePort(p.targetPort, container))).toEqual([
        8080, 8081,
      ]);
      // With METRICS_PORT set, the http port answers /metrics with a 404 (metrics e2e spec).
      expect(container.env?.some((e) => e.name === 'METRICS_PORT')).toBe(true);
      const settings = parseYaml(gatewayYaml) as { server: { trustProxy: unknown } };
      expect(settings.server.trustProxy).not.toBe(false);
    });
  });
});

// ---------------------------------------------------------------------------------------------
function composeTest(s: ComposeService): string[] {
  const test = s.healthcheck?.test;
  if (!Array.isArray(test) || test[0] !== 'CMD')
    throw new Error('health check is not ["CMD", ...]');
  return test.slice(1);
}

async function expectHealthCheck(
  argv: string[],
  env: (port: number) => Record<string, string>,
): Promise<void> {
  const ok = await serve(200);
  const failing = await serve(503);
  try {
    expect(await runCheck(argv, env(portOf(ok)))).toBe(0);
    expect(await runCheck(argv, env(portOf(failing)))).toBe(1);
  } finally {
    await Promise.all([close(ok), close(failing)]);
  }
  // Nothing listening: a closed port fails the check too.
  const gone = await serve(200);
  const port = portOf(gone);
  await close(gone);
  expect(await runCheck(argv, env(port))).toBe(1);
}

function secretSources(pod: PodSpec, volumeName: string): ConfigMapProjection[] {
  const volume = pod.volumes?.find((v) => v.name === volumeName);
  return (volume?.projected?.sources ?? []).flatMap((s) => (s.secret ? [s.secret] : []));
}

function configSources(pod: PodSpec, volumeName: string): ConfigMapProjection[] {
  const volume = pod.volumes?.find((v) => v.name === volumeName);
  if (volume?.configMap) return [volume.configMap];
  return (volume?.projected?.sources ?? []).flatMap((s) => (s.configMap ? [s.configMap] : []));
}
