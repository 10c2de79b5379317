/**
 * Writes every queue that received something, once per event-loop turn. All
 * messages that arrived for a session during the turn leave as one frame and
 * one socket write. setImmediate runs after the turn's I/O callbacks, so
 * everything read from the network in one poll is batched together.
 */
import type { Tick } from '../hub/shared-batch.js';

export interface Flushable {
  flush(): void;
}

export class Flusher {
  readonly tick: Tick = { epoch: 1 };
  private dirty: Flushable[] = [];
  private spare: Flushable[] = [];
  private scheduled = false;
  private lastRun = 0;

  constructor(
    /**
     * Least time between two flushes. 0: every event-loop turn. Above 0, a
     * quiet server still writes at once, but under load what arrives within
     * the interval leaves together: fewer, fuller frames for a little latency.
     */
    private readonly minIntervalMs = 0,
    private readonly now: () => number = Date.now,
  ) {}

  mark(q: Flushable): void {
    this.dirty.push(q);
    if (this.scheduled) return;
    this.scheduled = true;
    const wait = this.minIntervalMs > 0 ? this.lastRun + this.minIntervalMs - this.now() : 0;
    if (wait > 0) setTimeout(this.run, wait);
    else setImmediate(this.run);
  }

  /** Writes everything now (used by tests and at shutdown). */
  readonly run = (): void => {
    this.scheduled = false;
    if (this.minIntervalMs > 0) this.lastRun = this.now();
    // Batches started before this point are closed: a publish from here on starts a new one.
    this.tick.epoch++;
    const list = this.dirty;
    this.dirty = this.spare;
    for (let i = 0; i < list.length; i++) list[i]!.flush();
    list.length = 0;
    this.spare = list;
  };
}
