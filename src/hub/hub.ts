/**
 * The hub: sessions, rooms, presence and routing decisions. Pure logic: it
 * sees sessions only through HubSession, asks the access rules who may do
 * what, numbers and stores messages through the Persistence port, and hands
 * every routed message to the fan-out, which delivers it. It encodes nothing
 * and does no I/O, so it can be driven by tests with fake sessions.
 */
import { isBackend, type Actor, type BackendActor, type UserActor } from '../access/actor.js';
import { matchesPattern } from '../access/patterns.js';
import { mayJoin, mayPublish, mayReadDirect, maySeePresence, maySendDirect } from '../access/rules.js';
import type { FanOut } from '../fanout/fanout.js';
import { LocalFanout, type DeliveryCounters, type LocalFanoutOptions } from '../fanout/local-fanout.js';
import { CloseCode, ErrorCode } from '../protocol/codes.js';
import type { ServerPush, UnreadPush } from '../protocol/pushes.js';
import { setOwn } from '../protocol/records.js';
import type { Ack, HistoryResult, JoinResult, PresenceEntry, RoomKind, SyncResult } from '../protocol/replies.js';
import { dmConv, type ConvTarget } from './conversations.js';
import type { ClusterInbound, ClusterPort } from './cluster.js';
import { RemoteDecisions } from './cluster-inbound.js';
import type { HubEvents } from './events.js';
import { check, HubError } from './errors.js';
import type { Persistence, RoomRegistry } from './persistence.js';
import { RoomAdmin } from './room-admin.js';
import { Recovery } from './recovery.js';
import { RoomDirectory } from './room-directory.js';
import { Ephemeral } from './ephemeral.js';
import { Membership } from './membership.js';
import { joinRecent, joinStored, type RecentJoinDeps } from './room-join.js';
import { Publisher } from './publisher.js';
import type { Sequencer } from './sequencer.js';
import type { DirectOrder } from './direct-order.js';
import { orderings } from './ordering.js';
import type { RoomState } from './room-state.js';
import type { HubSession } from './session.js';

import type { HubOptions, RoomRule } from './hub-options.js';

export type { HubOptions, RoomRule };

export type ConnectResult = { ok: true } | { ok: false; code: number; reason: string };

export type { Ack, HistoryResult, JoinResult, PresenceEntry, SyncResult };

/** Longest a join of a non-durable room new on this node waits for the other nodes' answers. */
const WATCH_WAIT_MS = 1_000;

function atMost(p: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]).finally(() => clearTimeout(timer));
}

export class Hub {
  private readonly rooms: Membership;
  /** user → until when (ms) new sessions are refused: a disconnect by the backend with a ban. */
  private readonly bans = new Map<string, number>();
  private readonly persistence: Persistence | null;
  readonly fanout: FanOut<HubSession>;
  private readonly recovery: Recovery;
  private readonly events: HubEvents;
  /** Rooms the backend manages (server API): their settings win over the room rules. */
  readonly directory = new RoomDirectory();
  /** The server API's management of rooms and their members. */
  readonly admin: RoomAdmin;
  /** The user whose older sessions a new one is replacing (sessions.policy = replace), while it does. */
  private replacing: string | null = null;
  readonly cluster: ClusterPort | null;
  /** Durable room messages to this node's members in seq order, gaps filled from the store. */
  readonly sequencer: Sequencer<RoomState>;
  /** Direct messages likewise, with a cluster (one node delivers them in commit order, which is seq order). */
  private readonly directOrder: DirectOrder | null;
  /** What the cluster layer hands over from other nodes (null without a cluster). */
  readonly inbound: ClusterInbound | null;
  private readonly ephemeral: Ephemeral;
  private readonly publisher: Publisher;
  private readonly recentJoins: RecentJoinDeps;

