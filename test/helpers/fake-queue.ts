import type { SharedBatch } from '../../src/outbound/shared-batch.js';

export type Queued = { kind: 'direct'; bytes: Buffer } | { kind: 'shared'; batch: SharedBatch; start: number };

/**
 * What the hub tests' fake session and the fan-out tests' fake recipient have in common: it records what is queued
 * for it (direct Buffers, and shared batches with their start offset), and `drain()` reads that queue as the real
 * outbox does at flush time.
 */
export class FakeQueue {
  /** What is queued this turn (read at flush time, as the real outbox does). */
  queue: Queued[] = [];
  /** Every message delivered so far, in order, as the exact Buffers handed over. */
  readonly received: Buffer[] = [];
  readonly closes: { code: number; reason: string }[] = [];

  send(bytes: Buffer): void {
    this.queue.push({ kind: 'direct', bytes });
  }

  sendShared(batch: SharedBatch, start: number): void {
    this.queue.push({ kind: 'shared', batch, start });
  }

  close(code: number, reason: string): void {
    this.closes.push({ code, reason });
  }

  /** Moves this turn's queue into `received`. */
  drain(): void {
    for (const q of this.queue) {
      if (q.kind === 'direct') this.received.push(q.bytes);
      else for (let i = q.start; i < q.batch.chunks.length; i++) this.received.push(q.batch.chunks[i]!);
    }
    this.queue = [];
  }
}
