import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import argon2 from 'argon2';

import { loadConfig } from '../src/config/config-loader';
import { writeConfigDir } from './support/test-gateway';

const ROOT = resolve(__dirname, '..');
const CONFIG_CHECK = join(ROOT, 'dist/scripts/config-check.js');
const HASH_SECRET = join(ROOT, 'dist/scripts/hash-secret.js');

/** One problem line: `<file>: <key.path>: <what>`. */
const PROBLEM_LINE =
  /^(gateway\.yaml|services\/[\w.-]+\.ya?ml): (\(root\)|\(line \d+\)|[A-Za-z0-9_-]+(\[\d+\])*(\.[A-Za-z0-9_-]+(\[\d+\])*)*): \S.*$/;

const ARGON2ID_PHC =
  /^\$argon2id\$v=19\$(?=[^$]*\bm=\d+)(?=[^$]*\bt=\d+)(?=[^$]*\bp=\d+)[mtp]=\d+,[mtp]=\d+,[mtp]=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment of a shell with none of the gateway's variables set. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME };
  return { ...env, ...extra };
}

function run(
  script: string,
  args: string[],
  o: { input?: string; env?: Record<string, string> } = {},
): Promise<Run> {
  return new Promise<Run>((done, fail) => {
    const child = spawn(process.execPath, [script, ...args], { cwd: ROOT, env: cleanEnv(o.env) });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.on('error', fail);
    child.on('close', (code) => done({ code, stdout, stderr }));
    child.stdin.end(o.input ?? '');
  });
}

const lines = (text: string) => text.split('\n').filter((l) => l !== '');

const SERVICE_A =
  'name: a\ntargets: [{ url: "http://127.0.0.1:1" }]\nroutes: [{ path: /api/a/* }]\n';

