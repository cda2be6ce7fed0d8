import type { core } from 'zod';

/** Formats a key path as `routes[0].path`; the root is `(root)`. */
export function formatKeyPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out === '' ? String(p) : `.${String(p)}`;
  }
  return out === '' ? '(root)' : out;
}

/**
 * One line per zod issue: `<file>: <key.path>: <what is wrong>`. Messages name the
 * expectation, never the value found (it may be a secret).
 */
export function formatZodIssues(file: string, issues: readonly core.$ZodIssue[]): string[] {
  const lines: string[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        lines.push(`${file}: ${formatKeyPath([...issue.path, key])}: unknown key`);
      }
      continue;
    }
    if (issue.code === 'invalid_union' && issue.errors.length > 0) {
      // Report the branch that got furthest rather than zod's generic "invalid input".
      const best = [...issue.errors].sort((a, b) => depth(b) - depth(a))[0];
      const nested = best.map((i) => ({ ...i, path: [...issue.path, ...i.path] }));
      lines.push(...formatZodIssues(file, nested));
      continue;
    }
    lines.push(`${file}: ${formatKeyPath(issue.path)}: ${describe(issue)}`);
  }
  return [...new Set(lines)];
}

function depth(errs: readonly core.$ZodIssue[]): number {
  return Math.max(0, ...errs.map((e) => e.path.length + (e.code === 'invalid_type' ? 0 : 1)));
}

function describe(issue: core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return 'is required';
      return `must be ${article(issue.expected)}`;
    case 'too_small':
      if (issue.origin === 'array') return `must have at least ${String(issue.minimum)} item(s)`;
      if (issue.origin === 'string') return 'must not be empty';
      return `must be at least ${String(issue.minimum)}`;
    case 'too_big':
      if (issue.origin === 'array') return `must have at most ${String(issue.maximum)} item(s)`;
      return `must be at most ${String(issue.maximum)}`;
    case 'invalid_value':
      return `must be one of ${issue.values.map((v) => String(v)).join(', ')}`;
    case 'invalid_format':
      return issue.message.startsWith('Invalid')
        ? `must be a valid ${issue.format}`
        : issue.message;
    default:
      return issue.message;
  }
}

function article(expected: string): string {
  return /^[aeiou]/.test(expected) ? `an ${expected}` : `a ${expected}`;
}
