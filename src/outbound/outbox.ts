/**
 * One session's outbound queue. Holds references to encoded messages (never
 * copies) until the flusher runs, then writes them as a single frame. A batch
 * that many sessions share is framed once and the same bytes written to each.
 * A session whose socket stops draining is reported once its backlog passes the
 * configured bytes or messages; it never slows anyone else down.
 *
 * While the socket still holds more than a little unsent data, what arrives
 * stays here instead of piling up in the socket: it leaves as one frame on
 * `drain`, and if the session is closed as a slow consumer it is dropped, so
 * that the close frame (4005) waits behind little more than what the kernel
 * already holds rather than behind megabytes the client has not read.
 */
import { SharedBatch } from './shared-batch.js';
import type { Flusher } from './flusher.js';
import { frameOf, joinedLength, joinedPayload, type Framing } from './frame.js';
import { DEFAULT_WINDOW_BITS, deflatedFrame, type DeflateParams } from './deflate-frame.js';
import { jsonCodec } from '../protocol/json-codec.js';

export interface Wire {
  /** True when frames built here may be written as they are; false when the transport must frame (and compress) payloads. */
  readonly preframed: boolean;
  /** Set when the connection compresses: frames built here are then deflated (once per batch for all such members). */
  readonly deflate?: DeflateParams | null;
  /** Bytes written but not yet taken by the kernel. */
  readonly bufferedBytes: number;
  /** Writes a complete frame; false when the socket asks the writer to wait for drain. */
  writeFrame(frame: Buffer): boolean;
  /** Calls `cb` once, when the socket has written out what it holds. */
  onDrain(cb: () => void): void;
  /** Hands a payload to the transport to frame (and compress) itself. */
  sendPayload(payload: Buffer): void;
}

/** What an overflowing outbox still held (not yet written to its socket): dropped when the session closes. */
export interface Held {
  messages: number;
  bytes: number;
}

const NOTHING_HELD: Held = { messages: 0, bytes: 0 };

export interface QueueLimits {
  maxQueueBytes: number;
  maxQueueMessages: number;
}

/**
 * Unsent bytes in the socket above which the outbox holds what arrives until
 * drain. Above the socket's own high-water mark (16 KiB), so that a socket
 * this full has promised a `drain`; never above maxQueueBytes, which closes
 * the session anyway.
 */
export function holdThreshold(limits: QueueLimits): number {
  return Math.min(64 * 1024, limits.maxQueueBytes);
}

// Gathering buffers for a mixed queue reuses one scratch array: flushes never overlap.
const scratch: Buffer[] = [];

/** Queue slots an outbox keeps between flushes; a longer queue (a backlog) gives its storage back once written. */
const KEEP_SLOTS = 64;

export class Outbox {
  /**
   * Queued items and, for shared batches, where this session's part begins. The arrays are reused: `count`
   * says how many slots are in use. (Setting an array's length to 0 gives its storage back, so the next push
   * allocated it anew: at fan-out, a third of the server's allocations.)
   */
  private readonly items: (Buffer | SharedBatch | null)[] = [];
  private readonly starts: number[] = [];
  private count = 0;
  /** Messages written since the socket last had room: the backlog the limit applies to. */
  private backlog = 0;
  private closed = false;
  /** Marked for this turn's flush. */
  private marked = false;
  /** Flusher's bookkeeping (Flushable). */
  lastFlush = 0;
  /** Waiting for the socket's drain: items are held here meanwhile. */
  private holding = false;
  /** Of the items held, how many have been counted into heldMessages/heldBytes. */
  private counted = 0;
  private heldMessages = 0;
  private heldBytes = 0;
  private readonly holdAbove: number;

  constructor(
    private readonly wire: Wire,
    private readonly flusher: Flusher,
    private readonly limits: QueueLimits,
    private readonly owner: { overflowed(held: Held): void },
    /** The connection's codec: its frames' opcode and how messages share one. */
    private readonly framing: Framing = jsonCodec,
  ) {
    this.holdAbove = holdThreshold(limits);
  }

  push(bytes: Buffer): void {
    if (this.closed) return;
    this.mark();
    this.items[this.count] = bytes;
    this.starts[this.count++] = 0;
  }

  pushShared(batch: SharedBatch, start: number): void {
    if (this.closed) return;
    this.mark();
    this.items[this.count] = batch;
    this.starts[this.count++] = start;
  }

  private mark(): void {
    if (this.marked) return;
    this.marked = true;
    this.flusher.mark(this);
  }

  /** Bytes held here while the socket drains (counted against the limits; not yet in the socket). */
  get heldBytesNow(): number {
    return this.closed ? 0 : this.heldBytes;
  }

