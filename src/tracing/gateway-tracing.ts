import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';

import {
  type Attributes,
  type Context,
  createContextKey,
  defaultTextMapGetter,
  defaultTextMapSetter,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
  type Tracer,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import type * as OtlpHttp from '@opentelemetry/exporter-trace-otlp-http';
import type * as OtlpProto from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  type Sampler,
  type SamplingResult,
  type SpanExporter,
  TraceIdRatioBasedSampler,
} from '@opentelemetry/sdk-trace-base';

import type { Env } from '../config/env-substitution';

declare module '../common/request-context' {
  interface RequestContext {
    /** The call's SERVER span (tracing on only). */
    span?: Span;
    /** Its context: the parent of the call's CLIENT spans. */
    traceContext?: Context;
  }
}

/** What tracing needs from the environment (contract, Tracing). */
export interface TracingSettings {
  readonly serviceName: string;
  readonly tracesUrl: string;
  readonly protocol: 'http/protobuf' | 'http/json';
  readonly headers: Record<string, string>;
  readonly sampler: Sampler;
  /** What decides for a parent from an untrusted peer: the sampler's root. */
  readonly rootSampler: Sampler;
  readonly scheduledDelayMillis: number | undefined;
}

export type TracingConfig =
  | { readonly ok: true; readonly settings: TracingSettings | undefined }
  | { readonly ok: false; readonly problem: string };

/**
 * Tracing is on only when an OTLP endpoint is set (unlike the SDK's own default), and never
 * with OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none.
 */
export function readTracingConfig(env: Env): TracingConfig {
  const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT;
  if (!endpoint) return { ok: true, settings: undefined };
  if ((env.OTEL_SDK_DISABLED ?? '').trim().toLowerCase() === 'true') {
    return { ok: true, settings: undefined };
  }
  const exporters = (env.OTEL_TRACES_EXPORTER ?? 'otlp').split(',').map((s) => s.trim());
  if (exporters.includes('none')) return { ok: true, settings: undefined };
  const protocol =
    env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL || env.OTEL_EXPORTER_OTLP_PROTOCOL || 'http/protobuf';
  if (protocol !== 'http/protobuf' && protocol !== 'http/json') {
    return {
      ok: false,
      problem: `OTEL_EXPORTER_OTLP_PROTOCOL: ${protocol} is not supported; use http/protobuf or http/json`,
    };
  }
  // The signal-specific endpoint is used as given; the general one gets /v1/traces.
  const tracesUrl = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
    ? endpoint
    : `${endpoint.replace(/\/+$/, '')}/v1/traces`;
  try {
    new URL(tracesUrl);
  } catch {
    return { ok: false, problem: `OTEL_EXPORTER_OTLP_ENDPOINT: ${endpoint} is not a URL` };
  }
  const samplers = samplerFrom(env.OTEL_TRACES_SAMPLER, env.OTEL_TRACES_SAMPLER_ARG);
  if (typeof samplers === 'string') return { ok: false, problem: samplers };
  const delay = Number(env.OTEL_BSP_SCHEDULE_DELAY);
  return {
    ok: true,
    settings: {
      serviceName: env.OTEL_SERVICE_NAME || 'api-gateway',
      tracesUrl,
      protocol,
      headers: parseHeaders(
        env.OTEL_EXPORTER_OTLP_TRACES_HEADERS || env.OTEL_EXPORTER_OTLP_HEADERS || '',
      ),
      sampler: samplers.sampler,
      rootSampler: samplers.root,
      scheduledDelayMillis: Number.isFinite(delay) && delay >= 0 ? delay : undefined,
    },
  };
}

/** Client-sent sampling decisions count only from peers inside trustProxy. */
const UNTRUSTED_PARENT = createContextKey('gateway untrusted parent');

/**
 * The configured sampler, except that a parent from an untrusted peer is continued (same
 * trace-id) without its sampled flag deciding: the root sampler's ratio does.
 */
class GatewaySampler implements Sampler {
  constructor(
    private readonly configured: Sampler,
    private readonly root: Sampler,
  ) {}

  shouldSample(
    context: Context,
    traceId: string,
    name: string,
    kind: SpanKind,
    attributes: Attributes,
    links: [],
  ): SamplingResult {
    const untrusted = context.getValue(UNTRUSTED_PARENT) === true;
    const s = untrusted ? this.root : this.configured;
    return s.shouldSample(context, traceId, name, kind, attributes, links);
  }

  toString(): string {
    return `GatewaySampler{${this.configured.toString()}}`;
  }
}

/** The configured sampler and its root (the decision without a trusted parent). */
function samplerFrom(
  name: string | undefined,
  arg: string | undefined,
): { sampler: Sampler; root: Sampler } | string {
  const ratio = arg === undefined || arg === '' ? 1 : Number(arg);
  if (!Number.isFinite(ratio) || ratio < 0 || ratio > 1) {
    return 'OTEL_TRACES_SAMPLER_ARG: must be a number from 0 to 1';
  }
  const chosen = name ?? 'parentbased_always_on';
  const kind = chosen.replace(/^parentbased_/, '');
  const root =
    kind === 'always_on'
      ? new AlwaysOnSampler()
      : kind === 'always_off'
        ? new AlwaysOffSampler()
        : kind === 'traceidratio'
          ? new TraceIdRatioBasedSampler(ratio)
          : undefined;
  if (!root) {
    return `OTEL_TRACES_SAMPLER: ${name} is not supported (always_on, always_off, traceidratio, parentbased_*)`;
  }
  const sampler = chosen.startsWith('parentbased_') ? new ParentBasedSampler({ root }) : root;
  return { sampler, root };
}

