/**
 * Writes every queue that received something, once per event-loop turn. All
 * messages that arrived for a session during the turn leave as one frame and
 * one socket write. setImmediate runs after the turn's I/O callbacks, so
 * everything read from the network in one poll is batched together.
 *
 * On a busy server a flush may be put off: each socket write costs a syscall
 * and the kernel's TCP work (microseconds, the same for 100 bytes as for
 * 10 KiB), so what a big room receives while the last flush's writes were
 * going out is better sent as one frame per member than as one per message.
 * The pause after a flush is as long as the flush took (at most
 * `maxDelayMs`): writes then take at most about half of the server's time.
 * It is taken only when most of the queues just written were written in the
 * flush before too: sessions that receive steadily (members of a busy room),
 * whose next messages will arrive within the pause and share their frame.
 * Sessions that receive now and then (small rooms, DMs) would only wait
 * longer for frames as many as before. A quiet server, or one whose flushes
 * are short, writes at once.
 */
import { performance } from 'node:perf_hooks';
import type { Tick } from './shared-batch.js';

export interface Flushable {
  flush(): void;
  /** The Flusher's bookkeeping: the flush (tick epoch) that last wrote this queue. */
  lastFlush: number;
}

/**
 * Told what was written, once per run (not per session: a run of a room of 10,000 writes 10,000 frames and makes
 * one call here). Implemented by the metrics (observe/metrics.ts); the default counts nothing.
 */
export interface OutboundCounters {
  written(messages: number, frames: number, bytes: number): void;
}

const NO_COUNTERS: OutboundCounters = { written: () => {} };

export class Flusher {
  readonly tick: Tick = { epoch: 1 };
  /** Queues marked for the next flush: the first `dirtyCount` slots. Two arrays that take turns and keep their storage. */
  private dirty: (Flushable | null)[] = [];
  private dirtyCount = 0;
  private spare: (Flushable | null)[] = [];
  private scheduled = false;
  private running = false;
  /** Clock reading before which the next flush should not start. */
  private notBefore = 0;
  /** Written since the last report: the outboxes add to these as they write (plain additions, no call out). */
  private messages = 0;
  private frames = 0;
  private bytes = 0;

  constructor(
    /** Longest a flush is put off after the previous one. 0: every event-loop turn, however busy. */
    private readonly maxDelayMs = 0,
    /** Milliseconds, with sub-millisecond resolution: a flush of a few hundred writes takes well under 1 ms. */
    private readonly clock: () => number = () => performance.now(),
    private readonly counters: OutboundCounters = NO_COUNTERS,
  ) {}

  /** An outbox wrote one frame of `messages` messages, `bytes` long (its payload's length, when the transport frames it). */
  wrote(messages: number, bytes: number): void {
    this.messages += messages;
    this.frames++;
    this.bytes += bytes;
  }

  /**
   * Hands what was written since the last report to the counters. Each run ends with it; a reader of the counters
   * calls it first, for frames written outside a run (a session's greeting, the last words before a close).
   */
  report(): void {
    if (this.frames === 0) return;
    this.counters.written(this.messages, this.frames, this.bytes);
    this.messages = this.frames = this.bytes = 0;
  }

  mark(q: Flushable): void {
    this.dirty[this.dirtyCount++] = q;
    if (this.scheduled) return;
    this.scheduled = true;
    const wait = this.delay();
    // Timers have millisecond resolution: a shorter pause is not worth a timer.
    if (wait >= 1) setTimeout(this.run, Math.ceil(wait));
    else setImmediate(this.run);
  }

  /** How long, in ms, a flush asked for now waits (≤ 0: none). */
  delay(): number {
    return this.maxDelayMs > 0 ? this.notBefore - this.clock() : 0;
  }

  /** Writes everything now (used by tests and at shutdown). */
  readonly run = (): void => {
    // Asked for by a queue's flush (a write that ends its session, say): this run walks the array a nested one
    // would take for its marks, so the nested one goes to the next turn instead.
    if (this.running) {
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(this.run);
      }
      return;
    }
    this.running = true;
    try {
      this.scheduled = false;
      const start = this.maxDelayMs > 0 ? this.clock() : 0;
      // Batches started before this point are closed: a publish from here on starts a new one.
      const epoch = ++this.tick.epoch;
      const list = this.dirty;
      const n = this.dirtyCount;
      this.dirty = this.spare;
      this.dirtyCount = 0;
      // The next run's marks go to the array taken here (runs never nest).
      this.spare = list;
      let steady = 0;
      for (let i = 0; i < n; i++) {
        const q = list[i]!;
        if (q.lastFlush === epoch - 1) steady++;
        q.lastFlush = epoch;
        q.flush();
      }
      if (this.maxDelayMs > 0) {
        const end = this.clock();
        this.notBefore = 2 * steady >= n ? end + Math.min(this.maxDelayMs, end - start) : 0;
      }
      // Closed sessions' queues must not stay reachable from here.
      list.fill(null, 0, n);
      this.report();
    } finally {
      this.running = false;
    }
  };
}
