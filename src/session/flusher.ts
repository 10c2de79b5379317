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

  mark(q: Flushable): void {
    this.dirty.push(q);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.run);
    }
  }

  /** Writes everything now (used by tests and at shutdown). */
  readonly run = (): void => {
    this.scheduled = false;
    // Batches started before this point are closed: a publish from here on starts a new one.
    this.tick.epoch++;
    const list = this.dirty;
    this.dirty = this.spare;
    for (let i = 0; i < list.length; i++) list[i]!.flush();
    list.length = 0;
    this.spare = list;
  };
}
