/**
 * Delivery to this node's sessions. A room message is encoded once per codec
 * in use and appended to that codec's shared batch for this turn: the first
 * message of a turn starts the batch and hands a reference to every member of
 * the group, later ones only append — O(1) per message whatever the room's
 * size. Messages to a few sessions are encoded once per codec among them.
 */
import { CloseCode } from '../protocol/codes.js';
import type { MessagePush, ServerPush } from '../protocol/pushes.js';
import { DEFAULT_CODEC } from '../protocol/codecs.js';
import { SharedBatch, type Tick } from '../outbound/shared-batch.js';
import { DirectHold } from './direct-hold.js';
import { Encodings } from './encodings.js';
import type { DirectRoute, FanOut, FanOutListener } from './fanout.js';
import { LocalRoom, type CodecGroup } from './local-room.js';
import type { Recipient } from './recipient.js';

export interface LocalFanoutOptions {
  /** The outbound layer's flush epoch: a batch from an older epoch is closed. */
  tick: Tick;
  /** Most direct messages held for a recovering session before it is closed as a slow consumer (default 10000). */
  maxHeld?: number;
  /** Most bytes of them (default 4 MiB, a session's outbound queue limit). */
  maxHeldBytes?: number;
  listener?: FanOutListener;
  /** Told how many sessions each push was handed to (metrics); by default nobody. */
  counters?: DeliveryCounters;
}

/**
 * Deliveries, counted once per push whatever the number of its recipients (a room message to 10,000 members is one
 * call with 10,000). Implemented by the metrics (observe/metrics.ts).
 */
export interface DeliveryCounters {
  delivered(sessions: number): void;
}

const NO_COUNTERS: DeliveryCounters = { delivered: () => {} };

const EMPTY: ReadonlySet<never> = new Set();

export class LocalFanout<S extends Recipient = Recipient> implements FanOut<S> {
  private readonly users = new Map<string, Set<S>>();
  private readonly byId = new Map<string, S>();
  private readonly rooms = new Map<string, LocalRoom<S>>();
  /** Direct messages held back from sessions that are recovering. */
  private readonly holds = new Map<S, DirectHold>();
  private readonly tick: Tick;
  private readonly maxHeld: number;
  private readonly maxHeldBytes: number;
  private readonly counters: DeliveryCounters;
  private sessions = 0;
  /**
   * Groups that started a batch in epoch `startedIn`. A closed batch is needed only by the queues that hold it, yet
   * a group kept it until its room's next message: in rooms quieter than the young generation's collections (a few
   * per second) each message's batch, bytes and frame lived through two and went to the old generation, whose
   * collections then stalled delivery. So the first batch of an epoch lets go of the closed ones.
   */
  private readonly started: CodecGroup<S>[] = [];
  private startedIn = 0;

  constructor(private readonly opts: LocalFanoutOptions) {
    this.tick = opts.tick;
    this.maxHeld = opts.maxHeld ?? 10_000;
    this.maxHeldBytes = opts.maxHeldBytes ?? 4 * 1024 * 1024;
    this.counters = opts.counters ?? NO_COUNTERS;
  }

  // ── sessions ────────────────────────────────────────────────────────────

  addSession(s: S): void {
    let mine = this.users.get(s.user);
    if (!mine) this.users.set(s.user, (mine = new Set()));
    if (mine.has(s)) return;
    mine.add(s);
    this.byId.set(s.id, s);
    this.sessions++;
  }

  removeSession(s: S): boolean {
    const mine = this.users.get(s.user);
    if (!mine || !mine.delete(s)) return false;
    if (mine.size === 0) this.users.delete(s.user);
    if (this.byId.get(s.id) === s) this.byId.delete(s.id);
    this.sessions--;
    this.holds.delete(s);
    return true;
  }

  hasSession(s: S): boolean {
    return this.users.get(s.user)?.has(s) ?? false;
  }

  sessionsOf(user: string): ReadonlySet<S> {
    return this.users.get(user) ?? EMPTY;
  }

  session(id: string): S | undefined {
    return this.byId.get(id);
  }

  get sessionCount(): number {
    return this.sessions;
  }

  get userCount(): number {
    return this.users.size;
  }

  // ── rooms ───────────────────────────────────────────────────────────────

  join(name: string, s: S): void {
    let room = this.rooms.get(name);
    const first = room === undefined;
    if (!room) this.rooms.set(name, (room = new LocalRoom(name)));
    const group = room.add(s);
    // A batch already started this turn holds messages sent before the join: the new member reads only what follows.
    if (group && this.isOpen(group.batch)) s.sendShared(group.batch!, group.batch!.chunks.length);
    if (first) this.opts.listener?.roomOccupied?.(name);
  }

