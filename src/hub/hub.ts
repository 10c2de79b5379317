/**
 * The hub: sessions, users, rooms, presence and routing. Pure logic: it sees
 * sessions only through HubSession and does no I/O, so it can be driven by
 * tests with fake sessions. Every outgoing message is encoded exactly once.
 */
import { matchesAny, matchesPattern } from '../auth/patterns.js';
import type { RoomKind } from '../config/schema.js';
import { encodePush } from '../protocol/codec.js';
import { CloseCode, ErrorCode } from '../protocol/codes.js';
import type { MessagePush, PresencePush, ServerPush, SignalPush, TypingPush } from '../protocol/pushes.js';
import { HubError } from './errors.js';
import { Room } from './room.js';
import type { HubSession } from './session.js';
import { SharedBatch, type Tick } from './shared-batch.js';

export interface HubOptions {
  tick: Tick;
  now: () => number;
  nextId: () => string;
  roomRules: readonly { match: string; kind: RoomKind }[];
  presenceEvents: boolean;
  roomsPerSession: number;
  sessionPolicy: 'multiple' | 'replace';
  maxSessionsPerUser: number;
}

/** What a sender is told once its message has been accepted. */
export interface Ack {
  id: string;
  seq: number;
  ts: number;
}

export interface PresenceEntry {
  user: string;
  sessions: number;
}

export type ConnectResult = { ok: true } | { ok: false; code: number; reason: string };

const EMPTY: ReadonlySet<HubSession> = new Set();

export class Hub {
  private readonly users = new Map<string, Set<HubSession>>();
  private readonly rooms = new Map<string, Room>();
  /** Last sequence number per conversation (`r:room`, `d:userA\0userB`). In memory until the store owns it. */
  private readonly seqs = new Map<string, number>();
  private sessionCount = 0;

  constructor(private readonly opts: HubOptions) {}

  // ── sessions ────────────────────────────────────────────────────────────

  connect(s: HubSession): ConnectResult {
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
    return { ok: true };
  }

  /** Removes a session everywhere. Idempotent: the transport may call it more than once. */
  disconnect(s: HubSession): void {
    const mine = this.users.get(s.user);
    if (!mine || !mine.delete(s)) return;
    if (mine.size === 0) this.users.delete(s.user);
    this.sessionCount--;
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
    for (const r of this.opts.roomRules) if (matchesPattern(r.match, name)) return r.kind;
    return 'public';
  }

  join(s: HubSession, name: string): { room: string; kind: RoomKind; seq: number } {
    const kind = this.roomKind(name);
    if (kind === 'private' && !matchesAny(s.grants, name)) throw new HubError(ErrorCode.Forbidden, `room ${name} is private and your token does not grant it`);
    let room = this.rooms.get(name);
    if (!s.rooms.has(name)) {
      if (s.rooms.size >= this.opts.roomsPerSession) throw new HubError(ErrorCode.LimitExceeded, `at most ${this.opts.roomsPerSession} rooms per session`);
      if (!room) this.rooms.set(name, (room = new Room(name, kind)));
      room.members.add(s);
      s.rooms.add(name);
      // A batch already started this turn holds messages sent before the join: the new member reads only what follows.
      if (room.batch && room.batch.epoch === this.opts.tick.epoch) s.sendShared(room.batch, room.batch.chunks.length);
      const count = room.presence.get(s.user) ?? 0;
      room.presence.set(s.user, count + 1);
      if (count === 0 && this.opts.presenceEvents) this.toRoom(room, presenceEvent(name, s.user, 'join'));
    }
    return { room: name, kind, seq: this.seqs.get(`r:${name}`) ?? 0 };
  }