  /** Drops everything queued; nothing is written after this. */
  close(): void {
    this.closed = true;
    this.items.length = 0;
    this.starts.length = 0;
    this.count = 0;
  }

  private readonly drained = (): void => {
    this.holding = false;
    if (!this.closed && this.count > 0) this.mark();
  };

  /** Writes what is queued as one frame; `force`: even into a full socket (a close other than 4005 is coming). */
  flush(force = false): void {
    this.marked = false;
    const items = this.items;
    const n = this.count;
    if (n === 0 || this.closed) return;
    if (!force && (this.holding || this.wire.bufferedBytes > this.holdAbove)) return this.hold();
    const first = items[0]!;
    let messages: number;
    let bytes = 0;
    let ok = true;
    if (n === 1 && first instanceof SharedBatch && this.starts[0] === 0 && this.wire.preframed) {
      // The common fan-out case: the same frame for every member of the room.
      messages = first.chunks.length;
      first.written = true;
      const frame = this.sharedFrame(first, messages);
      bytes = frame.length;
      ok = this.wire.writeFrame(frame);
    } else {
      for (let i = 0; i < n; i++) {
        const it = items[i]!;
        if (it instanceof SharedBatch) {
          it.written = true;
          for (let j = this.starts[i]!; j < it.chunks.length; j++) scratch.push(it.chunks[j]!);
        } else scratch.push(it);
      }
      messages = scratch.length;
      if (messages > 0) {
        if (this.wire.preframed) {
          const frame = this.frame(scratch, messages);
          bytes = frame.length;
          ok = this.wire.writeFrame(frame);
        } else {
          const payload = joinedPayload(scratch, 0, messages, this.framing);
          bytes = payload.length;
          this.wire.sendPayload(payload);
        }
      }
      scratch.length = 0;
    }
    // Written: let go of the buffers (an idle session must not keep an old batch alive). The slots are kept for
    // the next turn, unless a backlog made them many: then a drained session would hold them for good.
    if (n > KEEP_SLOTS) {
      items.length = 0;
      this.starts.length = 0;
    } else items.fill(null, 0, n);
    this.count = 0;
    this.counted = this.heldMessages = this.heldBytes = 0;
    if (messages > 0) {
      this.backlog = ok ? 0 : this.backlog + messages;
      this.flusher.wrote(messages, bytes);
    }
    if (this.backlog > this.limits.maxQueueMessages || this.wire.bufferedBytes > this.limits.maxQueueBytes) this.owner.overflowed(NOTHING_HELD);
  }

  /** parts[0..n) as one frame: deflated when the connection compresses and the payload is worth it. */
  private frame(parts: readonly Buffer[], n: number): Buffer {
    const d = this.wire.deflate;
    if (d && joinedLength(parts, 0, n, this.framing) >= d.threshold) return deflatedFrame(joinedPayload(parts, 0, n, this.framing), this.framing, d.windowBits);
    return frameOf(parts, 0, n, this.framing);
  }

  /** A whole shared batch's frame, built once for every member it suits. */
  private sharedFrame(batch: SharedBatch, n: number): Buffer {
    const d = this.wire.deflate;
    if (d && batch.bytes + (this.framing.separator < 0 ? 0 : n - 1) >= d.threshold) {
      if (d.windowBits !== DEFAULT_WINDOW_BITS) return this.frame(batch.chunks, n);
      return (batch.deflated ??= deflatedFrame(joinedPayload(batch.chunks, 0, n, this.framing), this.framing, d.windowBits));
    }
    return (batch.frame ??= frameOf(batch.chunks, 0, n, this.framing));
  }

  /** The socket is still busy: keep what is queued, count it against the limits, write it all on drain. */
  private hold(): void {
    if (!this.holding) {
      this.holding = true;
      this.wire.onDrain(this.drained);
    }
    // Counted here once, so a batch must not grow afterwards: most are closed by now (the flusher closed their
    // epoch), and one started during this flush is marked as if written, so that more goes into a new batch.
    const items = this.items;
    for (let i = this.counted; i < this.count; i++) {
      const it = items[i]!;
      if (it instanceof SharedBatch) {
        it.written = true;
        for (let j = this.starts[i]!; j < it.chunks.length; j++) this.heldBytes += it.chunks[j]!.length;
        this.heldMessages += it.chunks.length - this.starts[i]!;
      } else {
        this.heldBytes += it.length;
        this.heldMessages++;
      }
    }
    this.counted = this.count;
    if (this.backlog + this.heldMessages > this.limits.maxQueueMessages || this.wire.bufferedBytes + this.heldBytes > this.limits.maxQueueBytes)
      this.owner.overflowed({ messages: this.heldMessages, bytes: this.heldBytes });
  }
}