/** `k1=v1,k2=v2` (values URL-encoded), as the OTLP exporter spec says. */
function parseHeaders(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of text.split(',')) {
    const i = pair.indexOf('=');
    if (i <= 0) continue;
    try {
      out[decodeURIComponent(pair.slice(0, i).trim())] = decodeURIComponent(
        pair.slice(i + 1).trim(),
      );
    } catch {
      // a malformed pair is skipped, as the SDK does
    }
  }
  return out;
}

const propagator = new W3CTraceContextPropagator();

/**
 * The gateway's tracer: a SERVER span per proxied call, a CLIENT span per upstream attempt,
 * W3C Trace Context in and out. Built only when tracing is on; otherwise nothing of this
 * runs on the request path (callers check `ctx.span`).
 */
export class GatewayTracer {
  private readonly provider: BasicTracerProvider;
  private readonly tracer: Tracer;

  constructor(settings: TracingSettings) {
    const exporter = makeExporter(settings);
    this.provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': settings.serviceName }),
      sampler: new GatewaySampler(settings.sampler, settings.rootSampler),
      spanProcessors: [
        new BatchSpanProcessor(exporter, {
          ...(settings.scheduledDelayMillis !== undefined
            ? { scheduledDelayMillis: settings.scheduledDelayMillis }
            : {}),
        }),
      ],
    });
    this.tracer = this.provider.getTracer('api-gateway');
  }

  /** The SERVER span of a call, continuing the client's traceparent when it sent one. */
  startServer(req: IncomingMessage, peerTrusted: boolean): { span: Span; context: Context } {
    let parent = propagator.extract(ROOT_CONTEXT, req.headers, defaultTextMapGetter);
    if (!peerTrusted && trace.getSpanContext(parent)) {
      parent = parent.setValue(UNTRUSTED_PARENT, true);
    }
    const method = req.method ?? 'GET';
    const span = this.tracer.startSpan(
      method,
      { kind: SpanKind.SERVER, attributes: { 'http.request.method': method } },
      parent,
    );
    return { span, context: trace.setSpan(parent, span) };
  }

  /** A CLIENT span for one upstream attempt, and the headers that carry it upstream. */
  startClient(
    parent: Context,
    method: string,
    target: { readonly label: string; readonly hostname: string; readonly port: number },
  ): { span: Span; headers: OutgoingHttpHeaders } {
    const span = this.tracer.startSpan(
      method,
      {
        kind: SpanKind.CLIENT,
        attributes: {
          'http.request.method': method,
          'server.address': target.hostname,
          'server.port': target.port,
          'gateway.target': target.label,
        },
      },
      parent,
    );
    const headers: OutgoingHttpHeaders = {};
    propagator.inject(trace.setSpan(parent, span), headers, defaultTextMapSetter);
    return { span, headers };
  }

  async shutdown(): Promise<void> {
    await this.provider.forceFlush();
    await this.provider.shutdown();
  }
}

/** Ends a CLIENT span by the outcome of its attempt (OpenTelemetry HTTP conventions). */
export function endClientSpan(span: Span, status: number | undefined, error?: string): void {
  if (status !== undefined) span.setAttribute('http.response.status_code', status);
  if (error !== undefined) {
    span.setAttribute('error.type', error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: error });
  } else if (status !== undefined && status >= 400) {
    span.setAttribute('error.type', String(status));
    span.setStatus({ code: SpanStatusCode.ERROR });
  }
  span.end();
}

/** Ends a SERVER span once the response is done. */
export function endServerSpan(
  span: Span,
  facts: {
    readonly method: string;
    readonly route: string | undefined;
    readonly status: number;
    readonly path: string;
    readonly clientIp: string;
    readonly service: string | undefined;
    readonly target: string | undefined;
  },
): void {
  if (facts.route !== undefined) {
    span.updateName(`${facts.method} ${facts.route}`);
    span.setAttribute('http.route', facts.route);
  }
  span.setAttribute('http.response.status_code', facts.status);
  span.setAttribute('url.path', facts.path.slice(0, 256));
  span.setAttribute('client.address', facts.clientIp);
  if (facts.service !== undefined) span.setAttribute('gateway.service', facts.service);
  if (facts.target !== undefined) span.setAttribute('gateway.target', facts.target);
  if (facts.status >= 500) {
    span.setAttribute('error.type', String(facts.status));
    span.setStatus({ code: SpanStatusCode.ERROR });
  }
  span.end();
}

function makeExporter(settings: TracingSettings): SpanExporter {
  const config = { url: settings.tracesUrl, headers: settings.headers };
  // Only the chosen exporter is loaded (the memory target: no unused encoder in the heap).
  if (settings.protocol === 'http/json') {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const m = require('@opentelemetry/exporter-trace-otlp-http') as typeof OtlpHttp;
    return new m.OTLPTraceExporter(config);
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const m = require('@opentelemetry/exporter-trace-otlp-proto') as typeof OtlpProto;
  return new m.OTLPTraceExporter(config);
}
