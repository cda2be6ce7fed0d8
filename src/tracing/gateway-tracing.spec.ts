import { readTracingConfig } from './gateway-tracing';

describe('readTracingConfig', () => {
  const on = (env: Record<string, string>) => readTracingConfig(env);

  it('is off without an OTLP endpoint, and with OTEL_SDK_DISABLED or the none exporter', () => {
    expect(on({})).toEqual({ ok: true, settings: undefined });
    expect(on({ OTEL_SERVICE_NAME: 'x' })).toEqual({ ok: true, settings: undefined });
    const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' };
    expect(on({ ...endpoint, OTEL_SDK_DISABLED: 'true' })).toEqual({
      ok: true,
      settings: undefined,
    });
    expect(on({ ...endpoint, OTEL_TRACES_EXPORTER: 'none' })).toEqual({
      ok: true,
      settings: undefined,
    });
  });

  it('takes the traces endpoint as given, and adds /v1/traces to the general one', () => {
    const a = on({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' });
    expect(a.ok && a.settings?.tracesUrl).toBe('http://collector:4318/v1/traces');
    const b = on({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4318/custom' });
    expect(b.ok && b.settings?.tracesUrl).toBe('http://c:4318/custom');
    expect(a.ok && a.settings).toMatchObject({
      serviceName: 'api-gateway',
      protocol: 'http/protobuf',
    });
  });

  it('reads headers, the protocol and the sampler', () => {
    const c = on({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318',
      OTEL_EXPORTER_OTLP_HEADERS: 'api-key=s%3Dx, tenant=acme,broken',
      OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.25',
    });
    expect(c.ok && c.settings).toMatchObject({
      headers: { 'api-key': 's=x', tenant: 'acme' },
      protocol: 'http/json',
    });
    expect(c.ok && c.settings?.sampler.toString()).toContain('0.25');
  });

  it('refuses grpc, an unknown sampler and a ratio out of range, in one line each', () => {
    const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4317' };
    expect(on({ ...endpoint, OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })).toEqual({
      ok: false,
      problem: 'OTEL_EXPORTER_OTLP_PROTOCOL: grpc is not supported; use http/protobuf or http/json',
    });
    expect(on({ ...endpoint, OTEL_TRACES_SAMPLER: 'jaeger_remote' })).toMatchObject({ ok: false });
    expect(
      on({ ...endpoint, OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '2' }),
    ).toEqual({
      ok: false,
      problem: 'OTEL_TRACES_SAMPLER_ARG: must be a number from 0 to 1',
    });
    expect(on({ OTEL_EXPORTER_OTLP_ENDPOINT: 'not a url' })).toMatchObject({ ok: false });
  });
});
