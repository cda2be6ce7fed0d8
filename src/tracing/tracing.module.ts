import { Global, Injectable, Module, type OnApplicationShutdown } from '@nestjs/common';

import { GatewayConfig } from '../config/gateway-config';
import { GatewayTracer, readTracingConfig } from './gateway-tracing';

/**
 * The gateway's tracer when tracing is on (an OTLP endpoint set), else undefined: the
 * request path checks `tracer` (or `ctx.span`) once and does nothing more when off.
 * Spans still queued are exported at shutdown (after the drain).
 */
@Injectable()
export class GatewayTracing implements OnApplicationShutdown {
  readonly tracer: GatewayTracer | undefined;

  constructor(config: GatewayConfig) {
    const tracing = readTracingConfig(config.env);
    if (!tracing.ok) throw new Error(tracing.problem);
    this.tracer = tracing.settings ? new GatewayTracer(tracing.settings) : undefined;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.tracer?.shutdown();
  }
}

@Global()
@Module({ providers: [GatewayTracing], exports: [GatewayTracing] })
export class TracingModule {}
