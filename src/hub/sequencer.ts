/**
 * Durable messages (a room's, or a user's direct ones) reach this node's sessions in seq order, with no gap and no duplicate, whichever node
 * stored them. On one node that is free: commits complete in seq order. With several, node A's seq 5 can arrive
 * before node B's seq 4 (two publishers, one broker hop each), and a broker that restarts loses what was in
 * flight. So a message past the next expected seq waits, in the room's `pending`, for the ones before it: they
 * usually arrive within a hop; after `gapWaitMs` they are read from the store (the store numbers a conversation's
 * messages in commit order, so every seq below one that was delivered is already readable), and everything
 * pending is delivered in order.
 */
import type { MessagePush } from '../protocol/pushes.js';
import { pushOf } from './conversations.js';
import type { HistoryPage, HistoryQuery } from './persistence.js';

/** One conversation's stream of messages to some of this node's sessions (a room's members, a user's sessions). */
export interface Ordered {
  readonly conv: string;
  /** Last seq delivered; undefined: none yet (the first one offered is delivered as it is). */
  lastSeq: number | undefined;
  /** Messages from past a gap, by seq, waiting for the ones before them. */
  pending: Map<number, MessagePush> | null;
  /** A read of missed messages is scheduled or under way. */
  filling: boolean;
  /** Nothing more is delivered through it (its last local session left). */
  closed: boolean;
}

export interface SequencerDeps<T extends Ordered> {
  /** Hands a push to the stream's local sessions (the fan-out), in the order called. */
  deliver(stream: T, push: MessagePush): void;
  history(q: HistoryQuery): Promise<HistoryPage>;
  /** Runs `fn` after `ms` (a timer the hub does not own). */
  defer(fn: () => void, ms: number): void;
  gapWaitMs: number;
  /** Most messages one fill reads; a longer gap is filled in several reads. */
  fillLimit: number;
  /** Told when a gap could not be filled (the store no longer has those messages: retention). */
  skipped?(conv: string, from: number, to: number): void;
  failed?(conv: string, err: unknown): void;
}

export class Sequencer<T extends Ordered> {
  constructor(private readonly d: SequencerDeps<T>) {}

  /**
   * Starts a stream that has no past here (a user's first direct message of a conversation on this node): its
   * first message waits `gapWaitMs` for any earlier one still a hop behind, then the lowest seq that arrived
   * starts it, and what comes after follows in order. Without the wait, an earlier message overtaken by a later
   * one would be taken for a duplicate.
   */
  open(stream: T, push: MessagePush): void {
    stream.pending = new Map([[push.seq, push]]);
    this.d.defer(() => {
      if (stream.closed || stream.lastSeq !== undefined || stream.pending === null) return;
      stream.lastSeq = Math.min(...stream.pending.keys()) - 1;
      this.drain(stream);
      if (stream.pending !== null) this.scheduleFill(stream, 0);
    }, this.d.gapWaitMs);
  }

  /** A stored message for the room, from this node's commits or another node's. */
  offer(room: T, push: MessagePush): void {
    const last = room.lastSeq;
    const seq = push.seq;
    // Opening (see open): gathered until the wait ends.
    if (last === undefined && room.pending !== null) return void room.pending.set(seq, push);
    if (last === undefined || seq === last + 1) {
      this.deliver(room, push);
      if (room.pending !== null) this.drain(room);
      return;
    }
    if (seq <= last) return;
    (room.pending ??= new Map()).set(seq, push);
    this.scheduleFill(room, this.d.gapWaitMs);
  }

  /**
   * Reads whatever the room may have missed after its last delivered seq (the broker was away, or the room was
   * only just subscribed): delivered in order like any other.
   */
  catchUp(room: T, delayMs = 0): void {
    this.scheduleFill(room, delayMs);
  }

  private deliver(room: T, push: MessagePush): void {
    room.lastSeq = push.seq;
    this.d.deliver(room, push);
  }

  private drain(room: T): void {
    const pending = room.pending!;
    for (let next = pending.get(room.lastSeq! + 1); next !== undefined; next = pending.get(room.lastSeq! + 1)) {
      pending.delete(next.seq);
      this.deliver(room, next);
    }
    // Anything at or below what was delivered (a duplicate that arrived meanwhile) goes too.
    for (const seq of pending.keys()) if (seq <= room.lastSeq!) pending.delete(seq);
    if (pending.size === 0) room.pending = null;
  }

  private scheduleFill(room: T, ms: number): void {
    if (room.filling) return;
    room.filling = true;
    this.d.defer(() => void this.fill(room), ms);
  }

  private async fill(room: T): Promise<void> {
    let failed = false;
    try {
      await this.readMissing(room);
    } catch (err) {
      this.d.failed?.(room.conv, err);
      failed = true;
    }
    room.filling = false;
    // Still waiting (the store was away, or messages past a new gap arrived during the read): look again.
    if (!room.closed && room.pending !== null) this.scheduleFill(room, failed ? Math.max(this.d.gapWaitMs, 1000) : this.d.gapWaitMs);
  }

  /** Reads from the last delivered seq to the store's end, page by page, delivering as it goes. */
  private async readMissing(room: T): Promise<void> {
    for (;;) {
      // A room left by its last member here is no longer delivered to.
      if (room.closed) return;
      const page = await this.d.history({ conv: room.conv, after: room.lastSeq ?? 0, limit: this.d.fillLimit });
      if (room.closed) return;
      for (const m of page.messages) if (m.seq > room.lastSeq!) this.offerStored(room, pushOf(m));
      if (page.messages.length === this.d.fillLimit) continue;
      // Up to the conversation's last seq as this read saw it, the store has had every message: what it did not
      // return, retention removed. Later seqs may have been committed after the read, and are not skipped.
      if (room.pending !== null) {
        const lowest = Math.min(...room.pending.keys());
        const upTo = Math.min(lowest - 1, page.lastSeq);
        if (upTo > room.lastSeq!) {
          this.d.skipped?.(room.conv, room.lastSeq! + 1, upTo);
          room.lastSeq = upTo;
          this.drain(room);
        }
      }
      return;
    }
  }

  private offerStored(room: T, push: MessagePush): void {
    if (push.seq === room.lastSeq! + 1) {
      this.deliver(room, push);
      if (room.pending !== null) this.drain(room);
    } else if (push.seq > room.lastSeq!) (room.pending ??= new Map()).set(push.seq, push);
  }
}
