/**
 * The hub: sessions, users, rooms, presence and routing. Pure logic: it sees
 * sessions only through HubSession and does no I/O, so it can be driven by
 * tests with fake sessions. Every outgoing message is encoded exactly once.
 */
import { matchesAny, matchesPattern } from '../access/patterns.js';
import type { RoomKind } from '../config/schema.js';
import { encodePush } from '../protocol/codec.js';
import { CloseCode, ErrorCode } from '../protocol/codes.js';
import { MEDIA_CONTENT_TYPES } from '../protocol/commands.js';
import type { MessagePush, PresencePush, ServerPush, SignalPush, TypingPush, UnreadPush } from '../protocol/pushes.js';
import type { Ack, HistoryResult, JoinResult, PresenceEntry, SyncResult } from '../protocol/replies.js';
import type { Persistence } from '../store/committer.js';
import type { HistoryPage, NewMessage } from '../store/store.js';
import { dmConv, pushOf, roomConv, targetOf, type ConvTarget } from './conversations.js';
import { DirectHold } from './direct-hold.js';
import { HubError } from './errors.js';
import { Room } from './room.js';
import type { HubSession } from './session.js';
import { SharedBatch, type Tick } from '../outbound/shared-batch.js';
import { fileIdOf } from '../protocol/file-reference.js';
import { setOwn } from '../protocol/records.js';

export interface RoomRule {
  match: string;
  kind: RoomKind;
  durable?: boolean;
}

export interface HubOptions {
  tick: Tick;
  now: () => number;
  nextId: () => string;
  roomRules: readonly RoomRule[];
  /** Where durable conversations are stored; without it every conversation is ephemeral. */
  persistence?: Persistence | null;
  /** Most missed messages replayed by a recovering join or sync (default 1000). */
  recoveryLimit?: number;
  /** Largest history page (default 200). */
  historyMaxLimit?: number;
  /** Most direct messages held for a recovering session before it is closed as a slow consumer (default 10000). */
  maxHeld?: number;
  /** Most bytes of them (default 4 MiB, a session's outbound queue limit). */
  maxHeldBytes?: number;
  /**
   * Most bytes a recovering join, or one sync, replays (default 1 MiB): what is missed beyond it is left to the
   * client to page from history, at its own pace, rather than sent in one write a session could not keep up with.
   */
  recoveryMaxBytes?: number;
  presenceEvents: boolean;
  roomsPerSession: number;
  sessionPolicy: 'multiple' | 'replace';
  maxSessionsPerUser: number;
}

export type ConnectResult = { ok: true } | { ok: false; code: number; reason: string };

const EMPTY: ReadonlySet<HubSession> = new Set();

export type { Ack, HistoryResult, JoinResult, PresenceEntry, SyncResult };

export class Hub {
  private readonly users = new Map<string, Set<HubSession>>();
  private readonly rooms = new Map<string, Room>();
  /**
   * Last sequence number of each direct conversation, for a hub without a store only (with one, the store
   * numbers them). Non-durable rooms keep theirs on the Room, which goes when its last member leaves.
   */
  private readonly dmSeqs = new Map<string, number>();
  /** Last delivered seq of each durable room with members (kept with the room). */
  private readonly lastSeqs = new Map<string, number>();
  /** Direct messages held back from sessions that are recovering. */
  private readonly holds = new Map<HubSession, DirectHold>();
  private sessionCount = 0;
  private readonly persistence: Persistence | null;
  private readonly recoveryLimit: number;
  private readonly recoveryMaxBytes: number;
  private readonly historyMaxLimit: number;

  constructor(private readonly opts: HubOptions) {
    this.persistence = opts.persistence ?? null;
    this.recoveryLimit = opts.recoveryLimit ?? 1000;
    this.recoveryMaxBytes = opts.recoveryMaxBytes ?? 1024 * 1024;
    this.historyMaxLimit = opts.historyMaxLimit ?? 200;
  }

