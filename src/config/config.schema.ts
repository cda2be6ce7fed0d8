// The one zod schema of the gateway's configuration: its types and defaults come from here.
// Every key of ../shared/CONTRACT.md is validated here, whether or not the capability that
// uses it has landed yet (docs/configuration.md says which keys take effect when).
import { isIP } from 'node:net';

import { z } from 'zod';

import { routePatternProblems } from '../common/route-pattern';
import { parseSize } from './size';

/** Values that came through `${VAR}` substitution are strings: accept digit strings for integers. */
const int = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.preprocess(
    (v) => (typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v) : v),
    z.number().int().min(min).max(max),
  );

const bool = () =>
  z.preprocess((v) => (v === 'true' ? true : v === 'false' ? false : v), z.boolean());

const size = () =>
  z.union([z.number().int().min(1), z.string()]).transform((v, ctx) => {
    const bytes = parseSize(v);
    if (bytes === undefined) {
      ctx.addIssue({ code: 'custom', message: 'must be a size such as 512kb or 1mb (b, kb, mb)' });
      return z.NEVER;
    }
    return bytes;
  });

const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

const method = z.preprocess(
  (v) => (typeof v === 'string' ? v.toUpperCase() : v),
  z.enum(HTTP_METHODS),
);

const cidr = z.string().refine(
  (v) => {
    const [addr, bits, extra] = v.split('/');
    const family = isIP(addr ?? '');
    if (family === 0 || extra !== undefined) return false;
    if (bits === undefined) return true;
    if (!/^\d+$/.test(bits)) return false;
    return Number(bits) <= (family === 4 ? 32 : 128);
  },
  { message: 'must be an IP address or CIDR such as 10.0.0.0/8' },
);

/** Sent upstream in X-User-Roles (comma-separated): visible ASCII, no commas. */
const role = z.string().regex(/^[\x21-\x2b\x2d-\x7e]+$/, 'must be visible ASCII without commas');

/** One entry of a `plugins:` list; the options are checked by the plugin's own schema. */
const pluginRef = z.strictObject({
  name: z.string().min(1),
  options: z.unknown().optional(),
});
const pluginList = z.array(pluginRef).default([]);

const window = z.strictObject({ limit: int(1), windowSeconds: int(1, 86_400) });

const serverSchema = z
  .strictObject({
    requestTimeoutMs: int(1).default(30_000),
    bodyLimit: size().default(1024 * 1024),
    shutdownTimeoutMs: int(0).default(30_000),
    trustProxy: z.union([z.literal(false), z.array(cidr)]).default(false),
    clientHeadersTimeoutMs: int(1).default(10_000),
    clientRequestTimeoutMs: int(0).default(300_000),
    keepAliveTimeoutMs: int(0).default(65_000),
    maxHeaderSize: size().default(16 * 1024),
    maxUrlLength: size().default(8 * 1024),
    // reject: %2F, %5C or ; in a proxied path is 400, for backends that decode them.
    ambiguousPaths: z.enum(['keep', 'reject']).default('keep'),
    /** Proxied calls in flight (arrival to response head) past which a call is shed: 503. */
    maxConcurrentRequests: int(0).default(1000),
    /** An HTTPS listener on HTTPS_PORT (absent: none). Files relative to the config folder. */
    tls: z
      .strictObject({
        certFile: z.string().min(1),
        keyFile: z.string().min(1),
        minVersion: z.enum(['TLSv1.2', 'TLSv1.3']).default('TLSv1.2'),
      })
      .optional(),
    /** The plain listener also accepts HTTP/2 with prior knowledge (h2c); read at start. */
    http2Cleartext: bool().default(false),
  })
  .prefault({});

const corsSchema = z.strictObject({
  origins: z.array(z.string().min(1)).min(1),
  credentials: bool().default(false),
  methods: z.array(method).default(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE']),
  allowedHeaders: z
    .array(z.string().min(1))
    .default(['Authorization', 'Content-Type', 'X-API-Key', 'X-Request-ID']),
  exposedHeaders: z
    .array(z.string().min(1))
    .default([
      'X-Request-ID',
      'X-RateLimit-Limit',
      'X-RateLimit-Remaining',
      'X-RateLimit-Reset',
      'RateLimit',
      'RateLimit-Policy',
      'Retry-After',
    ]),
  maxAgeSeconds: int(0).default(600),
});

const apiKeySchema = z
  .strictObject({
    // Sent upstream as X-User-ID.
    name: z.string().regex(/^[\x20-\x7e]+$/, 'must be printable ASCII'),
    key: z.string().optional(),
    sha256: z
      .string()
      .regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex characters')
      .optional(),
    roles: z.array(role).default([]),
  })
  .superRefine((k, ctx) => {
    if ((k.key === undefined) === (k.sha256 === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'needs exactly one of key or sha256' });
    }
  });

