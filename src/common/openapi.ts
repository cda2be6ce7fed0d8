// The OpenAPI description of the gateway's own endpoints: the bodies they answer (as schema
// components, registered in the document by admin/openapi.ts) and decorators that attach
// them, so each controller states its own responses next to its handlers.
import { applyDecorators } from '@nestjs/common';
import { ApiBody, ApiConsumes, ApiResponse } from '@nestjs/swagger';
import type {
  ReferenceObject,
  SchemaObject,
} from '@nestjs/swagger/dist/interfaces/open-api-spec.interface';

const str: SchemaObject = { type: 'string' };
const int: SchemaObject = { type: 'integer' };
const strings: SchemaObject = { type: 'array', items: str };
const anyObject: SchemaObject = { type: 'object', additionalProperties: true };

/** The schema components of the document, by name. */
export const OPENAPI_SCHEMAS: Record<string, SchemaObject> = {
  ErrorBody: {
    type: 'object',
    description: "The gateway's error body (every error it makes itself, /oauth/* aside).",
    required: ['statusCode', 'error', 'message', 'requestId'],
    properties: {
      statusCode: { ...int, example: 403 },
      error: { ...str, example: 'Forbidden' },
      message: { ...str, example: 'role admin required' },
      requestId: { ...str, example: '2b7c9e4f-1a3d-4c5e-9f0a-6b8d7e1c2a3f' },
      problems: { ...strings, description: 'Config reload only: one line per problem.' },
    },
  },
  OAuthError: {
    type: 'object',
    description: 'RFC 6749 §5.2 error body of the /oauth/* endpoints.',
    required: ['error'],
    properties: {
      error: {
        type: 'string',
        enum: ['invalid_request', 'invalid_client', 'unsupported_grant_type', 'invalid_scope'],
      },
      error_description: str,
    },
  },
  HealthBody: {
    type: 'object',
    description: 'The Terminus body, on 200 and on 503 alike.',
    required: ['status'],
    properties: {
      status: { type: 'string', enum: ['ok', 'error', 'shutting_down'] },
      info: anyObject,
      error: anyObject,
      details: anyObject,
    },
  },
  TokenResponse: {
    type: 'object',
    required: ['access_token', 'token_type', 'expires_in', 'scope'],
    properties: {
      access_token: { ...str, description: 'A signed JWT (HS256 or RS256).' },
      token_type: { type: 'string', enum: ['Bearer'] },
      expires_in: { ...int, example: 3600 },
      scope: { ...str, example: 'orders:read orders:write' },
    },
  },
  Introspection: {
    type: 'object',
    description: 'RFC 7662: `{"active": false}` and nothing more for any token not active.',
    required: ['active'],
    properties: {
      active: { type: 'boolean' },
      scope: str,
      client_id: str,
      sub: str,
      exp: int,
      iat: int,
      iss: str,
      aud: { oneOf: [str, strings] },
      token_type: { type: 'string', enum: ['Bearer'] },
    },
  },
  Jwks: {
    type: 'object',
    required: ['keys'],
    properties: {
      keys: {
        type: 'array',
        description: 'Each RS256 signing key; empty when tokens are signed HS256.',
        items: {
          type: 'object',
          required: ['kty', 'kid'],
          properties: { kty: str, kid: str, use: str, alg: str, n: str, e: str },
        },
      },
    },
  },
  GatewayStatus: {
    type: 'object',
    required: ['version', 'uptimeSeconds', 'config', 'counts'],
    properties: {
      version: str,
      worker: { ...int, description: 'the worker that answered (GATEWAY_WORKERS > 1 only)' },
      uptimeSeconds: int,
      config: {
        type: 'object',
        required: ['revision', 'loadedAt'],
        properties: { revision: str, loadedAt: { type: 'string', format: 'date-time' } },
      },
      counts: {
        type: 'object',
        required: ['services', 'routes', 'targets'],
        properties: { services: int, routes: int, targets: int },
      },
    },
  },
  ServiceState: {
    type: 'object',
    required: ['name', 'loadBalancing', 'timeoutMs', 'circuit', 'targets', 'discovery'],
    properties: {
      name: str,
      loadBalancing: str,
      timeoutMs: int,
      circuit: {
        type: 'object',
        required: ['state', 'errorRate'],
        properties: {
          state: { type: 'string', enum: ['closed', 'half-open', 'open'] },
          errorRate: { type: 'number' },
        },
      },
      targets: {
        type: 'array',
        items: {
          type: 'object',
          required: ['target', 'url', 'weight', 'healthy', 'source'],
          properties: {
            target: str,
            url: str,
            weight: int,
            healthy: { type: 'boolean' },
            source: str,
          },
        },
      },
      discovery: { type: 'array', items: anyObject },
    },
  },
  RouteEntry: {
    type: 'object',
    required: ['route', 'service', 'file', 'methods', 'auth'],
    properties: {
      route: str,
      service: str,
      file: str,
      methods: { ...strings, nullable: true, description: 'null: every method' },
      rewrite: { ...anyObject, nullable: true },
      auth: { type: 'string', enum: ['none', 'jwt', 'apiKey', 'any'] },
      roles: strings,
      scopes: strings,
      rateLimit: { ...anyObject, nullable: true },
    },
  },
  Explanation: {
    type: 'object',
    required: ['status', 'match', 'candidates'],
    properties: {
      status: { type: 'integer', enum: [200, 400, 404, 405] },
      match: {
        type: 'object',
        nullable: true,
        required: ['service', 'route', 'upstreamPath', 'auth', 'methods', 'targets'],
        properties: {
          service: str,
          route: str,
          upstreamPath: str,
          auth: str,
          methods: { ...strings, nullable: true },
          targets: {
            type: 'array',
            items: {
              type: 'object',
              required: ['target', 'source', 'healthy'],
              properties: { target: str, source: str, healthy: { type: 'boolean' } },
            },
          },
        },
      },
      candidates: {
        type: 'array',
        items: {
          type: 'object',
          required: ['route', 'service', 'reason'],
          properties: { route: str, service: str, reason: str },
        },
      },
    },
  },
  ReloadResult: {
    type: 'object',
    required: ['revision', 'changed'],
    properties: { revision: str, changed: strings },
  },
  ClientCredentialsForm: {
    type: 'object',
    description:
      'client_secret_post: client_id and client_secret here; client_secret_basic: in the Authorization header instead.',
    required: ['grant_type'],
    properties: {
      grant_type: { type: 'string', enum: ['client_credentials'] },
      scope: { ...str, description: 'Space-separated; omitted = all the client’s scopes.' },
      client_id: { ...str, maxLength: 256 },
      client_secret: { ...str, maxLength: 256 },
    },
  },
  TokenForm: {
    type: 'object',
    required: ['token'],
    properties: {
      token: str,
      token_type_hint: { type: 'string', enum: ['access_token', 'refresh_token'] },
      client_id: { ...str, maxLength: 256 },
      client_secret: { ...str, maxLength: 256 },
    },
  },
};