  // ── sessions ────────────────────────────────────────────────────────────

  /** Registers a session. With `resume`, its direct messages wait until its first `sync` has replayed what it missed. */
  connect(s: HubSession, opts: { resume?: boolean } = {}): ConnectResult {
    let mine = this.users.get(s.user);
    if (mine && mine.size > 0) {
      if (this.opts.sessionPolicy === 'replace') {
        for (const old of [...mine]) {
          this.disconnect(old);
          old.close(CloseCode.Replaced, 'replaced by a newer session');
        }
      } else if (mine.size >= this.opts.maxSessionsPerUser) {
        return { ok: false, code: CloseCode.TooManySessions, reason: `at most ${this.opts.maxSessionsPerUser} sessions per user` };
      }
    }
    mine = this.users.get(s.user);
    if (!mine) this.users.set(s.user, (mine = new Set()));
    mine.add(s);
    this.sessionCount++;
    if (opts.resume && this.persistence) this.holds.set(s, new DirectHold(true));
    return { ok: true };
  }

  /** Removes a session everywhere. Idempotent: the transport may call it more than once. */
  disconnect(s: HubSession): void {
    const mine = this.users.get(s.user);
    if (!mine || !mine.delete(s)) return;
    if (mine.size === 0) this.users.delete(s.user);
    this.sessionCount--;
    this.holds.delete(s);
    for (const name of s.rooms) {
      const room = this.rooms.get(name);
      if (room) this.removeMember(room, s);
    }
    s.rooms.clear();
  }

  isOnline(user: string): boolean {
    return this.users.has(user);
  }

  sessionsOf(user: string): ReadonlySet<HubSession> {
    return this.users.get(user) ?? EMPTY;
  }

  stats(): { sessions: number; users: number; rooms: number } {
    return { sessions: this.sessionCount, users: this.users.size, rooms: this.rooms.size };
  }

  // ── rooms ───────────────────────────────────────────────────────────────

  roomKind(name: string): RoomKind {
    return this.rule(name).kind;
  }

  /** Stored when a store is configured and the room's rule does not say otherwise. */
  isDurable(name: string): boolean {
    return this.persistence !== null && this.rule(name).durable !== false;
  }

  private rule(name: string): RoomRule {
    for (const r of this.opts.roomRules) if (matchesPattern(r.match, name)) return r;
    return PUBLIC;
  }

  /**
   * Joins a room. For a durable room the answer waits for the store, so that
   * `seq` is exact: every message after it reaches the session live, none
   * before it does. With `since`, the messages after it are replayed first,
   * in order, then live ones follow with no gap and no duplicate.
   */
  join(s: HubSession, name: string, since?: number): JoinResult | Promise<JoinResult> {
    const kind = this.roomKind(name);
    if (kind === 'private' && !matchesAny(s.grants, name)) throw new HubError(ErrorCode.Forbidden, `room ${name} is private and your token does not grant it`);
    const durable = this.isDurable(name);
    if (s.rooms.has(name)) return { room: name, kind, durable, seq: durable ? this.lastSeqHint(name) : this.rooms.get(name)!.seq };
    this.checkRoomLimit(s);
    if (!durable) {
      this.addMember(s, name, kind, false);
      const result: JoinResult = { room: name, kind, durable, seq: this.rooms.get(name)!.seq };
      if (since !== undefined) result.recovered = false;
      return result;
    }
    // A room with members already knows its last delivered seq, and every later commit reaches members
    // in order: a plain join needs no store round trip.
    const known = this.lastSeqs.get(name);
    if (since === undefined && known !== undefined && this.rooms.has(name)) {
      this.addMember(s, name, kind, true);
      return { room: name, kind, durable, seq: known };
    }
    const conv = roomConv(name);
    const after = since ?? Number.MAX_SAFE_INTEGER;
    return this.persistence!.history({ conv, after, limit: since === undefined ? 0 : this.recoveryLimit + 1 }).then((page) => {
      // The store answers in call order: messages stored before this read are in `page`, later ones will reach the member live.
      if (!this.isConnected(s)) throw new HubError(ErrorCode.NotJoined, 'session closed while joining');
      if (s.rooms.has(name)) return { room: name, kind, durable, seq: page.lastSeq };
      this.checkRoomLimit(s);
      const result: JoinResult = { room: name, kind, durable, seq: page.lastSeq };
      if (since !== undefined) {
        const replay = this.replayable(page, since) ? this.encodeReplay(page, this.recoveryMaxBytes) : null;
        result.recovered = replay !== null;
        result.missed = replay ? replay.length : Math.max(0, page.lastSeq - since);
        if (replay) for (const bytes of replay) s.send(bytes);
      }
      this.addMember(s, name, kind, true);
      this.lastSeqs.set(name, page.lastSeq);
      return result;
    });
  }