const authSchema = z
  .strictObject({
    jwt: z
      .strictObject({
        algorithms: z
          .array(z.enum(['HS256', 'RS256']))
          .min(1)
          .default(['HS256']),
        // RFC 7518 §3.2: an HS256 key at least as long as the hash (32 bytes); empty keeps
        // its meaning (a random per-process key).
        secret: z
          .string()
          .refine((v) => v === '' || Buffer.byteLength(v, 'utf8') >= 32, {
            message: 'must be at least 32 bytes (RFC 7518 §3.2), or empty for a random key',
          })
          .optional(),
        publicKeyFile: z.string().min(1).optional(),
        jwksUri: z.url({ protocol: /^https?$/ }).optional(),
        issuer: z.string().optional(),
        audience: z.string().optional(),
        requireExp: bool().default(true),
        clockToleranceSeconds: int(0, 3600).default(0),
      })
      .prefault({}),
    apiKeys: z
      .strictObject({
        header: z
          .string()
          .regex(/^[A-Za-z0-9-]+$/, 'must be a header name')
          .default('X-API-Key'),
        keys: z.array(apiKeySchema).default([]),
      })
      .prefault({}),
  })
  .prefault({});

const oauthClientSchema = z
  .strictObject({
    clientId: z.string().min(1),
    clientSecret: z.string().optional(),
    secretHash: z
      .string()
      .regex(/^(\$2[aby]\$\d{2}\$.{53}|\$argon2id\$.+)$/, 'must be a bcrypt or argon2id hash')
      .optional(),
    scopes: z
      .array(z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/, 'must be a scope token'))
      .default([]),
    roles: z.array(role).default([]),
  })
  .superRefine((c, ctx) => {
    if ((c.clientSecret === undefined) === (c.secretHash === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'needs exactly one of clientSecret or secretHash' });
    }
  });

const oauthSchema = z
  .strictObject({
    tokenTtlSeconds: int(1, 86_400 * 30).default(3600),
    signing: z
      .discriminatedUnion('algorithm', [
        z.strictObject({ algorithm: z.literal('HS256') }),
        z.strictObject({ algorithm: z.literal('RS256'), privateKeyFile: z.string().min(1) }),
      ])
      .default({ algorithm: 'HS256' }),
    clients: z.array(oauthClientSchema).default([]),
  })
  .prefault({});

const rateLimitSchema = z
  .strictObject({
    enabled: bool().default(true),
    store: z.enum(['memory', 'redis']).default('memory'),
    redisKeyPrefix: z.string().default('gw:'),
    onStoreError: z.enum(['allow', 'deny']).default('allow'),
    tiers: z
      .strictObject({
        public: window.default({ limit: 100, windowSeconds: 60 }),
        authenticated: window.default({ limit: 1000, windowSeconds: 60 }),
        admin: window.default({ limit: 10_000, windowSeconds: 60 }),
      })
      .prefault({}),
    tokenEndpoint: window.default({ limit: 10, windowSeconds: 60 }),
    // Failed client authentications at /oauth/*, per client IP; limit 0 turns it off.
    clientAuthFailures: z
      .strictObject({ limit: int(0), windowSeconds: int(1, 86_400) })
      .default({ limit: 10, windowSeconds: 60 }),
    // Per-IP keys take the whole IPv4 address and this prefix of an IPv6 one.
    ipv6Prefix: int(1, 128).default(64),
  })
  .prefault({});

export const gatewayFileSchema = z
  .strictObject({
    server: serverSchema,
    cors: corsSchema.optional(),
    auth: authSchema,
    oauth: oauthSchema,
    rateLimit: rateLimitSchema,
    plugins: z
      .strictObject({
        // Code plugins, relative to the config folder; loaded again on every reload.
        files: z.array(z.string().min(1)).default([]),
        global: pluginList,
      })
      .prefault({}),
    discovery: z
      .strictObject({
        // host:port of DNS servers (IPv6 as [addr]:port); absent: the system's resolvers.
        resolvers: z
          .array(
            z
              .string()
              .regex(
                /^(\d{1,3}(\.\d{1,3}){3}|\[[0-9a-fA-F:.]+\])(:\d{1,5})?$/,
                'must be an IP address with an optional :port ([v6]:port for IPv6)',
              ),
          )
          .min(1)
          .optional(),
        refreshSeconds: int(1, 86_400).default(30),
      })
      .prefault({}),
  })
  .prefault({});

const healthCheckSchema = z.strictObject({
  path: z.string().startsWith('/', 'must start with /').default('/health'),
  intervalMs: int(100).default(10_000),
  timeoutMs: int(1).default(2000),
  healthyThreshold: int(1).default(2),
  unhealthyThreshold: int(1).default(3),
});

/** `_service._proto.name`: what an SRV lookup takes (RFC 2782). */
const SRV_NAME = /^_[A-Za-z0-9-]+\._(tcp|udp)\.([A-Za-z0-9-]+\.)*[A-Za-z0-9-]+\.?$/;

