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
  /** Characters of the text bodies held. */
  private chars = 0;

  constructor(
    capacity: number,
    /** Most characters of bodies held: a room of large messages keeps fewer of them. */
    private readonly maxChars: number,
  ) {
    this.ring = new Array<MessagePush | undefined>(capacity);
  }

  /**
   * Delivered after the last one held. A jump (a gap given up on, retention) starts the tail again, and so does a
   * body that is not text or is larger than the whole budget: memory holds only what it can measure for free.
   */
  add(push: MessagePush): void {
    const cap = this.ring.length;
    const size = typeof push.body === 'string' ? push.body.length : Infinity;
    if (size > this.maxChars || (this.count > 0 && push.seq !== this.ring[(this.head + this.count - 1) % cap]!.seq + 1)) this.clear();
    if (size > this.maxChars) return;
    if (this.count === cap) this.dropOldest();
    while (this.count > 0 && this.chars + size > this.maxChars) this.dropOldest();
    this.ring[(this.head + this.count) % cap] = push;
    this.count++;
    this.chars += size;
  }

  private dropOldest(): void {
    this.chars -= (this.ring[this.head]!.body as string).length;
    this.ring[this.head] = undefined;
    this.head = (this.head + 1) % this.ring.length;
    this.count--;
  }

  private clear(): void {
    this.ring.fill(undefined);
    this.head = 0;
    this.count = 0;
    this.chars = 0;
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
