/**
 * Outgoing commands, batched into frames. Commands written in the same tick
 * leave together, packed into as few frames as fit under the server's
 * `maxFrameBytes` (JSON lines joined by `\n` in a text frame, or size-delimited
 * Protobuf messages concatenated in a binary one), and no faster than its
 * message rate: a client back from a long offline spell with a full queue
 * would otherwise be closed for flooding (4006).
 */
import { MessageTooLargeError, SwitchboardError } from './errors.js';
import { extraCost } from '../../src/protocol/sync-cost.js';
import { TokenBucket } from './rate.js';
import type { Timer } from './timers.js';
import { jsonWire, type Wire, type WireData } from './wire.js';

const DEFAULT_MAX_FRAME = 65_536;

/** Where frames go: the current connection. */
export interface FrameSink {
  readonly isOpen: boolean;
  send(frame: WireData): void;
}

export class FrameWriter {
  /** Encoded for `wire`: a connection's commands are encoded in its encoding, and dropped with it (reset). */
  private lines: WireData[] = [];
  /** What each queued line costs beyond its one token (extraCost). */
  private costs: number[] = [];
  private flushScheduled = false;
  private paceTimer: Timer | null = null;
  private maxFrameBytes = DEFAULT_MAX_FRAME;
  private readonly bucket = new TokenBucket(50, 50, Date.now());
  private wire: Wire = jsonWire;

  /** `sink()` is asked at every flush, so lines go to whichever connection is current then. */
  constructor(private readonly sink: () => FrameSink | null) {}

  /** A new connection opened, speaking `wire`: what was written while there was none (typing, say) is dropped, as at a close. */
  use(wire: Wire): void {
    this.reset();
    this.wire = wire;
  }

  /** Takes a new session's limits. */
  configure(limits: { maxFrameBytes: number; messagesPerSecond: number }): void {
    this.maxFrameBytes = limits.maxFrameBytes || DEFAULT_MAX_FRAME;
    const rate = Math.max(1, limits.messagesPerSecond);
    this.bucket.configure(rate, rate, Date.now());
  }

  /**
   * Queues one command for the next frame (`first`: ahead of the others, for
   * `auth`). Throws MessageTooLargeError for a command the server would refuse,
   * and `invalid_command` for one the encoding has no room for (Protobuf knows
   * only the protocol's commands).
   */
  write(msg: Record<string, unknown>, first = false): void {
    let line: WireData;
    try {
      line = this.wire.encode(msg);
    } catch (err) {
      throw new SwitchboardError('invalid_command', `a ${String(msg.type)} command cannot be encoded in ${this.wire.encoding}: ${(err as Error).message}`);
    }
    const n = this.wire.size(line);
    if (n > this.maxFrameBytes) throw new MessageTooLargeError(n, this.maxFrameBytes);
    if (first) {
      this.lines.unshift(line);
      this.costs.unshift(extraCost(msg));
    } else {
      this.lines.push(line);
      this.costs.push(extraCost(msg));
    }
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(() => this.flush());
    }
  }

  /** Cancels a paced flush that is waiting for the rate to allow more. */
  stop(): void {
    if (this.paceTimer) clearTimeout(this.paceTimer);
    this.paceTimer = null;
  }

  /** The connection is gone: lines not yet sent are dropped (their owners resend what must be resent). */
  reset(): void {
    this.stop();
    this.lines = [];
    this.costs = [];
    this.flushScheduled = false;
  }

  private flush(): void {
    this.flushScheduled = false;
    const t = this.sink();
    if (!t || !t.isOpen || this.lines.length === 0 || this.paceTimer) return;
    const now = Date.now();
    let n = 0;
    while (n < this.lines.length && this.bucket.take(now)) this.bucket.charge(this.costs[n++]!);
    const lines = this.lines.splice(0, n);
    this.costs.splice(0, n);
    for (const frame of this.wire.pack(lines, this.maxFrameBytes)) t.send(frame);
    if (this.lines.length > 0) {
      this.paceTimer = setTimeout(() => {
        this.paceTimer = null;
        this.flush();
      }, Math.max(1, this.bucket.waitMs(Date.now())));
    }
  }
}