export type OpenApiSchemaName = keyof typeof OPENAPI_SCHEMAS;

export const schemaRef = (name: OpenApiSchemaName): ReferenceObject => ({
  $ref: `#/components/schemas/${name}`,
});

const WHY: Record<number, string> = {
  400: 'Bad request: a malformed body, form or query',
  401: 'No or bad credentials (WWW-Authenticate says which are accepted)',
  403: 'Valid credentials without the role or scope',
  404: 'Not here (with METRICS_PORT set, /metrics is served on that port only)',
  413: 'Body over 64 kb',
  415: 'Unsupported media type or charset',
  422: 'The new config is invalid: `problems` has one line per problem; the running one stays',
  429: 'Rate limit hit: Retry-After, X-RateLimit-* and RateLimit-* headers',
  503:
    'The token revocation store (Redis) is unreachable with onStoreError: deny; at /oauth/*, ' +
    'also too many hashed-secret checks waiting (`overloaded`, Retry-After: 1)',
};

/** Error responses in the gateway's error body. */
export function ApiGatewayErrors(...statuses: number[]): MethodDecorator & ClassDecorator {
  return applyDecorators(
    ...statuses.map((status) =>
      ApiResponse({ status, description: WHY[status], schema: schemaRef('ErrorBody') }),
    ),
  );
}

/** An /oauth/* endpoint: its form body and its RFC 6749 error responses. */
export function ApiOAuthForm(form: OpenApiSchemaName): MethodDecorator & ClassDecorator {
  return applyDecorators(
    ApiConsumes('application/x-www-form-urlencoded'),
    ApiBody({ schema: schemaRef(form) }),
    ApiResponse({
      status: 400,
      description: 'invalid_request, unsupported_grant_type or invalid_scope (RFC 6749 §5.2)',
      schema: schemaRef('OAuthError'),
    }),
    ApiResponse({
      status: 401,
      description: 'invalid_client: unknown client or wrong secret (a Basic challenge for Basic)',
      schema: schemaRef('OAuthError'),
    }),
    ApiGatewayErrors(413, 415, 429, 503),
  );
}