  leave(s: HubSession, name: string): void {
    const room = this.rooms.get(name);
    if (!room || !s.rooms.delete(name)) throw new HubError(ErrorCode.NotJoined, `not in room ${name}`);
    this.removeMember(room, s);
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
    if (room.members.size === 0) this.rooms.delete(room.name);
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

  publish(s: HubSession, name: string, contentType: string, body: unknown, key?: string): Ack {
    const room = this.rooms.get(name);
    if (!room || !s.rooms.has(name)) throw new HubError(ErrorCode.NotJoined, `join room ${name} before publishing to it`);
    if (room.kind === 'push') throw new HubError(ErrorCode.Forbidden, `room ${name} is push-only: only the server API publishes to it`);
    return this.roomMessage(room.name, room, s.user, contentType, body, key);
  }

  /** A message from the app's backend (server API): allowed in every kind of room, members or not. */
  serverPublish(name: string, from: string, contentType: string, body: unknown): Ack {
    return this.roomMessage(name, this.rooms.get(name), from, contentType, body, undefined);
  }

  private roomMessage(name: string, room: Room | undefined, from: string, contentType: string, body: unknown, key: string | undefined): Ack {
    const ts = this.opts.now();
    const seq = this.nextSeq(`r:${name}`);
    const id = this.opts.nextId();
    const push: MessagePush = { type: 'message', id, room: name, seq, from, contentType, body, ts };
    if (key !== undefined) push.key = key;
    if (room) this.toRoom(room, push);
    return { id, seq, ts };
  }

  /** A direct message: reaches every session of the recipient and of the sender. */
  sendDirect(s: HubSession, to: string, contentType: string, body: unknown, key?: string): Ack {
    const ts = this.opts.now();
    const seq = this.nextSeq(dmKey(s.user, to));
    const id = this.opts.nextId();
    const push: MessagePush = { type: 'message', id, to, seq, from: s.user, contentType, body, ts };
    if (key !== undefined) push.key = key;
    const bytes = encodePush(push);
    for (const r of this.sessionsOf(to)) r.send(bytes);
    if (to !== s.user) for (const r of this.sessionsOf(s.user)) r.send(bytes);
    return { id, seq, ts };
  }

  typing(s: HubSession, target: { room?: string; to?: string }, active: boolean): void {
    if (target.room !== undefined) {
      const room = this.rooms.get(target.room);
      if (!room || !s.rooms.has(target.room)) throw new HubError(ErrorCode.NotJoined, `not in room ${target.room}`);
      this.toRoom(room, { type: 'typing', room: target.room, from: s.user, active } satisfies TypingPush);
    } else if (target.to !== undefined) {
      const bytes = encodePush({ type: 'typing', to: target.to, from: s.user, active } satisfies TypingPush);
      for (const r of this.sessionsOf(target.to)) r.send(bytes);
    }
  }

  /** Call signaling, one to one: forwarded to every session of `to`, never stored. */
  signal(s: HubSession, to: string, callId: string, kind: string, data: unknown): { sessions: number } {
    const targets = this.sessionsOf(to);
    if (targets.size === 0) throw new HubError(ErrorCode.UserOffline, `${to} is not online`);
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

  private nextSeq(key: string): number {
    const seq = (this.seqs.get(key) ?? 0) + 1;
    this.seqs.set(key, seq);
    return seq;
  }

  /** Encodes once and appends to the room's batch for this turn, starting one if needed. */
  private toRoom(room: Room, push: ServerPush): void {
    if (room.members.size === 0) return;
    let batch = room.batch;
    if (batch === null || batch.epoch !== this.opts.tick.epoch) {
      batch = room.batch = new SharedBatch(this.opts.tick.epoch);
      for (const m of room.members) m.sendShared(batch, 0);
    }
    batch.add(encodePush(push));
  }
}

function presenceEvent(room: string, user: string, event: 'join' | 'leave'): PresencePush {
  return { type: 'presence', room, user, event };
}

/** Both directions of a conversation share one key. */
export function dmKey(a: string, b: string): string {
  return a < b ? `d:${a}\u0000${b}` : `d:${b}\u0000${a}`;
}
