// The README and docs/: every relative link and #anchor resolves (GitHub's heading anchors),
// every page has a table of contents, and the environment table lists each variable the
// gateway reads.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, resolve } from 'node:path';

import { runtimeEnvSchema } from '../../src/config/runtime-env';

const ROOT = resolve(__dirname, '../..');
const PAGES = ['README.md', ...readdirSync(join(ROOT, 'docs')).map((f) => `docs/${f}`)];

/** GitHub's anchor of a heading: lower case, punctuation but - and _ dropped, spaces to -. */
export function anchorOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[`*]/g, '')
    .replace(/[^\p{L}\p{N}\- _]/gu, '')
    .replace(/ /g, '-');
}

function withoutFences(text: string): string {
  return text.replace(/```[\s\S]*?```/g, '');
}

function anchors(file: string): Set<string> {
  const headings = withoutFences(readFileSync(file, 'utf8')).match(/^#{1,6} .*$/gm) ?? [];
  return new Set(headings.map((h) => anchorOf(h.replace(/^#+ /, ''))));
}

describe('Docs (static)', () => {
  it('computes anchors as GitHub does', () => {
    expect(anchorOf('JWTs (`auth.jwt`)')).toBe('jwts-authjwt');
    expect(anchorOf('2. `auth.jwt.secret: empty while REDIS_URL is set`')).toBe(
      '2-authjwtsecret-empty-while-redis_url-is-set',
    );
  });

  it.each(PAGES)('%s: every relative link and anchor resolves', (page) => {
    const file = join(ROOT, page);
    const text = withoutFences(readFileSync(file, 'utf8'));
    const broken: string[] = [];
    for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      const link = m[1];
      if (/^(https?|mailto):/.test(link)) continue;
      const [path, anchor] = link.split('#');
      const target = path ? normalize(join(dirname(file), path)) : file;
      if (!existsSync(target)) broken.push(`${link}: no such file`);
      else if (anchor && target.endsWith('.md') && !anchors(target).has(anchor)) {
        broken.push(`${link}: no such heading`);
      }
    }
    expect(broken).toEqual([]);
  });

  it.each(PAGES.filter((p) => p.startsWith('docs/') && p !== 'docs/architecture.md'))(
    '%s has a table of contents',
    (page) => {
      expect(readFileSync(join(ROOT, page), 'utf8')).toMatch(/^## Contents\n\n- \[/m);
    },
  );

  it('keeps the README short: what, quickstart, links', () => {
    const lines = readFileSync(join(ROOT, 'README.md'), 'utf8').split('\n').length;
    expect(lines).toBeLessThan(200);
  });

  it('lists every environment variable the gateway reads in the configuration reference', () => {
    const text = readFileSync(join(ROOT, 'docs/configuration.md'), 'utf8');
    for (const name of Object.keys(runtimeEnvSchema.shape)) {
      expect({ name, listed: text.includes(`| \`${name}\` |`) }).toEqual({ name, listed: true });
    }
  });
});
