// The per-call object access and request hooks receive, built only on routes with plugins.
import type { IncomingMessage } from 'node:http';

import type { GatewayRequest, RequestContext } from '../common/request-context';
import { requestHeaderEditor } from './header-editor';
import type { HeaderEditor, PluginCall, PluginIdentity } from './plugin-api';
import { PluginRejection } from './plugin-errors';

declare module '../common/request-context' {
  interface RequestContext {
    /** A body a plugin read (request-validation): sent upstream instead of the stream. */
    bufferedBody?: Buffer;
    /** The plugin view of this call, once built. */
    pluginCall?: ProxiedCall;
  }
}

/** Identity as the auth module leaves it on the request context. */
interface AuthIdentity {
  readonly subject: string;
  readonly roles: readonly string[];
  readonly scopes: readonly string[] | undefined;
  readonly method: 'jwt' | 'apiKey';
  readonly claims?: Readonly<Record<string, unknown>>;
}

export class ProxiedCall implements PluginCall {
  readonly upstream: { readonly headers: HeaderEditor };
  private reading: Promise<Buffer> | undefined;

  constructor(
    private readonly req: IncomingMessage,
    private readonly ctx: RequestContext,
    readonly path: string,
  ) {
    this.upstream = { headers: requestHeaderEditor(req.headers) };
  }

  static of(req: IncomingMessage): ProxiedCall {
    const ctx = (req as GatewayRequest).gateway;
    ctx.pluginCall ??= new ProxiedCall(req, ctx, ctx.path ?? req.url ?? '/');
    return ctx.pluginCall;
  }

  get method(): string {
    return this.req.method ?? 'GET';
  }
  get query(): string {
    const q = this.ctx.query ?? '';
    return q.startsWith('?') ? q.slice(1) : q;
  }
  get headers() {
    return this.req.headers;
  }
  get clientIp(): string {
    return this.ctx.clientIp;
  }
  get requestId(): string {
    return this.ctx.id;
  }
  get route() {
    return { service: this.ctx.serviceLabel, pattern: this.ctx.routeLabel };
  }
  get identity(): PluginIdentity | null {
    const i = (this.ctx as { identity?: AuthIdentity }).identity;
    if (!i) return null;
    return {
      kind: i.method,
      id: i.subject,
      roles: i.roles,
      scopes: i.scopes ?? [],
      claims: i.claims ?? {},
    };
  }

  reject(
    status: number,
    message: string,
    headers?: Readonly<Record<string, string>>,
    problems?: readonly string[],
  ): never {
    throw new PluginRejection(status, message, headers, problems?.slice(0, 20).map(String));
  }

  /**
   * The whole request body, at most `maxBytes` (else 413, at once when Content-Length says
   * so). The body read is what the backend then receives, byte for byte.
   */
  readBody(maxBytes: number): Promise<Buffer> {
    this.reading ??= readAll(this.req, maxBytes).then((body) => {
      this.ctx.bufferedBody = body;
      const h = this.req.headers;
      delete h['transfer-encoding'];
      if (body.length > 0 || h['content-length'] !== undefined) {
        h['content-length'] = String(body.length);
      }
      return body;
    });
    return this.reading;
  }
}

function tooLarge(): PluginRejection {
  return new PluginRejection(413, 'request body is larger than the limit', { Connection: 'close' });
}

function readAll(req: IncomingMessage, max: number): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > max) return Promise.reject(tooLarge());
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let seen = 0;
    const onData = (c: Buffer) => {
      seen += c.length;
      if (seen > max) {
        cleanup();
        req.pause();
        reject(tooLarge());
        return;
      }
      chunks.push(c);
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks, seen));
    };
    const onError = (e: Error) => {
      cleanup();
      reject(e);
    };
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onError as () => void);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}