  constructor(private readonly opts: HubOptions) {
    this.persistence = opts.persistence ?? null;
    this.events = opts.events ?? {};
    this.fanout = opts.fanout ?? new LocalFanout<HubSession>({ tick: opts.tick, maxHeld: opts.maxHeld, maxHeldBytes: opts.maxHeldBytes, counters: opts.deliveries });
    this.cluster = opts.cluster ?? null;
    ({ rooms: this.sequencer, direct: this.directOrder } = orderings({
      fanout: this.fanout,
      persistence: this.persistence,
      clustered: this.cluster !== null,
      defer: opts.defer,
      gapWaitMs: opts.gapWaitMs,
      fillLimit: opts.recoveryLimit,
      recentPerRoom: opts.recentPerRoom ?? 32,
      recentCharsPerRoom: opts.recentCharsPerRoom ?? 64 * 1024,
    }));
    this.rooms = new Membership(this.fanout, this.persistence, this.events, opts.presenceEvents, this.cluster, (room) => this.sequencer.catchUp(room));
    this.recentJoins = {
      fanout: this.fanout,
      rooms: this.rooms,
      directory: this.directory,
      retention: opts.retention ?? {},
      recoveryLimit: opts.recoveryLimit ?? 1000,
      recoveryMaxBytes: opts.recoveryMaxBytes ?? 1024 * 1024,
      now: opts.now,
    };
    this.admin = new RoomAdmin({
      directory: this.directory,
      registry: opts.registry ?? null,
      rooms: this.rooms,
      effective: (name) => ({ kind: this.roomKind(name), durable: this.isDurable(name) }),
      storing: this.persistence !== null,
      now: opts.now,
      tell: this.cluster ? (op) => this.cluster!.control(op) : undefined,
    });
    this.publisher = new Publisher({
      rooms: this.rooms,
      fanout: this.fanout,
      cluster: this.cluster,
      persistence: this.persistence,
      events: this.events,
      sequencer: this.sequencer,
      directOrder: this.directOrder,
      nextId: opts.nextId,
      now: opts.now,
      isDurable: (name) => this.isDurable(name),
      isOnline: (user) => this.isOnline(user),
    });
    this.ephemeral = new Ephemeral(this.fanout, this.cluster, (room) => this.rooms.get(room)?.kind ?? this.roomKind(room));
    this.inbound = this.cluster
      ? new RemoteDecisions({
          cluster: this.cluster,
          fanout: this.fanout,
          rooms: this.rooms,
          sequencer: this.sequencer,
          directOrder: this.directOrder,
          directory: this.directory,
          kindOf: (name) => this.roomKind(name),
          ban: (user, until) => this.banLocal(user, until),
          drop: (s, code, reason) => {
            this.disconnect(s, code, reason);
            s.close(code, reason);
          },
          sessionPolicy: opts.sessionPolicy,
          maxSessionsPerUser: opts.maxSessionsPerUser,
        })
      : null;
    this.recovery = new Recovery(
      this.persistence,
      this.fanout,
      { recoveryLimit: opts.recoveryLimit ?? 1000, recoveryMaxBytes: opts.recoveryMaxBytes ?? 1024 * 1024, historyMaxLimit: opts.historyMaxLimit ?? 200 },
      (room) => this.isDurable(room),
    );
  }

  // ── sessions ────────────────────────────────────────────────────────────

  /** Registers a session. With `resume`, its direct messages wait until its first `sync` has replayed what it missed. */
  connect(s: HubSession, opts: { resume?: boolean } = {}): ConnectResult {
    if (this.bans.size > 0 && this.isBanned(s.user)) return { ok: false, code: CloseCode.Disconnected, reason: 'refused by the server for a while; try again later' };
    const mine = this.fanout.sessionsOf(s.user);
    // With a cluster the limits count the user's sessions on every node (the other nodes enforce them too, as
    // they hear of this one: cluster-inbound.ts).
    const total = this.cluster ? this.cluster.userSessions(s.user) : mine.size;
    const wasOnline = total > 0;
    if (wasOnline) {
      if (this.opts.sessionPolicy === 'replace') {
        // The user stays online throughout: no offline event for the sessions replaced.
        this.replacing = s.user;
        for (const old of [...mine]) {
          this.disconnect(old, CloseCode.Replaced, 'replaced by a newer session');
          old.close(CloseCode.Replaced, 'replaced by a newer session');
        }
        this.replacing = null;
      } else if (total >= this.opts.maxSessionsPerUser) {
        return { ok: false, code: CloseCode.TooManySessions, reason: `at most ${this.opts.maxSessionsPerUser} sessions per user` };
      }
    }
    this.fanout.addSession(s);
    this.cluster?.sessionAdded(s.id, s.user, this.opts.now());
    if (opts.resume && this.persistence) this.fanout.hold(s, true);
    if (!wasOnline) this.events.userOnline?.(s.user);
    return { ok: true };
  }

  /**
   * Removes a session everywhere, with the code its connection was closed with (for the events). Idempotent: the
   * transport may call it more than once, and the first call's code is the one told.
   */
  disconnect(s: HubSession, code: number = CloseCode.Abnormal, reason = ''): void {
    if (!this.fanout.removeSession(s)) return;
    for (const name of s.rooms) {
      const room = this.rooms.get(name);
      if (room) this.rooms.remove(room, s);
    }
    s.rooms.clear();
    this.cluster?.sessionRemoved(s.id);
    if (this.directOrder && this.fanout.sessionsOf(s.user).size === 0) this.directOrder.forget(s.user);
    this.events.sessionDisconnected?.(s.id, s.user, code, reason);
    if (!this.isOnline(s.user) && this.replacing !== s.user) this.events.userOffline?.(s.user);
  }

