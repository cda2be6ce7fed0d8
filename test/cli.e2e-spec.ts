import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
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

describe('CLI scripts (e2e)', () => {
  const dirs: string[] = [];
  const folder = (files: Parameters<typeof writeConfigDir>[0]) => {
    const dir = writeConfigDir(files);
    dirs.push(dir);
    return dir;
  };

  beforeAll(() => {
    if (existsSync(CONFIG_CHECK) && existsSync(HASH_SECRET)) return;
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

  describe('hash-secret', () => {
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
