/**
 * Polls `probe` every `intervalMs` until it answers a value (anything but
 * undefined) and resolves with it; after `timeoutMs` fails naming `what`
 * (a function is asked at that moment, so it can tell what the last try saw).
 * For state that other processes reach asynchronously (a reaction's commit,
 * a read model catching up); it bounds a wait, it asserts no timing.
 */
export async function eventually<T>(
  probe: () => Promise<T | undefined> | T | undefined,
  what: string | (() => string),
  timeoutMs = 10_000,
  intervalMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new Error(
        `gave up waiting for ${typeof what === 'string' ? what : what()} after ${timeoutMs} ms`,
      );
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
