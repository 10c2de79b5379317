/**
 * A small typed event emitter (no Node `events` import, so it runs in browsers)
 * and an async-iterator adapter over it.
 */

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type EventMap<E> = { [K in keyof E]: (...args: any[]) => void };

export class Emitter<E extends EventMap<E>> {
  private readonly listeners = new Map<keyof E, Set<E[keyof E]>>();

  /** `onListenerError` is called when a listener throws (default: console.error); the other listeners still run. */
  constructor(private readonly onListenerError: (err: unknown, event: string) => void = defaultListenerError) {}

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof E>(event: K, listener: E[K]): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener);
    return () => this.off(event, listener);
  }

  /** A listener called once, at the next event. */
  once<K extends keyof E>(event: K, listener: E[K]): () => void {
    const wrapper = ((...args: Parameters<E[K]>) => {
      off();
      listener(...args);
    }) as E[K];
    const off = this.on(event, wrapper);
    return off;
  }

  off<K extends keyof E>(event: K, listener: E[K]): void {
    this.listeners.get(event)?.delete(listener);
  }

  listenerCount<K extends keyof E>(event: K): number {
    return this.listeners.get(event)?.size ?? 0;
  }

  protected emit<K extends keyof E>(event: K, ...args: Parameters<E[K]>): void {
    const set = this.listeners.get(event);
    if (!set || set.size === 0) return;
    for (const l of [...set]) {
      try {
        (l as (...a: Parameters<E[K]>) => void)(...args);
      } catch (err) {
        this.onListenerError(err, String(event));
      }
    }
  }
}

function defaultListenerError(err: unknown, event: string): void {
  console.error(`switchboard-client: a "${event}" listener threw`, err);
}

/**
 * An async iterator fed by pushes: values are buffered until read. It ends when
 * `end()` is called, when the consumer breaks out of `for await`, or when the
 * abort signal fires.
 */
export class EventStream<T> implements AsyncIterableIterator<T> {
  private readonly buffer: T[] = [];
  private readonly waiting: ((r: IteratorResult<T>) => void)[] = [];
  private done = false;
  private failure: Error | null = null;

  constructor(private readonly onEnd: () => void = () => {}) {}

  push(value: T): void {
    if (this.done) return;
    const w = this.waiting.shift();
    if (w) w({ value, done: false });
    else this.buffer.push(value);
  }

  /** Ends the stream: buffered values are still read, then the iteration ends (or throws `error`). */
  end(error?: Error): void {
    if (this.done) return;
    this.done = true;
    if (error) this.failure = error;
    this.onEnd();
    for (const w of this.waiting.splice(0)) w({ value: undefined, done: true });
  }

  next(): Promise<IteratorResult<T>> {
    if (this.buffer.length > 0) return Promise.resolve({ value: this.buffer.shift() as T, done: false });
    if (this.done) {
      if (this.failure) {
        const f = this.failure;
        this.failure = null;
        return Promise.reject(f);
      }
      return Promise.resolve({ value: undefined, done: true });
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  return(): Promise<IteratorResult<T>> {
    this.buffer.length = 0;
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

/**
 * The streams an owner hands out, so that it can end them all at once (the
 * client, when it is closed). A stream leaves the group when it ends.
 */
export class StreamGroup {
  private readonly live = new Set<{ end(): void }>();

  /** `closed()`: the owner is closed, so a stream opened now ends at once. */
  constructor(private readonly closed: () => boolean) {}

  /**
   * A stream fed by `subscribe` (given the stream's push, it returns the
   * unsubscribe), ended by `endAll()`, by the consumer leaving its loop, or
   * by `signal`.
   */
  open<T>(subscribe: (push: (value: T) => void) => () => void, signal?: AbortSignal): EventStream<T> {
    let off = (): void => {};
    const stream = new EventStream<T>(() => {
      off();
      this.live.delete(stream);
    });
    off = subscribe((value) => stream.push(value));
    if (this.closed()) {
      stream.end();
      return stream;
    }
    this.live.add(stream);
    if (signal) {
      if (signal.aborted) stream.end();
      else signal.addEventListener('abort', () => stream.end(), { once: true });
    }
    return stream;
  }

  endAll(): void {
    for (const s of [...this.live]) s.end();
  }
}
