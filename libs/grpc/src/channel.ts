/**
 * An unbounded single-consumer queue that is also an async iterable. The
 * iteration ends after `close()` once the queued values are taken, or at
 * once when the given signal aborts. Values are never null or undefined,
 * which keeps `undefined` free to mean an empty queue.
 */
export class Channel<
  T extends NonNullable<unknown>,
> implements AsyncIterable<T> {
  private readonly values: T[] = [];
  private closed = false;
  private wake: (() => void) | undefined;

  constructor(private readonly signal?: AbortSignal) {
    signal?.addEventListener('abort', () => this.close(), { once: true });
  }

  push(value: T): void {
    if (this.closed) return;
    this.values.push(value);
    this.notify();
  }

  close(): void {
    this.closed = true;
    this.notify();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T, void, undefined> {
    for (;;) {
      if (this.signal?.aborted === true) return;
      const value = this.values.shift();
      if (value !== undefined) {
        yield value;
        continue;
      }
      if (this.closed) return;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}