  leave(s: HubSession, name: string): void {
    const room = this.rooms.get(name);
    if (!room || !s.rooms.delete(name)) throw new HubError(ErrorCode.NotJoined, `not in room ${name}`);
    const lastOfUser = (room.presence.get(s.user) ?? 0) <= 1;
    this.removeMember(room, s);
    // Leaving on purpose ends the membership (disconnecting does not: offline delivery relies on it).
    if (lastOfUser && room.durable) this.persistence?.leave({ user: s.user, conv: roomConv(name) });
  }

  private checkRoomLimit(s: HubSession): void {
    if (s.rooms.size >= this.opts.roomsPerSession) throw new HubError(ErrorCode.LimitExceeded, `at most ${this.opts.roomsPerSession} rooms per session`);
  }

  private addMember(s: HubSession, name: string, kind: RoomKind, durable: boolean): void {
    let room = this.rooms.get(name);
    if (!room) this.rooms.set(name, (room = new Room(name, kind, durable)));
    room.members.add(s);
    s.rooms.add(name);
    // A batch already started this turn holds messages sent before the join: the new member reads only what follows.
    if (room.batch && room.batch.epoch === this.opts.tick.epoch && !room.batch.written) s.sendShared(room.batch, room.batch.chunks.length);
    const count = room.presence.get(s.user) ?? 0;
    room.presence.set(s.user, count + 1);
    if (count === 0) {
      if (durable) this.persistence!.join({ user: s.user, conv: roomConv(name) });
      if (this.opts.presenceEvents) this.toRoom(room, presenceEvent(name, s.user, 'join'));
    }
  }

  /** The page's messages encoded, or null if together they are more than `budget` bytes. */
  private encodeReplay(page: HistoryPage, budget: number): Buffer[] | null {
    // Their stored bodies already tell, most of the time, without encoding anything.
    if (withinBytes(page.messages, budget, 'oldest').length < page.messages.length) return null;
    const out: Buffer[] = [];
    let bytes = 0;
    for (const m of page.messages) {
      const b = encodePush(pushOf(m));
      bytes += b.length;
      if (bytes > budget) return null;
      out.push(b);
    }
    return out;
  }

  /** True when `page` holds every message after `since` (none trimmed away, not more than the limit). */
  private replayable(page: HistoryPage, since: number): boolean {
    if (page.messages.length > this.recoveryLimit) return false;
    if (page.lastSeq <= since) return true;
    return page.messages.length > 0 && page.messages[0]!.seq === since + 1;
  }

  private isConnected(s: HubSession): boolean {
    return this.users.get(s.user)?.has(s) ?? false;
  }

  /** The last sequence number delivered in a durable room this hub has seen. */
  private lastSeqHint(name: string): number {
    return this.lastSeqs.get(name) ?? 0;
  }

