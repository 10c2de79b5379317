/**
 * Per-conversation ordering and deduplication: the heart of "no gap, no
 * duplicate". Every message of a conversation passes through here; it reaches
 * the app only when it is the next one (`seq = last + 1`). Earlier ones are
 * duplicates (a replay after a reconnect, a history page overlapping live
 * pushes) and are dropped; later ones wait until the gap before them is filled
 * — by the server's replay (`join` with `since`, `sync`) or by the SDK paging
 * `history` — or declared lost.
 *
 * Pure logic: no sockets, no timers. The client drives it and supplies hooks.
 */

/** `r:<room>` or `d:<other user>`. */
export type ConvKey = string;

export function roomKey(room: string): ConvKey {
  return `r:${room}`;
}

export function directKey(other: string): ConvKey {
  return `d:${other}`;
}

export function conversationOfKey(key: ConvKey): { room: string } | { with: string } {
  return key.startsWith('r:') ? { room: key.slice(2) } : { with: key.slice(2) };
}

/** The conversation a message belongs to, as seen by user `me`: its room, or the other party of a DM. */
export function keyOfMessage(m: { room?: string; to?: string; from: string }, me: string): ConvKey | null {
  if (m.room !== undefined) return roomKey(m.room);
  if (m.to === undefined) return null;
  return directKey(m.from === me ? m.to : m.from);
}

export interface Sequenced {
  seq: number;
}

export interface SequencerHooks<M extends Sequenced> {
  /** The next message of a conversation, in order, exactly once. */
  deliver(key: ConvKey, message: M): void;
  /** Messages `from`..`to` of the conversation will never be delivered. */
  gap(key: ConvKey, from: number, to: number, reason: 'unrecoverable' | 'not-durable' | 'reset'): void;
  /** A later message arrived while no recovery runs: the missing ones must be fetched (then `beginRecovery`…`endRecovery`). */
  stall(key: ConvKey): void;
}

interface ConvState<M> {
  /** Last seq delivered (or skipped); null: unknown until the join reply says where the conversation stands. */
  last: number | null;
  /** Messages after a gap, waiting for it to close. */
  pending: Map<number, M>;
  /** A replay or history fill is under way: a gap is expected to close by itself. */
  recovering: boolean;
  /** `stall` was reported and not yet resolved. */
  stalled: boolean;
  /** Durable conversations are strictly ordered; a non-durable room's messages are delivered as they come (gaps cannot be filled). */
  ordered: boolean;
}

export type PushResult = 'delivered' | 'duplicate' | 'buffered';

export class Sequencer<M extends Sequenced> {
  private readonly convs = new Map<ConvKey, ConvState<M>>();
  /** Duplicates dropped so far (for diagnostics and tests). */
  duplicates = 0;

  constructor(private readonly hooks: SequencerHooks<M>) {}

  has(key: ConvKey): boolean {
    return this.convs.has(key);
  }

  /** The last seq delivered; null while unknown; undefined for a conversation not tracked. */
  last(key: ConvKey): number | null | undefined {
    return this.convs.get(key)?.last;
  }

  isRecovering(key: ConvKey): boolean {
    return this.convs.get(key)?.recovering ?? false;
  }

  pendingCount(key: ConvKey): number {
    return this.convs.get(key)?.pending.size ?? 0;
  }

  /** The lowest seq waiting behind a gap. */
  firstPending(key: ConvKey): number | undefined {
    const s = this.convs.get(key);
    if (!s || s.pending.size === 0) return undefined;
    let min = Infinity;
    for (const seq of s.pending.keys()) if (seq < min) min = seq;
    return min;
  }

  keys(): ConvKey[] {
    return [...this.convs.keys()];
  }

  /** Starts tracking a conversation (no effect if tracked already). */
  track(key: ConvKey, last: number | null, opts: { ordered?: boolean; recovering?: boolean } = {}): void {
    if (this.convs.has(key)) return;
    this.convs.set(key, { last, pending: new Map(), recovering: opts.recovering ?? false, stalled: false, ordered: opts.ordered ?? true });
  }

  forget(key: ConvKey): void {
    this.convs.delete(key);
  }

