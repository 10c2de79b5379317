/**
 * The outgoing message queue. Every `publish` and `send` goes through it, online
 * or not, with its own idempotency key, and stays until the server acknowledged
 * it. Entries sent on a connection that dropped before the ack are put back and
 * sent again — with the same key, so the server stores and delivers each message
 * once (it answers a resend with the original's ack and `duplicate: true`).
 *
 * Order: entries leave in the order they were queued; within one conversation a
 * later message never overtakes an earlier one that is still waiting (for the
 * room to be joined again, or for a retry delay). Pure data structure.
 */
import { QueueFullError } from './errors.js';

export type QueuedTarget = { room: string } | { to: string };

export interface QueuedMessage<C = unknown, A = unknown> {
  /** The idempotency key (also the entry's identity). */
  readonly key: string;
  readonly target: QueuedTarget;
  /** The command to send (without request id). */
  readonly command: C;
  /** `queued`: waiting to be sent; `sent`: on the wire, awaiting its ack. */
  state: 'queued' | 'sent';
  /** The request id of the last send. */
  requestId?: number;
  /** Times it was written to a connection. */
  attempts: number;
  /** Not to be sent before this time (ms since epoch; a retry after `unavailable`). */
  notBefore: number;
  readonly resolve: (ack: A) => void;
  readonly reject: (err: Error) => void;
}

export function targetKey(t: QueuedTarget): string {
  return 'room' in t ? `r:${t.room}` : `d:${t.to}`;
}

export class OfflineQueue<C = unknown, A = unknown> {
  private readonly entries = new Map<string, QueuedMessage<C, A>>();

  constructor(readonly limit = 1000) {}

  get size(): number {
    return this.entries.size;
  }

  /** Entries in queue order. */
  all(): QueuedMessage<C, A>[] {
    return [...this.entries.values()];
  }

  get(key: string): QueuedMessage<C, A> | undefined {
    return this.entries.get(key);
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  add(entry: Omit<QueuedMessage<C, A>, 'state' | 'attempts' | 'notBefore'> & { notBefore?: number }): QueuedMessage<C, A> {
    if (this.entries.has(entry.key)) throw new Error(`key ${entry.key} is already queued`);
    if (this.entries.size >= this.limit) throw new QueueFullError(this.limit);
    const e: QueuedMessage<C, A> = { ...entry, state: 'queued', attempts: 0, notBefore: entry.notBefore ?? 0 };
    this.entries.set(e.key, e);
    return e;
  }

  /**
   * The queued entries that may be sent now, in order. `canSend(target)` says
   * whether a conversation is ready (e.g. its room joined on this connection);
   * an entry that must wait holds back every later entry of its conversation.
   */
  ready(now: number, canSend: (target: QueuedTarget) => boolean): QueuedMessage<C, A>[] {
    const blocked = new Set<string>();
    const out: QueuedMessage<C, A>[] = [];
    for (const e of this.entries.values()) {
      if (e.state !== 'queued') continue;
      const conv = targetKey(e.target);
      if (blocked.has(conv)) continue;
      if (e.notBefore > now || !canSend(e.target)) {
        blocked.add(conv);
        continue;
      }
      out.push(e);
    }
    return out;
  }

  /** The earliest `notBefore` in the future among queued entries (to schedule a retry), or undefined. */
  nextRetryAt(now: number): number | undefined {
    let at: number | undefined;
    for (const e of this.entries.values()) if (e.state === 'queued' && e.notBefore > now) at = at === undefined ? e.notBefore : Math.min(at, e.notBefore);
    return at;
  }

  markSent(key: string, requestId: number): void {
    const e = this.entries.get(key);
    if (!e) return;
    e.state = 'sent';
    e.requestId = requestId;
    e.attempts++;
  }

  /** The ack came (or a final error): the entry leaves the queue. */
  settle(key: string): QueuedMessage<C, A> | undefined {
    const e = this.entries.get(key);
    if (e) this.entries.delete(key);
    return e;
  }

  /** Sends again later, keeping the entry's place and key. */
  retryLater(key: string, notBefore: number): void {
    const e = this.entries.get(key);
    if (!e) return;
    e.state = 'queued';
    e.notBefore = notBefore;
  }

  /** The connection dropped: everything on the wire without an ack is queued again. Returns how many. */
  requeueSent(): number {
    let n = 0;
    for (const e of this.entries.values())
      if (e.state === 'sent') {
        e.state = 'queued';
        n++;
      }
    return n;
  }

  /** Removes every entry (after `close()`), returning them so their promises can be rejected. */
  drain(): QueuedMessage<C, A>[] {
    const all = [...this.entries.values()];
    this.entries.clear();
    return all;
  }
}