  private removeMember(room: Room, s: HubSession): void {
    if (!room.members.delete(s)) return;
    // The leaver's queue may hold this turn's batch; later messages go into a fresh one it does not hold.
    if (room.batch && room.batch.epoch === this.opts.tick.epoch) room.batch = null;
    const count = room.presence.get(s.user) ?? 0;
    if (count <= 1) {
      room.presence.delete(s.user);
      if (this.opts.presenceEvents && room.members.size > 0) this.toRoom(room, presenceEvent(room.name, s.user, 'leave'));
    } else room.presence.set(s.user, count - 1);
    if (room.members.size === 0) {
      this.rooms.delete(room.name);
      this.lastSeqs.delete(room.name);
    }
  }

  presence(s: HubSession, name: string): { room: string; users: PresenceEntry[] } {
    const kind = this.roomKind(name);
    if (kind === 'private' && !s.rooms.has(name) && !matchesAny(s.grants, name)) throw new HubError(ErrorCode.Forbidden, `room ${name} is private`);
    const room = this.rooms.get(name);
    const users: PresenceEntry[] = [];
    if (room) for (const [user, sessions] of room.presence) users.push({ user, sessions });
    return { room: name, users };
  }

  // ── messages ────────────────────────────────────────────────────────────

  publish(s: HubSession, name: string, contentType: string, body: unknown, key?: string): Ack | Promise<Ack> {
    const room = this.rooms.get(name);
    if (!room || !s.rooms.has(name)) throw new HubError(ErrorCode.NotJoined, `join room ${name} before publishing to it`);
    if (room.kind === 'push') throw new HubError(ErrorCode.Forbidden, `room ${name} is push-only: only the server API publishes to it`);
    return this.roomMessage(name, s.user, contentType, body, key);
  }

  /** A message from the app's backend (server API): allowed in every kind of room, members or not. */
  serverPublish(name: string, from: string, contentType: string, body: unknown, key?: string): Ack | Promise<Ack> {
    return this.roomMessage(name, from, contentType, body, key);
  }

  private roomMessage(name: string, from: string, contentType: string, body: unknown, key: string | undefined): Ack | Promise<Ack> {
    const ts = this.opts.now();
    const id = this.opts.nextId();
    if (!this.isDurable(name)) {
      // Nothing is kept of a non-durable room without members: a message to it reaches no one and gets no number.
      const room = this.rooms.get(name);
      if (!room) return { id, seq: 0, ts };
      const seq = ++room.seq;
      this.toRoom(room, messagePush(id, name, undefined, seq, from, contentType, body, ts, key));
      return { id, seq, ts };
    }
    return this.store(newMessage(id, roomConv(name), from, contentType, body, ts, key), null, (seq) => {
      const room = this.rooms.get(name);
      if (!room) return;
      this.lastSeqs.set(name, seq);
      this.toRoom(room, messagePush(id, name, undefined, seq, from, contentType, body, ts, key));
    });
  }

  /** A direct message: reaches every session of the recipient and of the sender. */
  sendDirect(s: HubSession, to: string, contentType: string, body: unknown, key?: string): Ack | Promise<Ack> {
    const ts = this.opts.now();
    const id = this.opts.nextId();
    const from = s.user;
    const conv = dmConv(from, to);
    if (!this.persistence) {
      const seq = (this.dmSeqs.get(conv) ?? 0) + 1;
      this.dmSeqs.set(conv, seq);
      this.toUsers(conv, from, to, seq, encodePush(messagePush(id, undefined, to, seq, from, contentType, body, ts, key)));
      return { id, seq, ts };
    }
    const joins = from === to ? [{ user: from, conv }] : [{ user: from, conv }, { user: to, conv }];
    return this.store(newMessage(id, conv, from, contentType, body, ts, key), joins, (seq) =>
      this.toUsers(conv, from, to, seq, encodePush(messagePush(id, undefined, to, seq, from, contentType, body, ts, key))),
    );
  }

  private toUsers(conv: string, from: string, to: string, seq: number, bytes: Buffer): void {
    this.toSessions(this.sessionsOf(to), conv, seq, bytes);
    if (to !== from) this.toSessions(this.sessionsOf(from), conv, seq, bytes);
  }

