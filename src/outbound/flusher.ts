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
 *
 * A flush's length depends on how many of a room's members this process
 * holds, which is not what the pause is for: a cluster node with half of a
 * room's members has flushes half as long, so it would pause half as long
 * and send twice the frames for the same messages. So a flush that wrote at
 * least `FANOUT_QUEUES` steady queues (a big room's fan-out, whole or in
 * part) is paced by the clock instead: the next flush starts no sooner than
 * `fanoutPeriodMs` after this one began (`limits.fanoutPeriodMs`, 20 ms,
 * twice the default longest pause: the period a process settles at anyway
 * once its flushes take that long), so a busy big room's members get a frame
 * at most that often however many of them are here. Only a room that
 * receives faster than that waits at all.
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

/** Steady queues in one flush from which it counts as a big room's fan-out (paced by `fanoutPeriodMs`). */
export const FANOUT_QUEUES = 256;

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
    /**
     * Shortest time from the start of a flush of a big room's fan-out (≥ FANOUT_QUEUES steady queues) to the
     * start of the next flush. 0: none (such flushes are paced like the others). Nothing when maxDelayMs is 0.
     */
    private readonly fanoutPeriodMs = 2 * maxDelayMs,
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
        if (2 * steady < n) this.notBefore = 0;
        else {
          this.notBefore = end + Math.min(this.maxDelayMs, end - start);
          if (steady >= FANOUT_QUEUES) this.notBefore = Math.max(this.notBefore, start + this.fanoutPeriodMs);
        }
      }
      // Closed sessions' queues must not stay reachable from here.
      list.fill(null, 0, n);
      this.report();
    } finally {
      this.running = false;
    }
  };
}
