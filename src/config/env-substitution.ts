const VAR = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

export type Env = Readonly<Record<string, string | undefined>>;

/**
 * Replaces `${VAR}` and `${VAR:-default}` in every string value of a parsed YAML tree.
 * Substitution happens after parsing, so a value can never inject YAML structure.
 * An unset (or, with `:-`, empty) variable takes the default, else becomes empty.
 */
export function substituteEnv(value: unknown, env: Env): unknown {
  if (typeof value === 'string') {
    if (!value.includes('${')) return value;
    return value.replace(VAR, (_m, name: string, fallback: string | undefined) => {
      const v = env[name];
      if (fallback !== undefined) return v === undefined || v === '' ? fallback : v;
      return v ?? '';
    });
  }
  if (Array.isArray(value)) return value.map((v) => substituteEnv(v, env));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = substituteEnv(v, env);
    return out;
  }
  return value;
}