  leave(name: string, s: S): number {
    const room = this.rooms.get(name);
    const group = room ? room.remove(s) : null;
    if (!room || !group) return -1;
    // The leaver's queue may hold this turn's batch; later messages go into a fresh one it does not hold.
    if (group.batch && group.batch.epoch === this.tick.epoch) group.batch = null;
    if (room.size === 0) {
      this.rooms.delete(name);
      this.opts.listener?.roomVacated?.(name);
    }
    return room.size;
  }

  members(name: string): number {
    return this.rooms.get(name)?.size ?? 0;
  }

  // ── delivery ────────────────────────────────────────────────────────────

  toRoom(name: string, push: ServerPush): void {
    const room = this.rooms.get(name);
    if (!room) return;
    for (const g of room.groups) this.append(g, push);
    this.counters.delivered(room.size);
  }

  /** Encodes once for the group and appends to its batch for this turn, starting one if needed. */
  private append(g: CodecGroup<S>, push: ServerPush): void {
    // Encoded before a batch is started: if it throws, no member is left holding an empty batch (an empty frame).
    const bytes = g.codec.encode(push);
    let batch = g.batch;
    if (batch === null || batch.epoch !== this.tick.epoch || batch.written) {
      const epoch = this.tick.epoch;
      if (this.startedIn !== epoch) this.releaseClosed(epoch);
      batch = g.batch = new SharedBatch(epoch);
      this.started.push(g);
      for (const m of g.members) m.sendShared(batch, 0);
    }
    batch.add(bytes);
  }

  private releaseClosed(epoch: number): void {
    const started = this.started;
    for (let i = 0; i < started.length; i++) {
      const g = started[i]!;
      if (g.batch !== null && g.batch.epoch !== epoch) g.batch = null;
    }
    started.length = 0;
    this.startedIn = epoch;
  }

  private isOpen(batch: SharedBatch | null): boolean {
    return batch !== null && batch.epoch === this.tick.epoch && !batch.written;
  }

  direct(route: DirectRoute, push: MessagePush): void {
    const enc = new Encodings(push);
    let n = 0;
    route.users.forEach((user, i) => {
      if (route.users.indexOf(user) !== i) return;
      for (const r of this.sessionsOf(user)) {
        this.directTo(r, route, enc.for(r.codec));
        n++;
      }
    });
    this.counters.delivered(n);
  }

  private directTo(r: S, route: DirectRoute, bytes: Buffer): void {
    const hold = this.holds.size > 0 ? this.holds.get(r) : undefined;
    if (hold && !hold.wants(route.conv) && !hold.passes(route.conv, route.seq)) return;
    if (!hold?.wants(route.conv)) return r.send(bytes);
    hold.hold(route.conv, route.seq, bytes);
    if (hold.size > this.maxHeld || hold.bytes > this.maxHeldBytes) r.close(CloseCode.SlowConsumer, 'too many direct messages held while waiting for sync');
  }

  toSessions(sessions: Iterable<S>, push: ServerPush): number {
    const enc = new Encodings(push);
    let n = 0;
    for (const r of sessions) {
      r.send(enc.for(r.codec));
      n++;
    }
    this.counters.delivered(n);
    return n;
  }

  broadcast(push: ServerPush): number {
    const enc = new Encodings(push);
    let n = 0;
    for (const set of this.users.values())
      for (const s of set) {
        s.send(enc.for(s.codec));
        n++;
      }
    this.counters.delivered(n);
    return n;
  }

  replay(s: S, pushes: readonly MessagePush[], budget: number): number {
    const codec = s.codec ?? DEFAULT_CODEC;
    const out: Buffer[] = [];
    let bytes = 0;
    for (const p of pushes) {
      const b = codec.encode(p);
      bytes += b.length;
      if (bytes > budget) return -1;
      out.push(b);
    }
    for (const b of out) s.send(b);
    this.counters.delivered(out.length);
    return bytes;
  }

  // ── holds ───────────────────────────────────────────────────────────────

  hold(s: S, all: boolean): DirectHold {
    let h = this.holds.get(s);
    if (!h) this.holds.set(s, (h = new DirectHold(all)));
    return h;
  }

  holdOf(s: S): DirectHold | undefined {
    return this.holds.get(s);
  }

  releaseHold(s: S, hold: DirectHold): void {
    if (hold.idle && this.holds.get(s) === hold) this.holds.delete(s);
  }
}