const targetSchema = z
  .strictObject({
    url: z
      .url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' })
      .refine((u) => !/[?#]/.test(u), { message: 'must not have a query or fragment' })
      .optional(),
    // Each A/AAAA address of the url's host is a target of its own (Service discovery).
    discovery: z.enum(['dns']).optional(),
    // Instead of url: SRV records give host, port and weight.
    srv: z
      .string()
      .regex(SRV_NAME, 'must be an SRV name like _http._tcp.orders.service.consul')
      .optional(),
    weight: int(1, 1000).optional(),
  })
  .superRefine((t, ctx) => {
    if ((t.url === undefined) === (t.srv === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['url'], message: 'give url or srv, exactly one' });
    }
    if (t.srv !== undefined && t.discovery !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['discovery'],
        message: 'srv targets are always discovered',
      });
    }
    if (t.srv !== undefined && t.weight !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['weight'],
        message: 'srv targets take their weights from the SRV records',
      });
    }
  })
  .transform((t) => ({ ...t, weight: t.weight ?? 1 }));

const routeRateLimitSchema = z.union([
  z.literal(false),
  z.strictObject({
    limit: int(1),
    windowSeconds: int(1, 86_400),
    scope: z.enum(['ip', 'user', 'endpoint']).default('ip'),
  }),
]);

/** The path and rewrite rules live in common/route-pattern (the route table uses them too). */
const routePath = z.string();

const routeSchema = z
  .strictObject({
    path: routePath,
    rewrite: z.string().optional(),
    methods: z.array(method).min(1).optional(),
    auth: z.enum(['none', 'jwt', 'apiKey', 'any']).default('none'),
    roles: z.array(z.string().min(1)).default([]),
    scopes: z.array(z.string().min(1)).default([]),
    rateLimit: routeRateLimitSchema.optional(),
    plugins: pluginList,
    /** Forward `Upgrade: websocket` requests (HTTP/1.1); any other upgrade is 400. */
    websocket: z.boolean().optional(),
    /** Browsers: the JWT may come as the `access_token` query parameter of the upgrade. */
    websocketQueryToken: z.boolean().optional(),
  })
  .superRefine((r, ctx) => {
    if (r.websocketQueryToken && !r.websocket) {
      ctx.addIssue({
        code: 'custom',
        path: ['websocketQueryToken'],
        message: 'needs websocket: true',
      });
    }
    if (r.websocketQueryToken && r.auth !== 'jwt' && r.auth !== 'any') {
      ctx.addIssue({
        code: 'custom',
        path: ['websocketQueryToken'],
        message: 'needs auth jwt or any (the token is a JWT)',
      });
    }
    if (r.auth === 'none' && (r.roles.length > 0 || r.scopes.length > 0)) {
      ctx.addIssue({
        code: 'custom',
        path: [r.roles.length > 0 ? 'roles' : 'scopes'],
        message: 'needs auth jwt, apiKey or any (auth is none)',
      });
    }
    for (const p of routePatternProblems(r.path, r.rewrite)) {
      ctx.addIssue({ code: 'custom', path: [p.field], message: p.message });
    }
  });

export const serviceFileSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'must be lowercase letters, digits, - or _'),
  targets: z.array(targetSchema).min(1),
  loadBalancing: z.enum(['round-robin', 'weighted']).default('round-robin'),
  timeoutMs: int(1).optional(),
  /** https:// targets: the CA to verify them against, and a client certificate (mTLS). */
  tls: z
    .strictObject({
      caFile: z.string().min(1).optional(),
      certFile: z.string().min(1).optional(),
      keyFile: z.string().min(1).optional(),
    })
    .superRefine((t, ctx) => {
      if ((t.certFile === undefined) !== (t.keyFile === undefined)) {
        ctx.addIssue({
          code: 'custom',
          path: ['certFile'],
          message: 'give certFile and keyFile together',
        });
      }
    })
    .optional(),
  /** A response body that sends nothing for this long is cut (the head has been passed on). */
  streamIdleTimeoutMs: int(1).default(300_000),
  healthCheck: healthCheckSchema.optional(),
  circuitBreaker: z
    .strictObject({
      errorThresholdPercentage: int(1, 100).default(50),
      rollingWindowMs: int(100).default(60_000),
      resetTimeoutMs: int(100).default(30_000),
      volumeThreshold: int(1).default(10),
    })
    .prefault({}),
  plugins: pluginList,
  routes: z.array(routeSchema).min(1),
});

export type GatewaySettings = z.output<typeof gatewayFileSchema>;
export type ServerSettings = GatewaySettings['server'];
export type CorsSettings = NonNullable<GatewaySettings['cors']>;
export type OAuthClientSettings = GatewaySettings['oauth']['clients'][number];
export type RateLimitSettings = GatewaySettings['rateLimit'];
export type ServiceSettings = z.output<typeof serviceFileSchema>;
export type RouteSettings = ServiceSettings['routes'][number];
export type HealthCheckSettings = NonNullable<ServiceSettings['healthCheck']>;
export type CircuitBreakerSettings = ServiceSettings['circuitBreaker'];