  setOrdered(key: ConvKey, ordered: boolean): void {
    const s = this.convs.get(key);
    if (s) s.ordered = ordered;
  }

  /** One message of a tracked conversation (untracked ones: call `track` first). */
  push(key: ConvKey, m: M): PushResult {
    const s = this.convs.get(key);
    if (!s) throw new Error(`conversation ${key} is not tracked`);
    if (s.last !== null && m.seq <= s.last) {
      this.duplicates++;
      return 'duplicate';
    }
    if (s.pending.has(m.seq)) {
      this.duplicates++;
      return 'duplicate';
    }
    if (s.last !== null && m.seq === s.last + 1) {
      s.last = m.seq;
      this.hooks.deliver(key, m);
      this.drain(key, s);
      return 'delivered';
    }
    if (s.last !== null && !s.ordered && !s.recovering) {
      // Not stored: what is missing cannot be fetched; say so and go on.
      this.hooks.gap(key, s.last + 1, m.seq - 1, 'not-durable');
      s.last = m.seq;
      this.hooks.deliver(key, m);
      return 'delivered';
    }
    s.pending.set(m.seq, m);
    this.checkStall(key, s);
    return 'buffered';
  }

  /** The conversation's position becomes known (first join reply): messages up to `seq` are history, not news. */
  setBase(key: ConvKey, seq: number): void {
    const s = this.convs.get(key);
    if (!s || s.last !== null) return;
    s.last = seq;
    this.drain(key, s);
  }

  beginRecovery(key: ConvKey): void {
    const s = this.convs.get(key);
    if (s) s.recovering = true;
  }

  /** The replay or fill is over: deliver what follows, and report a gap that is still open. */
  endRecovery(key: ConvKey): void {
    const s = this.convs.get(key);
    if (!s) return;
    s.recovering = false;
    s.stalled = false;
    this.drain(key, s);
  }

  /** Messages up to `seq` are lost: report them as a gap and move on. */
  skipTo(key: ConvKey, seq: number, reason: 'unrecoverable' | 'not-durable' = 'unrecoverable'): void {
    const s = this.convs.get(key);
    if (!s || s.last === null || seq <= s.last) return;
    this.hooks.gap(key, s.last + 1, seq, reason);
    s.last = seq;
    this.drain(key, s);
  }

  /**
   * The server's sequence for this conversation now stands at `seq`, which may
   * be lower than what was delivered (its counter restarted). Reports any
   * messages that were skipped and continues from `seq`.
   */
  reset(key: ConvKey, seq: number, reason: 'not-durable' | 'reset'): void {
    const s = this.convs.get(key);
    if (!s) return;
    if (s.last !== null && seq > s.last) this.hooks.gap(key, s.last + 1, seq, reason);
    s.last = seq;
    for (const k of [...s.pending.keys()]) if (k <= seq) s.pending.delete(k);
    this.drain(key, s);
  }

  /** Every tracked conversation's position (to recover from, or to persist). */
  positions(): Map<ConvKey, number> {
    const out = new Map<ConvKey, number>();
    for (const [k, s] of this.convs) if (s.last !== null) out.set(k, s.last);
    return out;
  }

  private drain(key: ConvKey, s: ConvState<M>): void {
    if (s.last === null) return;
    for (const k of [...s.pending.keys()]) if (k <= s.last) s.pending.delete(k);
    while (s.pending.size > 0) {
      const next = s.pending.get(s.last + 1);
      if (next) {
        s.pending.delete(next.seq);
        s.last = next.seq;
        this.hooks.deliver(key, next);
        continue;
      }
      if (!s.ordered && !s.recovering) {
        const first = this.firstPending(key)!;
        this.hooks.gap(key, s.last + 1, first - 1, 'not-durable');
        s.last = first - 1;
        continue;
      }
      break;
    }
    if (s.pending.size === 0) s.stalled = false;
    else this.checkStall(key, s);
  }

  private checkStall(key: ConvKey, s: ConvState<M>): void {
    if (s.last === null || s.recovering || s.stalled || s.pending.size === 0) return;
    s.stalled = true;
    this.hooks.stall(key);
  }
}
