/**
 * The reconnect storm's check (workload g): for every connection and each of
 * its rooms, the last `seq` it saw. A room's messages must come one after the
 * other — before a cut, in the replay of a `join` with `since`, and live after
 * it — so any step other than +1 is a gap or a duplicate. One small array per
 * connection, and the work is done only for connections that track (the other
 * workloads' fast path does not come here).
 */

export interface SeqCounts {
  /** Messages whose seq jumped past the next one, and how many seqs were skipped in all. */
  gaps: number;
  missing: number;
  /** Messages with a seq at or below one already seen in that room. */
  duplicates: number;
  /** Recovering joins answered `recovered:false` (nothing replayed: the session would have to page history). */
  unrecovered: number;
  /** Recovering joins whose reply came before the replay had reached the reply's seq. */
  short: number;
  /** Connections with at least one of the above. */
  badSessions: number;
  /** Recovering joins answered, and the messages replayed before their replies. */
  resumedJoins: number;
  replayed: number;
}

export const emptySeqCounts = (): SeqCounts => ({ gaps: 0, missing: 0, duplicates: 0, unrecovered: 0, short: 0, badSessions: 0, resumedJoins: 0, replayed: 0 });

export function addSeqCounts(a: SeqCounts, b: SeqCounts): SeqCounts {
  const out = emptySeqCounts();
  for (const k of Object.keys(out) as (keyof SeqCounts)[]) out[k] = a[k] + b[k];
  return out;
}

const ROOM_KEY = Buffer.from('"room":"');
const SEQ_KEY = Buffer.from('"seq":');
const QUOTE = 0x22;
/** Not joined yet: the first join reply sets the starting point. */
const UNSET = -1;

export class SeqTracker {
  private readonly rooms: string[][] = [];
  private readonly last: number[][] = [];
  /** Per connection and room: a join with since was sent and its reply is not in yet — messages now are the replay. */
  private readonly rejoining: boolean[][] = [];
  private readonly bad = new Set<number>();
  private readonly counts = emptySeqCounts();

  add(index: number, rooms: string[]): void {
    this.rooms[index] = rooms;
    this.last[index] = rooms.map(() => UNSET);
    this.rejoining[index] = rooms.map(() => false);
  }

  /** What a reconnecting connection puts in its joins' `since`, room by room, and from now on counts as replay. */
  since(index: number): number[] {
    this.rejoining[index] = this.rooms[index]!.map(() => true);
    return this.last[index]!.map((s) => Math.max(0, s));
  }

  /** One `message` line, `p[pos, end)`; direct messages (no room) and rooms the connection did not join are ignored. */
  message(index: number, p: Buffer, pos: number, end: number): void {
    const r = p.indexOf(ROOM_KEY, pos);
    if (r === -1 || r >= end) return;
    const nameAt = r + ROOM_KEY.length;
    const nameEnd = p.indexOf(QUOTE, nameAt);
    const k = this.rooms[index]?.indexOf(p.toString('latin1', nameAt, nameEnd)) ?? -1;
    if (k < 0) return;
    let i = p.indexOf(SEQ_KEY, pos);
    if (i === -1 || i >= end) return;
    i += SEQ_KEY.length;
    let seq = 0;
    for (; i < end; i++) {
      const ch = p[i]!;
      if (ch < 48 || ch > 57) break;
      seq = seq * 10 + (ch - 48);
    }
    const last = this.last[index]!;
    const prev = last[k]!;
    if (this.rejoining[index]![k]) this.counts.replayed++;
    if (prev === UNSET) {
      last[k] = seq;
      return;
    }
    if (seq <= prev) {
      this.counts.duplicates++;
      this.bad.add(index);
      return;
    }
    if (seq > prev + 1) {
      this.counts.gaps++;
      this.counts.missing += seq - prev - 1;
      this.bad.add(index);
    }
    last[k] = seq;
  }

  /**
   * The reply to the connection's join of its `k`th room: `seq` is the room's last at that moment. After a
   * join with `since` the replay must have reached it; what it did not is counted missing once, here.
   */
  joined(index: number, k: number, seq: number, recovered: boolean | undefined): void {
    const last = this.last[index];
    if (!last || k < 0 || k >= last.length) return;
    if (this.rejoining[index]![k]) {
      this.rejoining[index]![k] = false;
      this.counts.resumedJoins++;
      if (recovered !== true) {
        this.counts.unrecovered++;
        this.bad.add(index);
      }
      if (last[k]! < seq) {
        this.counts.short++;
        this.counts.missing += seq - Math.max(0, last[k]!);
        this.bad.add(index);
      }
    }
    if (last[k]! < seq) last[k] = seq;
  }

  stats(): SeqCounts {
    return { ...this.counts, badSessions: this.bad.size };
  }
}
