import { type IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';

import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';

/**
 * Event-loop delay (Terminus has no indicator for it), reported and never failing
 * liveness: a busy gateway should shed load through readiness and limits, not restarts.
 */
const RESOLUTION_MS = 10;

@Injectable()
export class EventLoopDelayIndicator implements OnModuleDestroy {
  private readonly histogram: IntervalHistogram = monitorEventLoopDelay({
    resolution: RESOLUTION_MS,
  });
  private readonly resetTimer: NodeJS.Timeout;

  constructor(private readonly indicators: HealthIndicatorService) {
    this.histogram.enable();
    // A rolling minute, so one stall long ago does not stay in the figures forever.
    this.resetTimer = setInterval(() => this.histogram.reset(), 60_000);
    this.resetTimer.unref();
  }

  check() {
    // The histogram counts the sampling interval itself; report only the delay past it.
    const ms = (ns: number) => Math.max(0, Math.round((ns / 1e6 - RESOLUTION_MS) * 10) / 10);
    const h = this.histogram;
    return this.indicators.check('eventLoop').up({
      delayP50Ms: ms(h.percentile(50)),
      delayP99Ms: ms(h.percentile(99)),
      delayMaxMs: ms(h.max),
    });
  }

  onModuleDestroy(): void {
    clearInterval(this.resetTimer);
    this.histogram.disable();
  }
}
