import { HashQueue, HashQueueFull } from './hash-queue';

describe('HashQueue', () => {
  /** A task that runs until `release()` is called. */
  const gate = () => {
    let release!: () => void;
    const done = new Promise<void>((r) => (release = r));
    return { release, task: () => done.then(() => true) };
  };

  it('runs at most `concurrency` tasks at once, the others in arrival order', async () => {
    const q = new HashQueue(2);
    const order: number[] = [];
    const g = gate();
    const runs = [0, 1, 2, 3].map((i) =>
      q.run(async () => {
        await g.task();
        order.push(i);
        return i;
      }),
    );
    await Promise.resolve();
    expect(q.pending).toBe(2);
    g.release();
    expect(await Promise.all(runs)).toEqual([0, 1, 2, 3]);
    expect(order).toEqual([0, 1, 2, 3]);
    expect(q.pending).toBe(0);
  });

  it('of 10,000 tasks arriving at once, keeps at most maxWaiting waiting and refuses the rest at once', async () => {
    const q = new HashQueue(2, 100);
    const g = gate();
    const settled = { ok: 0, full: 0, other: 0 };
    const runs: Promise<void>[] = [];
    for (let i = 0; i < 10_000; i++) {
      runs.push(
        q.run(g.task).then(
          () => void settled.ok++,
          (e: unknown) => void (e instanceof HashQueueFull ? settled.full++ : settled.other++),
        ),
      );
    }
    expect(q.pending).toBe(100);
    // Refused without waiting for a slot: settled before any task has finished.
    await new Promise((r) => setImmediate(r));
    expect(settled).toEqual({ ok: 0, full: 10_000 - 102, other: 0 });
    g.release();
    await Promise.all(runs);
    expect(settled).toEqual({ ok: 102, full: 10_000 - 102, other: 0 });
    expect(q.pending).toBe(0);
    // Once drained it takes tasks again.
    expect(await q.run(() => Promise.resolve('again'))).toBe('again');
  });

  it('frees the slot of a task that throws', async () => {
    const q = new HashQueue(1, 1);
    await expect(q.run(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await q.run(() => Promise.resolve(1))).toBe(1);
  });
});