describe('CLI scripts (e2e)', () => {
  const dirs: string[] = [];
  const folder = (files: Parameters<typeof writeConfigDir>[0]) => {
    const dir = writeConfigDir(files);
    dirs.push(dir);
    return dir;
  };

  beforeAll(() => {
    // Always from the current sources: a dist/ left by an older checkout would test old code.
    const build = spawnSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, encoding: 'utf8' });
    if (build.status !== 0)
      throw new Error(`npm run build failed:\n${build.stdout}${build.stderr}`);
  }, 180_000);

  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  describe('config-check', () => {
    it('accepts the shipped config/ (the default folder): exit 0, ok on stdout', async () => {
      const r = await run(CONFIG_CHECK, []);
      const expected = loadConfig(join(ROOT, 'config'), {});
      if (!expected.ok) throw new Error('the shipped config does not load in-process');
      expect(r.code).toBe(0);
      expect(r.stderr).toBe('');
      const out = lines(r.stdout);
      expect(out[0]).toBe(
        `${join(ROOT, 'config')}: ok (revision ${expected.snapshot.revision}, 2 services, 2 routes)`,
      );
      // Unset JWT_SECRET, CI_BOT_KEY and ACME_SECRET: warnings, never errors.
      expect(out.slice(1)).toEqual([
        expect.stringMatching(/^warning: gateway\.yaml: auth\.jwt\.secret: /),
        'warning: gateway.yaml: auth.apiKeys.keys[0].key: empty; skipped',
        'warning: gateway.yaml: oauth.clients[0].clientSecret: empty; skipped',
      ]);
    });

    it('accepts config/ named on the command line, with the env set and no warnings', async () => {
      const env = {
        JWT_SECRET: 'cli-jwt-secret-value-0a9b8c-0123456789',
        CI_BOT_KEY: 'cli-bot-key-value-1d2e3f',
        ACME_SECRET: 'cli-acme-secret-value-4a5b6c',
      };
      const r = await run(CONFIG_CHECK, ['config'], { env });
      expect(r.code).toBe(0);
      expect(r.stderr).toBe('');
      expect(lines(r.stdout)).toEqual([
        expect.stringMatching(
          new RegExp(
            `^${join(ROOT, 'config')}: ok \\(revision [0-9a-f]{16}, 2 services, 2 routes\\)$`,
          ),
        ),
      ]);
      for (const secret of Object.values(env)) expect(r.stdout).not.toContain(secret);
    });

    it('refuses the shipped config/ with JWT_SECRET=x (HS256 needs 32 bytes), not echoing it', async () => {
      const r = await run(CONFIG_CHECK, [], { env: { JWT_SECRET: 'x' } });
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      expect(lines(r.stderr)).toEqual([
        'gateway.yaml: auth.jwt.secret: must be at least 32 bytes (RFC 7518 §3.2), or empty for a random key',
      ]);
    });

    it('refuses a broken folder: exit 1, one line per problem on stderr, no value echoed', async () => {
      const dir = folder({
        gateway: [
          'server:',
          '  bodyLimit: "SECRET-VALUE-1"',
          '  trustProxy: ["SECRET-VALUE-2"]',
          'auth:',
          '  jwt:',
          '    jwksUri: "SECRET-VALUE-3"',
          '  apiKeys:',
          '    keys:',
          '      - { name: k, key: SECRET-VALUE-4, roles: "SECRET-VALUE-5" }',
          'oauth:',
          '  clients:',
          '    - { clientId: c, secretHash: "SECRET-VALUE-6" }',
          'rateLimit:',
          '  onStoreError: "SECRET-VALUE-7"',
          '',
        ].join('\n'),
        services: {
          x: 'name: x\ntargets: [{ url: "http://127.0.0.1:1" }]\nroutes:\n  - { path: SECRET-VALUE-8 }\n',
          y: 'name: y\ntargets: [{ url: "SECRET-VALUE-9" }]\nroutes:\n  - { path: /y/*, methods: [SECRET-VALUE-10] }\n',
        },
      });
      const r = await run(CONFIG_CHECK, [dir]);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      expect(lines(r.stderr).sort()).toEqual(
        [
          'gateway.yaml: server.bodyLimit: must be a size such as 512kb or 1mb (b, kb, mb)',
          'gateway.yaml: server.trustProxy[0]: must be an IP address or CIDR such as 10.0.0.0/8',
          'gateway.yaml: auth.jwt.jwksUri: must be a valid url',
          'gateway.yaml: auth.apiKeys.keys[0].roles: must be an array',
          'gateway.yaml: oauth.clients[0].secretHash: must be a bcrypt or argon2id hash',
          'gateway.yaml: rateLimit.onStoreError: must be one of allow, deny',
          'services/x.yaml: routes[0].path: must start with /',
          'services/y.yaml: targets[0].url: must be an http:// or https:// URL',
          'services/y.yaml: routes[0].methods[0]: must be one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS',
        ].sort(),
      );
      for (const line of lines(r.stderr)) expect(line).toMatch(PROBLEM_LINE);
      expect(r.stderr).not.toContain('SECRET-VALUE');
    });

    it('reports semantic problems the same way (duplicate names, route conflicts)', async () => {
      const svc = (name: string) =>
        `name: shared\ntargets: [{ url: "http://127.0.0.1:1" }]\nroutes:\n  - { path: /${name}/* }\n  - { path: /${name}/*, methods: [GET] }\n`;
      const dir = folder({ services: { a: svc('a'), b: svc('b') } });
      const r = await run(CONFIG_CHECK, [dir]);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      expect(lines(r.stderr)).toEqual([
        'services/b.yaml: name: duplicate service name (also in services/a.yaml)',
        'services/a.yaml: routes[1].path: same pattern and methods as services/a.yaml routes[0]',
        'services/b.yaml: routes[1].path: same pattern and methods as services/b.yaml routes[0]',
      ]);
    });

    it('never echoes a value from a file that is not valid YAML', async () => {
      const dir = folder({
        services: {
          a: '- item\nclientSecret: SECRET-VALUE-YAML-1\n',
          d: 'name: d\n] SECRET-VALUE-YAML-2\n',
        },
      });
      const r = await run(CONFIG_CHECK, [dir]);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      expect(lines(r.stderr).length).toBeGreaterThanOrEqual(2);
      for (const line of lines(r.stderr)) expect(line).toMatch(PROBLEM_LINE);
      expect(r.stderr).not.toContain('SECRET-VALUE-YAML');
    });

    it('reports an unresolved YAML alias as a problem line, not a crash', async () => {
      const dir = folder({
        gateway: 'auth:\n  jwt:\n    secret: *SECRETALIAS\n',
      });
      const r = await run(CONFIG_CHECK, [dir]);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      expect(lines(r.stderr)).toEqual([expect.stringMatching(PROBLEM_LINE)]);
      expect(lines(r.stderr)[0]).toMatch(/^gateway\.yaml: /);
      expect(r.stderr).not.toContain('SECRETALIAS');
    });

    it('refuses a missing folder: exit 1, one line on stderr', async () => {
      const missing = join(mkdtempSync(join(tmpdir(), 'gw-missing-')), 'nope');
      dirs.push(resolve(missing, '..'));
      const r = await run(CONFIG_CHECK, [missing]);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      expect(lines(r.stderr)).toEqual([`${missing}: (root): is not a readable folder`]);
    });
  });

  describe('config-check usage and folder shapes', () => {
    it('prints its usage for --help (exit 0) and refuses an unknown option (exit 2)', async () => {
      const help = await run(CONFIG_CHECK, ['--help']);
      expect(help.code).toBe(0);
      expect(help.stdout).toMatch(/^usage: config-check \[dir\]\n/);
      const bad = await run(CONFIG_CHECK, ['--frobnicate']);
      expect(bad.code).toBe(2);
      expect(bad.stdout).toBe('');
      expect(lines(bad.stderr)[0]).toBe('config-check: unknown option --frobnicate');
    });

    it('runs through `npm run config:check` from the compiled tool', () => {
      const r = spawnSync('npm', ['run', '--silent', 'config:check', '--', '--help'], {
        cwd: ROOT,
        encoding: 'utf8',
        env: cleanEnv(),
      });
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/^usage: config-check/);
    });

    it('warns when the folder has no service file (a misspelled services/ folder)', async () => {
      const dir = folder({ gateway: 'server:\n  bodyLimit: 1mb\n' });
      rmSync(join(dir, 'services'), { recursive: true });
      mkdirSync(join(dir, 'service'));
      writeFileSync(
        join(dir, 'service', 'a.yaml'),
        'name: a\ntargets: [{ url: "http://127.0.0.1:1" }]\nroutes: [{ path: /api/a/* }]\n',
      );
      const r = await run(CONFIG_CHECK, [dir]);
      expect(r.code).toBe(0);
      expect(lines(r.stdout)).toContainEqual(
        `warning: services/: no service files (*.yaml, *.yml) in ${join(dir, 'services')}: nothing is routed`,
      );
    });

    it('reads gateway.yml like gateway.yaml, naming it in its problem lines', async () => {
      const dir = folder({ services: { a: SERVICE_A } });
      writeFileSync(join(dir, 'gateway.yml'), 'server:\n  bogus: 1\n');
      const r = await run(CONFIG_CHECK, [dir]);
      expect(r.code).toBe(1);
      expect(lines(r.stderr)).toEqual(['gateway.yml: server.bogus: unknown key']);
      writeFileSync(join(dir, 'gateway.yml'), 'server:\n  bodyLimit: 2kb\n');
      const ok = await run(CONFIG_CHECK, [dir]);
      expect(ok.code).toBe(0);
      const loaded = loadConfig(dir, {});
      expect(loaded.ok && loaded.snapshot.gateway.server.bodyLimit).toBe(2048);
      expect(loaded.ok && Object.keys(loaded.snapshot.files)).toContain('gateway.yml');
    });

    it('refuses gateway.yaml and gateway.yml side by side', async () => {
      const dir = folder({ gateway: 'server:\n  bodyLimit: 1mb\n', services: { a: SERVICE_A } });
      writeFileSync(join(dir, 'gateway.yml'), 'server:\n  bodyLimit: 2mb\n');
      const r = await run(CONFIG_CHECK, [dir]);
      expect(r.code).toBe(1);
      expect(lines(r.stderr)).toEqual([
        'gateway.yml: (root): both gateway.yaml and gateway.yml exist; keep one',
      ]);
    });

    it('reports per-file, cross-file and plugin problems in one pass', async () => {
      const dir = folder({
        gateway: 'server:\n  bodyLimit: 1mb\n',
        services: {
          a: SERVICE_A,
          b: SERVICE_A,
          c: 'name: c\ntargets: []\nroutes: [{ path: /api/c/* }]\n',
          d: 'name: d\ntargets: [{ url: "http://127.0.0.1:1" }]\nroutes: [{ path: /api/d/* }]\nplugins: [{ name: nosuch }]\n',
        },
      });
      const r = await run(CONFIG_CHECK, [dir]);
      expect(r.code).toBe(1);
      const out = lines(r.stderr);
      expect(out).toEqual(
        expect.arrayContaining([
          'services/c.yaml: targets: must have at least 1 item(s)',
          'services/b.yaml: name: duplicate service name (also in services/a.yaml)',
          expect.stringMatching(/^services\/d\.yaml: plugins\[0\]/),
        ]),
      );
      for (const l of out) expect(l).toMatch(PROBLEM_LINE);
    });
  });

  describe('hash-secret', () => {
    it('prints its usage for --help (exit 0) and refuses an argument (exit 2)', async () => {
      const help = await run(HASH_SECRET, ['--help']);
      expect(help.code).toBe(0);
      expect(help.stdout).toMatch(/^usage: hash-secret/);
      const bad = await run(HASH_SECRET, ['s3cret']);
      expect(bad.code).toBe(2);
      expect(bad.stdout).toBe('');
    });

    it('prompts at a terminal and never echoes the secret (a real pty through script(1))', async () => {
      const child = spawn('script', ['-qfec', `${process.execPath} ${HASH_SECRET}`, '/dev/null'], {
        cwd: ROOT,
        env: cleanEnv(),
      });
      let out = '';
      let typed = false;
      child.stdout.setEncoding('utf8').on('data', (c: string) => {
        out += c;
        // Type only once the prompt is up: the terminal is then in raw mode, echo off.
        if (!typed && out.includes('Client secret: ')) {
          typed = true;
          child.stdin.write('tty-s3cret-value\r');
        }
      });
      const code = await new Promise<number | null>((done) => child.on('close', done));
      expect(code).toBe(0);
      expect(out).not.toContain('tty-s3cret-value');
      const phc = out.split(/\r?\n/).find((l) => l.startsWith('$argon2id$'));
      expect(phc).toMatch(ARGON2ID_PHC);
      await expect(argon2.verify(phc!, 'tty-s3cret-value')).resolves.toBe(true);
    });

    it('prints one argon2id PHC line for the secret, its trailing newline stripped', async () => {
      const r = await run(HASH_SECRET, [], { input: 's3cret\n' });
      expect(r.code).toBe(0);
      expect(r.stderr).toBe('');
      expect(r.stdout.endsWith('\n')).toBe(true);
      const out = r.stdout.split('\n');
      expect(out).toHaveLength(2);
      expect(out[1]).toBe('');
      const phc = out[0];
      expect(phc).toMatch(ARGON2ID_PHC);
      // The PHC order m, t, p (libargon2-based verifiers require it); argon2 0.45 writes m, p, t.
      expect(phc).toMatch(/^\$argon2id\$v=19\$m=\d+,t=\d+,p=\d+\$/);
      expect(phc).not.toContain('s3cret');
      await expect(argon2.verify(phc, 's3cret')).resolves.toBe(true);
      await expect(argon2.verify(phc, 's3cret\n')).resolves.toBe(false);
    });

    it('strips one trailing newline only, and salts each hash', async () => {
      const a = await run(HASH_SECRET, [], { input: 's3cret\n\n' });
      const b = await run(HASH_SECRET, [], { input: 's3cret\n\n' });
      expect([a.code, b.code]).toEqual([0, 0]);
      const [ha, hb] = [a.stdout.trimEnd(), b.stdout.trimEnd()];
      expect(ha).toMatch(ARGON2ID_PHC);
      expect(ha).not.toBe(hb);
      await expect(argon2.verify(ha, 's3cret\n')).resolves.toBe(true);
      await expect(argon2.verify(ha, 's3cret')).resolves.toBe(false);
      await expect(argon2.verify(hb, 's3cret\n')).resolves.toBe(true);
    });

    it.each([
      ['empty stdin', ''],
      ['a lone newline', '\n'],
    ])('exits 1 on %s, printing nothing on stdout', async (_what, input) => {
      const r = await run(HASH_SECRET, [], { input });
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      expect(lines(r.stderr)).toEqual([expect.stringMatching(/secret/)]);
    });
  });
});