  private toSessions(sessions: ReadonlySet<HubSession>, conv: string, seq: number, bytes: Buffer): void {
    for (const r of sessions) {
      const hold = this.holds.size > 0 ? this.holds.get(r) : undefined;
      if (!hold?.wants(conv)) {
        r.send(bytes);
        continue;
      }
      hold.hold(conv, seq, bytes);
      if (hold.size > (this.opts.maxHeld ?? 10_000) || hold.bytes > (this.opts.maxHeldBytes ?? 4 * 1024 * 1024))
        r.close(CloseCode.SlowConsumer, 'too many direct messages held while waiting for sync');
    }
  }

  /** Queues a message for the store; once durable, `deliver` runs (unless it was a resend) and the ack resolves. */
  private store(msg: NewMessage, joins: { user: string; conv: string }[] | null, deliver: (seq: number) => void): Promise<Ack> {
    return new Promise((resolve, reject) => {
      const queued = this.persistence!.append(msg, joins, (err, r) => {
        if (err || !r) return reject(new HubError(ErrorCode.Unavailable, 'the message could not be stored; send it again with the same key'));
        if (r.refused) return reject(new HubError(ErrorCode.Forbidden, 'the message refers to a file you may not read'));
        if (!r.duplicate) deliver(r.seq);
        resolve(r.duplicate ? { id: r.id, seq: r.seq, ts: r.ts, duplicate: true } : { id: r.id, seq: r.seq, ts: r.ts });
      });
      if (!queued) reject(new HubError(ErrorCode.Unavailable, 'the server is storing too many messages; retry shortly'));
    });
  }

  // ── durable conversations: recovery, history, unread ─────────────────────

  /**
   * Replays direct conversations (partner → last seq seen). Live messages of
   * those conversations are held back for this session meanwhile and released
   * after the replay, skipping any the replay already carried; a session that
   * connected with `resume` has had all its direct messages held until now.
   */
  /** A `sync` this session sent was refused: the hold of a resuming session ends all the same (nothing is replayed). */
  syncRefused(s: HubSession): void {
    const hold = this.holds.get(s);
    if (!hold?.all) return;
    hold.all = false;
    hold.release(s, new Map());
    if (hold.idle) this.holds.delete(s);
  }

  async sync(s: HubSession, since: Readonly<Record<string, number>>): Promise<SyncResult> {
    const partners = Object.keys(since);
    const result: SyncResult = { conversations: {} };
    const hold = this.holds.get(s) ?? new DirectHold(false);
    if (!this.persistence) {
      for (const p of partners) setOwn(result.conversations, p, { recovered: false, missed: 0, seq: this.dmSeqs.get(dmConv(s.user, p)) ?? 0 });
      return result;
    }
    const convs = partners.map((p) => dmConv(s.user, p));
    convs.forEach((c, i) => {
      if (hold.syncing.has(c)) throw new HubError(ErrorCode.InvalidRequest, `a sync with ${partners[i]} is already running`);
    });
    for (const c of convs) hold.syncing.add(c);
    this.holds.set(s, hold);
    const replayed = new Map<string, number>();
    const settle = (): void => {
      for (const c of convs) hold.syncing.delete(c);
      hold.all = false;
      if (!this.isConnected(s)) return;
      hold.release(s, replayed);
      if (hold.idle && this.holds.get(s) === hold) this.holds.delete(s);
    };
    let pages: HistoryPage[];
    try {
      pages = await Promise.all(convs.map((conv, i) => this.persistence!.history({ conv, after: since[partners[i]!]!, limit: this.recoveryLimit + 1 })));
    } catch (err) {
      settle(); // nothing replayed: whatever was held goes out live rather than being lost
      throw err;
    }
    // One budget for the whole sync: conversations past it are left to history, like those past the count.
    let budget = this.recoveryMaxBytes;
    partners.forEach((p, i) => {
      const page = pages[i]!;
      const from = since[p]!;
      const replay = this.replayable(page, from) ? this.encodeReplay(page, budget) : null;
      const ok = replay !== null;
      // A client can claim numbers this store never gave (its database restored from an older backup, say): what it
      // has is then at most the store's last, so live messages held meanwhile above that still go out, and the
      // reply's seq (the conversation's last, as join reports a room's) comes below its `since`, which tells it.
      let last = Math.min(from, page.lastSeq);
      if (replay)
        replay.forEach((bytes, j) => {
          s.send(bytes);
          budget -= bytes.length;
          last = page.messages[j]!.seq;
        });
      if (ok) replayed.set(convs[i]!, last);
      setOwn(result.conversations, p, { recovered: ok, missed: ok ? page.messages.length : Math.max(0, page.lastSeq - from), seq: Math.max(page.lastSeq, last) });
    });
    settle();
    return result;
  }