  /** Closes every session of a user, on every node, with `code`; how many. */
  disconnectUser(user: string, code: number, reason: string): number {
    const all = this.cluster?.userSessions(user) ?? 0;
    this.cluster?.control({ op: 'disconnectUser', user, code, reason });
    const here = [...this.fanout.sessionsOf(user)];
    for (const s of here) s.close(code, reason);
    return Math.max(all, here.length);
  }

  /** Refuses the user's new sessions, on every node, until `until` (ms, on the hub's clock). */
  ban(user: string, until: number): void {
    this.banLocal(user, until);
    this.cluster?.control({ op: 'ban', user, until });
  }

  banLocal(user: string, until: number): void {
    this.bans.set(user, until);
  }

  private isBanned(user: string): boolean {
    const until = this.bans.get(user);
    if (until === undefined) return false;
    if (until > this.opts.now()) return true;
    this.bans.delete(user);
    return false;
  }

  /** Closes one session by id, on whichever node holds it; false if none does. */
  disconnectSession(id: string, code: number, reason: string): boolean {
    const s = this.fanout.session(id);
    if (s) s.close(code, reason);
    else if (this.cluster?.hasSession(id)) this.cluster.control({ op: 'disconnectSession', session: id, code, reason });
    else return false;
    return true;
  }

  /** Whether the user has a session on any node. */
  isOnline(user: string): boolean {
    return this.cluster ? this.cluster.userSessions(user) > 0 : this.fanout.sessionsOf(user).size > 0;
  }

  /** The user's sessions on this node. */
  sessionsOf(user: string): ReadonlySet<HubSession> {
    return this.fanout.sessionsOf(user);
  }

  /** The ids of the user's sessions on every node. */
  sessionIdsOf(user: string): string[] {
    return this.cluster ? this.cluster.sessionsOf(user).map((s) => s.id) : [...this.fanout.sessionsOf(user)].map((s) => s.id);
  }

  stats(): { sessions: number; users: number; rooms: number } {
    return { sessions: this.fanout.sessionCount, users: this.fanout.userCount, rooms: this.rooms.size };
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
    const managed = this.directory.get(name);
    if (managed) return { match: name, kind: managed.kind, durable: managed.durable };
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
    // The rule is looked up once (roomKind and isDurable each look it up).
    const rule = this.rule(name);
    const kind = rule.kind;
    check(mayJoin(s, name, kind, this.directory.isMember(name, s.user)));
    const durable = this.persistence !== null && rule.durable !== false;
    if (s.rooms.has(name)) return { room: name, kind, durable, seq: durable ? (this.rooms.get(name)?.lastSeq ?? 0) : this.rooms.get(name)!.seq };
    this.checkRoomLimit(s);
    if (!durable) {
      const room = this.rooms.add(s, name, kind, false);
      const result: JoinResult = { room: name, kind, durable, seq: room.seq };
      if (since !== undefined) result.recovered = false;
      // Nothing in the store to catch up from: the reply waits (a bounded time: a node that died does not answer)
      // until the other nodes send this one the room's messages.
      return room.watching ? atMost(room.watching, WATCH_WAIT_MS).then(() => result) : result;
    }
    // A room with members already knows its last delivered seq, and every later commit reaches members
    // in order: a plain join needs no store round trip.
    const here = this.rooms.get(name);
    const known = here?.lastSeq;
    if (since === undefined && known !== undefined) {
      this.rooms.add(s, name, kind, true);
      return { room: name, kind, durable, seq: known };
    }
    const fromMemory = since !== undefined && here !== undefined ? joinRecent(this.recentJoins, { s, room: here, kind, since }) : null;
    if (fromMemory) return fromMemory;
    return joinStored(
      { persistence: this.persistence!, fanout: this.fanout, rooms: this.rooms, recovery: this.recovery, checkRoomLimit: (x) => this.checkRoomLimit(x) },
      { s, name, kind, since, limit: since === undefined ? 0 : (this.opts.recoveryLimit ?? 1000) + 1 },
    );
  }

  leave(s: HubSession, name: string): void {
    const room = this.rooms.get(name);
    if (!room || !s.rooms.delete(name)) throw new HubError(ErrorCode.NotJoined, `not in room ${name}`);
    const lastOfUser = (room.presence.get(s.user) ?? 0) <= 1;
    this.rooms.remove(room, s);
    // Leaving on purpose ends the membership (disconnecting does not: offline delivery relies on it).
    if (lastOfUser && room.durable) this.rooms.endMembership(room, s.user);
  }

  private checkRoomLimit(s: HubSession): void {
    if (s.rooms.size >= this.opts.roomsPerSession) throw new HubError(ErrorCode.LimitExceeded, `at most ${this.opts.roomsPerSession} rooms per session`);
  }

  /** Rooms with members on this node, with their counts. */
  roomList(): ReturnType<Membership['list']> {
    return this.rooms.list();
  }

