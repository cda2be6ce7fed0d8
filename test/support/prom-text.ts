// Reads the Prometheus text exposition format (0.0.4) the way a scraper would, so metric
// specs assert on samples (name, labels, value) rather than on substrings of the body.

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Exposition {
  readonly samples: readonly Sample[];
  /** `# TYPE` lines: metric family name -> type. */
  readonly types: ReadonlyMap<string, string>;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;

/** Parses a whole /metrics body; throws on a line a scraper would refuse. */
export function parseExposition(text: string): Exposition {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      const m = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (\w+)$/.exec(line);
      if (m) types.set(m[1], m[2]);
      continue;
    }
    samples.push(parseSample(line));
  }
  return { samples, types };
}

function parseSample(line: string): Sample {
  const name = NAME.exec(line)?.[0];
  if (!name) throw new Error(`not a sample line: ${line}`);
  let i = name.length;
  const labels: Record<string, string> = {};
  if (line[i] === '{') {
    i++;
    while (line[i] !== '}') {
      const key = NAME.exec(line.slice(i))?.[0];
      if (!key || line[i + key.length] !== '=' || line[i + key.length + 1] !== '"') {
        throw new Error(`bad label in: ${line}`);
      }
      i += key.length + 2;
      let value = '';
      for (;;) {
        const c = line[i++];
        if (c === undefined) throw new Error(`unterminated label value in: ${line}`);
        if (c === '"') break;
        if (c === '\\') {
          const e = line[i++];
          value += e === 'n' ? '\n' : e;
        } else value += c;
      }
      labels[key] = value;
      if (line[i] === ',') i++;
    }
    i++;
  }
  const rest = line.slice(i).trim().split(/\s+/);
  const value = parseValue(rest[0] ?? '');
  if (value === undefined) throw new Error(`bad value in: ${line}`);
  return { name, labels, value };
}

/** Go's ParseFloat, as Prometheus reads values: NaN and Inf in any case. */
function parseValue(v: string): number | undefined {
  const lower = v.toLowerCase();
  if (lower === 'nan') return NaN;
  if (lower === '+inf' || lower === 'inf') return Infinity;
  if (lower === '-inf') return -Infinity;
  const n = Number(v);
  return v === '' || Number.isNaN(n) ? undefined : n;
}

/** Samples named `name` whose labels include every pair of `labels`. */
export function samplesOf(
  e: Exposition,
  name: string,
  labels: Record<string, string> = {},
): Sample[] {
  return e.samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
}

/**
 * The value of the one sample named `name` with exactly these labels (no more, no fewer);
 * `undefined` when there is none (a labelled series that was never touched).
 */
export function valueOf(
  e: Exposition,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const want = Object.keys(labels).length;
  const found = samplesOf(e, name, labels).filter((s) => Object.keys(s.labels).length === want);
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} with those labels`);
  return found[0]?.value;
}

/** Like valueOf, with an absent series read as 0 (a counter that has not counted yet). */
export function counterOf(e: Exposition, name: string, labels: Record<string, string>): number {
  return valueOf(e, name, labels) ?? 0;
}

/** Sum of every sample named `name`. */
export function sumOf(e: Exposition, name: string): number {
  return e.samples.filter((s) => s.name === name).reduce((n, s) => n + s.value, 0);
}
