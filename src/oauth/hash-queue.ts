/** A task refused because the queue already holds its most waiting tasks. */
export class HashQueueFull extends Error {
  constructor() {
    super('too many hash checks waiting');
  }
}

/**
 * Runs at most `concurrency` tasks at once, the others in arrival order. For secret
 * hashing: argon2 runs on libuv's thread pool, which DNS lookups and file I/O share.
 *
 * At most `maxWaiting` tasks wait; one more is refused at once (HashQueueFull) instead of
 * queued: arrivals from many addresses (each within its own failure budget) can outpace
 * two hash checks at a time for as long as they keep coming, and every queued call holds
 * its request, its response and its socket until its turn.
 */
export class HashQueue {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    private readonly concurrency: number,
    readonly maxWaiting = Number.POSITIVE_INFINITY,
  ) {}

  /** Tasks waiting for a slot (for tests and debugging). */
  get pending(): number {
    return this.waiting.length;
  }

  /** Rejects with HashQueueFull when every slot is taken and `maxWaiting` tasks wait. */
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.concurrency) {
      if (this.waiting.length >= this.maxWaiting) throw new HashQueueFull();
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else this.running++;
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}