  async history(s: HubSession, target: ConvTarget, opts: { before?: number; after?: number; limit?: number }): Promise<HistoryResult> {
    const conv = 'room' in target ? roomConv(target.room) : dmConv(s.user, target.with);
    const limit = Math.min(opts.limit ?? 50, this.historyMaxLimit);
    const result: HistoryResult = { ...('room' in target ? { room: target.room } : { with: target.with }), messages: [], oldestSeq: 0, lastSeq: 0, hasMore: false };
    if ('room' in target) {
      if (!this.isDurable(target.room)) return result;
      if (!s.rooms.has(target.room) && !(await this.persistence!.isMember(s.user, conv)))
        throw new HubError(ErrorCode.Forbidden, `only members of ${target.room} may read its history`);
    } else if (!this.persistence) return result;
    const page = await this.persistence!.history({ conv, before: opts.before, after: opts.after, limit });
    // A page goes out as one reply: cut at the recovery byte budget, as a replay is (paging on is what `hasMore` is for).
    const messages = withinBytes(page.messages, this.recoveryMaxBytes, opts.after !== undefined ? 'oldest' : 'newest');
    result.messages = messages.map(pushOf);
    result.oldestSeq = page.oldestSeq;
    result.lastSeq = page.lastSeq;
    const first = messages[0]?.seq;
    const last = messages[messages.length - 1]?.seq;
    result.hasMore =
      opts.after !== undefined ? last !== undefined && last < page.lastSeq : first !== undefined && first > page.oldestSeq;
    return result;
  }

  /** Moves the user's read position in a conversation forward; resolves once that is stored. */
  read(s: HubSession, target: ConvTarget, seq: number): Promise<void> | void {
    if (!this.persistence) return;
    const conv = 'room' in target ? roomConv(target.room) : dmConv(s.user, target.with);
    return this.persistence.read({ user: s.user, conv, seq });
  }

  /** The unread summary a session gets on connect: every conversation the user belongs to. */
  async unread(s: HubSession): Promise<UnreadPush | null> {
    if (!this.persistence) return null;
    const list = await this.persistence.memberships(s.user);
    return {
      type: 'unread',
      conversations: list.map((m) => ({ ...targetOf(m.conv, s.user), lastSeq: m.lastSeq, readSeq: m.readSeq, unread: Math.max(0, m.lastSeq - m.readSeq) })),
    };
  }

  typing(s: HubSession, target: { room?: string; to?: string }, active: boolean): void {
    if (target.room !== undefined) {
      const room = this.rooms.get(target.room);
      if (!room || !s.rooms.has(target.room)) throw new HubError(ErrorCode.NotJoined, `not in room ${target.room}`);
      // Nobody writes in a push-only room, so nobody is typing there either.
      if (room.kind === 'push') throw new HubError(ErrorCode.Forbidden, `room ${target.room} is push-only`);
      this.toRoom(room, { type: 'typing', room: target.room, from: s.user, active } satisfies TypingPush);
    } else if (target.to !== undefined) {
      const bytes = encodePush({ type: 'typing', to: target.to, from: s.user, active } satisfies TypingPush);
      for (const r of this.sessionsOf(target.to)) r.send(bytes);
    }
  }

