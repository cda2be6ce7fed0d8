// The one poll helper of the specs: waits for state the test cannot await directly (a log
// line written on `close`, a timer-driven health change, a request reaching the backend).

/** Polls `check` until it returns a value (not undefined); throws after `timeoutMs`. */
export async function poll<T>(
  check: () => T | undefined | Promise<T | undefined>,
  timeoutMs: number,
  what: string,
  everyMs = 20,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (performance.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise<void>((resolve) => setTimeout(resolve, everyMs));
  }
}

/** Polls `condition` until it holds; throws after `timeoutMs`. */
export async function waitUntil(
  condition: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
  everyMs = 20,
): Promise<void> {
  await poll(async () => ((await condition()) ? true : undefined), timeoutMs, what, everyMs);
}
