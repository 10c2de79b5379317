/**
 * One session's outbound queue. Holds references to encoded messages (never
 * copies) until the flusher runs, then writes them as a single frame. A batch
 * that many sessions share is framed once and the same bytes written to each.
 * A session whose socket stops draining is reported once its backlog passes the
 * configured bytes or messages; it never slows anyone else down.
 */
import { SharedBatch } from '../hub/shared-batch.js';
import type { Flusher } from './flusher.js';
import { joinedPayload, textFrame } from './frame.js';

export interface Wire {
  /** True when frames built here may be written as they are (no per-connection compression). */
  readonly preframed: boolean;
  /** Bytes written but not yet taken by the kernel. */
  readonly bufferedBytes: number;
  /** Writes a complete frame; false when the socket asks the writer to wait for drain. */
  writeFrame(frame: Buffer): boolean;
  /** Hands a payload to the transport to frame (and compress) itself. */
  sendPayload(payload: Buffer): void;
}

export interface QueueLimits {
  maxQueueBytes: number;
  maxQueueMessages: number;
}

// Gathering buffers for a mixed queue reuses one scratch array: flushes never overlap.
const scratch: Buffer[] = [];

export class Outbox {
  private items: (Buffer | SharedBatch)[] = [];
  private starts: number[] = [];
  /** Messages written since the socket last had room: the backlog the limit applies to. */
  private backlog = 0;
  private closed = false;

  constructor(
    private readonly wire: Wire,
    private readonly flusher: Flusher,
    private readonly limits: QueueLimits,
    private readonly owner: { overflowed(): void },
  ) {}

  push(bytes: Buffer): void {
    if (this.closed) return;
    if (this.items.length === 0) this.flusher.mark(this);
    this.items.push(bytes);
    this.starts.push(0);
  }

  pushShared(batch: SharedBatch, start: number): void {
    if (this.closed) return;
    if (this.items.length === 0) this.flusher.mark(this);
    this.items.push(batch);
    this.starts.push(start);
  }

  /** Drops everything queued; nothing is written after this. */
  close(): void {
    this.closed = true;
    this.items.length = 0;
    this.starts.length = 0;
  }

  flush(): void {
    const items = this.items;
    const n = items.length;
    if (n === 0 || this.closed) return;
    const first = items[0]!;
    let messages: number;
    let ok = true;
    if (n === 1 && first instanceof SharedBatch && this.starts[0] === 0 && this.wire.preframed) {
      // The common fan-out case: the same frame for every member of the room.
      messages = first.chunks.length;
      ok = this.wire.writeFrame((first.frame ??= textFrame(first.chunks, 0, messages)));
    } else {
      for (let i = 0; i < n; i++) {
        const it = items[i]!;
        if (it instanceof SharedBatch) for (let j = this.starts[i]!; j < it.chunks.length; j++) scratch.push(it.chunks[j]!);
        else scratch.push(it);
      }
      messages = scratch.length;
      if (messages > 0) {
        if (this.wire.preframed) ok = this.wire.writeFrame(textFrame(scratch, 0, messages));
        else this.wire.sendPayload(joinedPayload(scratch, 0, messages));
      }
      scratch.length = 0;
    }
    items.length = 0;
    this.starts.length = 0;
    if (messages > 0) this.backlog = ok ? 0 : this.backlog + messages;
    if (this.backlog > this.limits.maxQueueMessages || this.wire.bufferedBytes > this.limits.maxQueueBytes) this.owner.overflowed();
  }
}
