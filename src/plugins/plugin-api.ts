// The plugin API: everything a plugin sees. A plugin imports types from here and nothing
// else of the gateway (an ESLint rule keeps it so for the built-ins).
import type { IncomingHttpHeaders } from 'node:http';

export { HOP_BY_HOP_HEADERS } from '../common/hop-by-hop';

export type PluginPhase = 'access' | 'request' | 'response';

/** Read and change a set of HTTP headers; names are case-insensitive. */
export interface HeaderEditor {
  get(name: string): string | string[] | undefined;
  set(name: string, value: string | number | readonly string[]): void;
  append(name: string, value: string): void;
  delete(name: string): void;
}

export interface PluginIdentity {
  readonly kind: 'jwt' | 'apiKey';
  readonly id: string;
  readonly roles: readonly string[];
  readonly scopes: readonly string[];
  /** The JWT's claims; `{}` for API keys. */
  readonly claims: Readonly<Record<string, unknown>>;
}

/** One proxied call as an `access` or `request` hook sees it. */
export interface PluginCall {
  readonly method: string;
  /** The normalised path the route table matched. */
  readonly path: string;
  /** The raw query string, without `?`; '' when there is none. */
  readonly query: string;
  /** The client's request headers, lower-case names (read-only). */
  readonly headers: Readonly<IncomingHttpHeaders>;
  readonly clientIp: string;
  readonly requestId: string;
  readonly route: { readonly service: string; readonly pattern: string };
  /** `null` on `auth: none` routes and always in `access`. */
  readonly identity: PluginIdentity | null;
  /** What will be sent upstream (request phase; in access it edits the same headers). */
  readonly upstream: { readonly headers: HeaderEditor };
  /**
   * Ends the call with this status (4xx or 5xx) and the gateway's error body; `problems`
   * (at most 20 lines) goes into the body as `"problems": [...]`, as request-validation does.
   */
  reject(
    status: number,
    message: string,
    headers?: Readonly<Record<string, string>>,
    problems?: readonly string[],
  ): never;
  /**
   * Reads the whole request body (request phase), at most `maxBytes` (else the call is
   * refused with 413). The body read is what the backend then receives, byte for byte.
   * Only a route whose plugin calls this buffers a body.
   */
  readBody(maxBytes: number): Promise<Buffer>;
}

/** The response head, before it is sent to the client. */
export interface PluginResponse {
  readonly status: number;
  readonly headers: HeaderEditor;
}

export type CallHook = (call: PluginCall) => void | Promise<void>;
export type ResponseHook = (call: PluginCall, response: PluginResponse) => void | Promise<void>;

/** What `create` returns: the hook, and optionally `close()` for reload and shutdown. */
export type PluginInstance<H> = H | (H & { close?(): void | Promise<void> });

export interface GatewayPluginBase<P extends PluginPhase, H> {
  /** Lower-case letters, digits and `-`; not a built-in's name. */
  readonly name: string;
  readonly phase: P;
  /** JSON Schema (draft 2020-12) that a route's `options` must satisfy. */
  readonly optionsSchema?: Readonly<Record<string, unknown>>;
  /** Called once per route that names the plugin, when the config loads. */
  create(options: unknown, context: PluginContext): PluginInstance<H>;
}

/** A plugin of each phase: a class implements one of these (`implements RequestPlugin`). */
export type AccessPlugin = GatewayPluginBase<'access', CallHook>;
export type RequestPlugin = GatewayPluginBase<'request', CallHook>;
export type ResponsePlugin = GatewayPluginBase<'response', ResponseHook>;

export type GatewayPlugin = AccessPlugin | RequestPlugin | ResponsePlugin;

/** What `create` may use beyond its options. */
export interface PluginContext {
  /** The config folder (absolute): resolve files named in options against it. */
  readonly configDir: string;
  /** `server.bodyLimit` in bytes. */
  readonly bodyLimit: number;
}

/**
 * Thrown by `create` for options its schema cannot express: reported as the config problem
 * `<file>: <where>.options.<path>: <message>` and the config is refused.
 */
export class PluginOptionsError extends Error {
  constructor(
    /** Below `options`, e.g. `allow[0]`; '' for the options themselves. */
    readonly path: string,
    message: string,
  ) {
    super(message);
  }
}