  /** Call signaling, one to one: forwarded to every session of `to` (or just `session`), never stored. */
  signal(s: HubSession, to: string, callId: string, kind: string, data: unknown, session?: string): { sessions: number } {
    let targets = this.sessionsOf(to);
    if (session !== undefined) {
      const one = [...targets].find((t) => t.id === session);
      targets = one ? new Set([one]) : new Set();
    }
    if (targets.size === 0) throw new HubError(ErrorCode.UserOffline, session === undefined ? `${to} is not online` : `${to} has no session ${session}`);
    const push: SignalPush = { type: 'signal', from: s.user, session: s.id, callId, kind };
    if (data !== undefined) push.data = data;
    const bytes = encodePush(push);
    for (const r of targets) r.send(bytes);
    return { sessions: targets.size };
  }

  /** Sends a push to every connected session (server API broadcast, notices). */
  broadcast(push: ServerPush): number {
    const bytes = encodePush(push);
    let n = 0;
    for (const set of this.users.values())
      for (const s of set) {
        s.send(bytes);
        n++;
      }
    return n;
  }

  /** Encodes once and appends to the room's batch for this turn, starting one if needed. */
  private toRoom(room: Room, push: ServerPush): void {
    if (room.members.size === 0) return;
    // Encoded before a batch is started: if it throws, no member is left holding an empty batch (an empty frame).
    const bytes = encodePush(push);
    let batch = room.batch;
    if (batch === null || batch.epoch !== this.opts.tick.epoch || batch.written) {
      batch = room.batch = new SharedBatch(this.opts.tick.epoch);
      for (const m of room.members) m.sendShared(batch, 0);
    }
    batch.add(bytes);
  }
}

/**
 * The longest run of `messages`, from the oldest or the newest end, whose stored bodies (plus what a push adds
 * around a body) fit in `budget` bytes; at least one message, however large, so that paging always moves on.
 */
function withinBytes<M extends { body: string }>(messages: readonly M[], budget: number, keep: 'oldest' | 'newest'): readonly M[] {
  let bytes = 0;
  const n = messages.length;
  for (let i = 0; i < n; i++) {
    bytes += Buffer.byteLength(messages[keep === 'oldest' ? i : n - 1 - i]!.body) + PUSH_OVERHEAD_BYTES;
    if (bytes > budget && i > 0) return keep === 'oldest' ? messages.slice(0, i) : messages.slice(n - i);
  }
  return messages;
}

/** What a `message` push adds around its body (type, ids, room or users, seq, timestamp), as an estimate. */
const PUSH_OVERHEAD_BYTES = 200;

const PUBLIC: RoomRule = { match: '*', kind: 'public' };

function presenceEvent(room: string, user: string, event: 'join' | 'leave'): PresencePush {
  return { type: 'presence', room, user, event };
}

/** Builds a message push with its fields always in the same order. */
function messagePush(
  id: string,
  room: string | undefined,
  to: string | undefined,
  seq: number,
  from: string,
  contentType: string,
  body: unknown,
  ts: number,
  key: string | undefined,
): MessagePush {
  const push = { type: 'message', id } as MessagePush;
  if (room !== undefined) push.room = room;
  if (to !== undefined) push.to = to;
  push.seq = seq;
  push.from = from;
  push.contentType = contentType;
  push.body = body;
  push.ts = ts;
  if (key !== undefined) push.key = key;
  return push;
}

function newMessage(id: string, conv: string, from: string, contentType: string, body: unknown, ts: number, key: string | undefined): NewMessage {
  let fileId: string | null = null;
  if ((MEDIA_CONTENT_TYPES as readonly string[]).includes(contentType)) {
    const url = (body as { url?: unknown }).url;
    if (typeof url === 'string') fileId = fileIdOf(url);
  }
  return { id, conv, from, contentType, body: JSON.stringify(body), ts, key: key ?? null, fileId };
}
