/**
 * The last messages a stored room delivered on this node, in seq order with no gap, so that a recovering join
 * (`since`) that missed only those is answered from memory. After a network blip every client rejoins at once,
 * most of them a few messages behind: without this, each join was a store read.
 */
import type { MessagePush } from '../protocol/pushes.js';

export class RecentMessages {
  /** A ring: `count` pushes from `head`, oldest first, contiguous seqs. */
  private readonly ring: (MessagePush | undefined)[];
  private head = 0;
  private count = 0;

  constructor(capacity: number) {
    this.ring = new Array<MessagePush | undefined>(capacity);
  }

  /** Delivered after the last one held; a jump (a gap given up on, retention) starts the tail again. */
  add(push: MessagePush): void {
    const cap = this.ring.length;
    if (this.count > 0 && push.seq !== this.ring[(this.head + this.count - 1) % cap]!.seq + 1) {
      this.ring.fill(undefined);
      this.count = 0;
    }
    if (this.count < cap) {
      this.ring[(this.head + this.count) % cap] = push;
      this.count++;
    } else {
      this.ring[this.head] = push;
      this.head = (this.head + 1) % cap;
    }
  }

  /**
   * The messages after `since` up to `last` (the room's last delivered seq), oldest first; null when they are not
   * all held here (too old, or `since` is past `last`).
   */
  after(since: number, last: number): MessagePush[] | null {
    if (since === last) return [];
    if (this.count === 0 || since > last) return null;
    const cap = this.ring.length;
    const first = this.ring[this.head]!.seq;
    if (this.ring[(this.head + this.count - 1) % cap]!.seq !== last || since < first - 1) return null;
    const out: MessagePush[] = [];
    for (let i = since + 1 - first; i < this.count; i++) out.push(this.ring[(this.head + i) % cap]!);
    return out;
  }
}
