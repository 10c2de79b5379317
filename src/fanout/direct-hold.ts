/**
 * Direct messages held back from one session while it recovers: during a
 * `sync` for the conversations it names, and — for a session that connected
 * with `resume` — for every conversation until its first sync completes.
 * Releasing sends what the replay did not already carry, in arrival order.
 */
import type { Recipient } from './recipient.js';

interface HeldMessage {
  conv: string;
  seq: number;
  bytes: Buffer;
}

export class DirectHold {
  readonly syncing = new Set<string>();
  private held: HeldMessage[] = [];
  /** Bytes of the messages held (bounded like a session's outbound queue). */
  bytes = 0;

  constructor(
    /** Hold every conversation (a resuming session before its first sync). */
    public all: boolean,
  ) {}

  wants(conv: string): boolean {
    return this.all || this.syncing.has(conv);
  }

  get size(): number {
    return this.held.length;
  }

  get idle(): boolean {
    return !this.all && this.syncing.size === 0 && this.held.length === 0 && (this.floors === null || this.floors.size === 0);
  }

  /**
   * What a replay carried, per conversation, until a live message past it arrives: on a node of a cluster a
   * message can still be on its way to this node's fan-out (ordered behind another node's) when the replay that
   * already carried it releases the hold; it must not reach the session twice.
   */
  private floors: Map<string, number> | null = null;

  /** Whether a live message of `conv` may go to the session (false: a replay carried it already). */
  passes(conv: string, seq: number): boolean {
    const floor = this.floors?.get(conv);
    if (floor === undefined) return true;
    if (seq <= floor) return false;
    // Messages of a conversation reach the fan-out in seq order: none at or below the floor comes after this.
    this.floors!.delete(conv);
    return true;
  }

  hold(conv: string, seq: number, bytes: Buffer): void {
    this.held.push({ conv, seq, bytes });
    this.bytes += bytes.length;
  }

  /** Sends what no running sync still holds, skipping messages at or below what a replay carried. */
  release(s: Recipient, replayedUpTo: ReadonlyMap<string, number>): void {
    for (const [conv, seq] of replayedUpTo) if (seq > 0) (this.floors ??= new Map()).set(conv, seq);
    const keep: HeldMessage[] = [];
    let bytes = 0;
    for (const h of this.held) {
      if (this.wants(h.conv)) {
        keep.push(h);
        bytes += h.bytes.length;
      } else if (this.passes(h.conv, h.seq)) s.send(h.bytes);
    }
    this.held = keep;
    this.bytes = bytes;
  }
}