  /** Messages per room since the last call (rooms with members and messages only); the counts start again. */
  takeMessageCounts(visit: (room: string, messages: number) => void): void {
    this.rooms.takeMessageCounts(visit);
  }

  presence(actor: Actor, name: string): { room: string; users: PresenceEntry[] } {
    check(maySeePresence(actor, name, this.roomKind(name), !isBackend(actor) && this.directory.isMember(name, actor.user)));
    const users: PresenceEntry[] = [];
    if (this.cluster) for (const [user, sessions] of this.cluster.roomPresence(name)) users.push({ user, sessions });
    else {
      const room = this.rooms.get(name);
      if (room) for (const [user, sessions] of room.presence) users.push({ user, sessions });
    }
    return { room: name, users };
  }

  // ── messages ────────────────────────────────────────────────────────────

  publish(s: HubSession, name: string, contentType: string, body: unknown, key?: string): Ack | Promise<Ack> {
    const room = this.rooms.get(name);
    check(mayPublish(s, name, room ? room.kind : this.roomKind(name)));
    return this.roomMessage(name, s.user, contentType, body, key);
  }

  /** A message from the app's backend (server API): allowed in every kind of room, members or not. */
  serverPublish(name: string, from: string, contentType: string, body: unknown, key?: string): Ack | Promise<Ack> {
    return this.roomMessage(name, from, contentType, body, key);
  }

  /** The backend publishes as `from` (a user, or System), if its key may. */
  publishAs(actor: BackendActor, name: string, from: string, contentType: string, body: unknown, key?: string): Ack | Promise<Ack> {
    check(mayPublish(actor, name, this.roomKind(name)));
    return this.roomMessage(name, from, contentType, body, key);
  }

  private roomMessage(name: string, from: string, contentType: string, body: unknown, key: string | undefined): Ack | Promise<Ack> {
    return this.publisher.room(name, from, contentType, body, key);
  }

  /** A direct message: reaches every session of the recipient and of the sender. */
  sendDirect(actor: UserActor, to: string, contentType: string, body: unknown, key?: string): Ack | Promise<Ack> {
    return this.directFrom(actor, actor.user, to, contentType, body, key);
  }

  /** A direct message from `from` (the actor itself, or a sender the backend names). */
  directFrom(actor: Actor, from: string, to: string, contentType: string, body: unknown, key?: string): Ack | Promise<Ack> {
    check(maySendDirect(actor));
    return this.publisher.direct(from, to, contentType, body, key);
  }

  // ── durable conversations: recovery, history, unread (recovery.ts) ───────

  syncRefused(s: HubSession): void {
    this.recovery.syncRefused(s);
  }

  async sync(s: HubSession, since: Readonly<Record<string, number>>): Promise<SyncResult> {
    if (this.persistence) return this.recovery.sync(s, since);
    const result: SyncResult = { conversations: {} };
    for (const p of Object.keys(since)) setOwn(result.conversations, p, { recovered: false, missed: 0, seq: this.publisher.dmSeq(dmConv(s.user, p)) });
    return result;
  }

  history(actor: Actor, target: ConvTarget, opts: { before?: number; after?: number; limit?: number }): Promise<HistoryResult> {
    return this.recovery.history(actor, target, opts);
  }

  /** The backend reads the direct conversation of two users, as `user` sees it. */
  directHistory(actor: BackendActor, user: string, other: string, opts: { before?: number; after?: number; limit?: number }): Promise<HistoryResult> {
    check(mayReadDirect(actor));
    return this.recovery.history({ user, grants: [] }, { with: other }, opts);
  }

  read(actor: UserActor, target: ConvTarget, seq: number): Promise<void> | void {
    return this.recovery.read(actor, target, seq);
  }

  unread(actor: UserActor): Promise<UnreadPush | null> {
    return this.recovery.unread(actor);
  }

  // ── ephemeral events (ephemeral.ts) ────────────────────────────────────

  typing(s: HubSession, target: { room?: string; to?: string }, active: boolean): void {
    this.ephemeral.typing(s, target, active);
  }

  /** Call signaling, one to one: forwarded to every session of `to` (or just `session`), never stored. */
  signal(s: HubSession, to: string, callId: string, kind: string, data: unknown, session?: string): { sessions: number } {
    return this.ephemeral.signal(s, to, callId, kind, data, session);
  }

  /** Sends a push to one session, on whichever node holds it; false if none does. */
  pushToSession(id: string, push: ServerPush): boolean {
    return this.ephemeral.toSession(id, push);
  }

  /** Sends a push to every connected session, on every node (server API broadcast, notices); how many here. */
  broadcast(push: ServerPush): number {
    this.cluster?.broadcast(push);
    return this.fanout.broadcast(push);
  }
}

const PUBLIC: RoomRule = { match: '*', kind: 'public' };
