// The process environment the gateway reads, validated once. Nothing outside the config
// module reads process.env.
import { availableParallelism } from 'node:os';

import { z } from 'zod';

/** The most GATEWAY_WORKERS accepts: more is a typo, not a machine. */
export const MAX_WORKERS = 64;

/** GATEWAY_WORKERS: `1` (default, no primary), a whole number, or `auto` (the cores). */
export const workersSchema = z.preprocess(
  (v) => {
    if (v === '' || v === undefined) return 1;
    if (v === 'auto') return Math.min(availableParallelism(), MAX_WORKERS);
    return typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v) : v;
  },
  z
    .number({ error: `must be a whole number from 1 to ${MAX_WORKERS}, or auto` })
    .int()
    .min(1, `must be a whole number from 1 to ${MAX_WORKERS}, or auto`)
    .max(MAX_WORKERS, `must be a whole number from 1 to ${MAX_WORKERS}, or auto`),
);

/** The worker count GATEWAY_WORKERS asks for; 1 when it is unset or not valid (start-up says why). */
export function workerCount(raw: Record<string, unknown>): number {
  const r = workersSchema.safeParse(raw.GATEWAY_WORKERS);
  return r.success ? r.data : 1;
}

const port = z.preprocess(
  (v) => (v === '' || v === undefined ? undefined : Number(v)),
  z.number().int().min(0).max(65_535),
);

export const runtimeEnvSchema = z
  .object({
    PORT: port.default(8080),
    HOST: z.string().min(1).default('0.0.0.0'),
    GATEWAY_CONFIG_DIR: z.string().min(1).default('./config'),
    LOG_LEVEL: z
      .preprocess(
        (v) => (v === '' ? undefined : v),
        z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).optional(),
      )
      .default('info'),
    LOG_FORMAT: z
      .preprocess((v) => (v === '' ? undefined : v), z.enum(['json', 'pretty']).optional())
      .default('json'),
    /** The HTTPS listener's port, when server.tls is set. */
    HTTPS_PORT: port.default(8081),
    /** Worker processes (node:cluster) on the same ports; 1 = this process serves. */
    GATEWAY_WORKERS: workersSchema,
    /** When set, /metrics is served only on this port (same HOST), not on PORT; 0 = any. */
    METRICS_PORT: z.preprocess(
      (v) => (v === '' || v === undefined ? undefined : Number(v)),
      z.number().int().min(0).max(65_535).optional(),
    ),
  })
  .refine(
    (e) => e.METRICS_PORT === undefined || e.METRICS_PORT === 0 || e.METRICS_PORT !== e.PORT,
    {
      message: 'must differ from PORT',
      path: ['METRICS_PORT'],
    },
  );

export type RuntimeEnv = z.output<typeof runtimeEnvSchema>;

/** Parses the runtime environment; throws one readable line per problem. */
export function parseRuntimeEnv(raw: Record<string, unknown>): RuntimeEnv {
  const r = runtimeEnvSchema.safeParse(raw);
  if (r.success) return r.data;
  const lines = r.error.issues.map((i) => `environment: ${i.path.join('.')}: ${i.message}`);
  throw new Error(lines.join('\n'));
}
