import { getHeapStatistics } from 'node:v8';

import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';

/** Heap use, reported in /health's details; it never fails liveness. */
@Injectable()
export class HeapIndicator {
  constructor(private readonly indicators: HealthIndicatorService) {}

  check() {
    const mb = (b: number) => Math.round(b / 1024 / 102.4) / 10;
    const heap = getHeapStatistics();
    const mem = process.memoryUsage();
    return this.indicators.check('memory').up({
      heapUsedMb: mb(heap.used_heap_size),
      heapLimitMb: mb(heap.heap_size_limit),
      rssMb: mb(mem.rss),
    });
  }
}
