/**
 * The cluster's presence, replicated on every node: each node owns its entries, changes them itself and broadcasts
 * the changes as versioned deltas (snapshots on request); the others apply them. A node that stops speaking loses
 * everything when its lease runs out. The cluster-wide sums are kept incrementally (presence-index.ts), so reads are
 * local, synchronous and O(1) or O(answer), and the listener hears exactly the 0 ↔ >0 transitions of those sums.
 *
 * Pure: no I/O, no timers; time comes in as `now` (ms, any monotonic clock). Contracts the caller keeps:
 * - a node id names one process run: a restarted process takes a new id (a reused one would start again at version
 *   1, which the others refuse as stale, and its snapshots would be older than what they hold);
 * - before answering a snapshot request: `takeDelta()` and publish it if not null, then `snapshot()` (see there);
 * - a node leaves the rooms of a session before removing it: sessions and room counts are separate facts here.
 *
 * Choices for what the wire may bring (an op that changes nothing is skipped; the delta still counts):
 * - `s+` of an id the same node holds replaces it (a new `since`, or a new user: that user gains the session before
 *   the old one loses it); `s+` of an id another node holds is kept beside it — entries are keyed by (node, id), so
 *   every node ends the same whatever order the claims arrive in; `sessionNode` then answers the smallest node id
 *   (by UTF-16 code units), also the same everywhere;
 * - `s-` of an unknown id and `r-` of a pair at 0 do nothing: counts never go below 0;
 * - malformed ops and snapshot rows (wrong types, `since` not finite, counts not positive integers) are skipped; in
 *   a snapshot a repeated session id or (room, user) pair: the last row wins.
 *
 * The listener is called once the operation that caused the transitions is applied in full, in the order they
 * happened; it may call back into this object (the transitions that causes follow the pending ones). If it throws,
 * the transitions not yet delivered are delivered at the end of the next operation.
 */
import { NodeEntries, PresenceIndex, type NodeContents } from './presence-index.js';

export type PresenceOp =
  | ['s+', string /*session id*/, string /*user*/, number /*since: connect time ms*/]
  | ['s-', string /*session id*/]
  | ['r+', string /*room*/, string /*user*/] // one more session of user is in room
  | ['r-', string /*room*/, string /*user*/]; // one fewer
export interface PresenceDelta {
  ver: number;
  ops: PresenceOp[];
}
export interface PresenceSnapshot {
  ver: number;
  sessions: [string, string, number][] /* id,user,since */;
  rooms: [string, string, number][] /* room,user,count */;
}

export interface PresenceListener {
  /** The user is now in `room` on some node, and was on none: exactly once per 0 → >0 of the cluster-wide count. */
  roomJoined(room: string, user: string): void;
  /** The cluster-wide count of the user's sessions in the room went to 0. */
  roomLeft(room: string, user: string): void;
  /** The user's cluster-wide session count went 0 → >0 / >0 → 0. `local`: the change was this node's own. */
  userOnline?(user: string, local: boolean): void;
  userOffline?(user: string, local: boolean): void;
  /**
   * A session of ANOTHER node became known (from a delta or a snapshot), or a known one changed user or `since`;
   * for per-user limits across nodes. Not called for a row that repeats what is known.
   */
  remoteSession?(user: string, id: string, since: number, node: string): void;
}

const isString = (v: unknown): v is string => typeof v === 'string';
const isTime = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v > 0;
const isVersion = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** A snapshot's rows as maps, the malformed ones left out (a snapshot crosses the wire like a delta). */
function contentsOf(snap: PresenceSnapshot): NodeContents {
  const sessions = new Map<string, readonly [string, number]>();
  for (const row of snap.sessions as unknown[]) {
    const [id, user, since] = Array.isArray(row) ? (row as unknown[]) : [];
    if (isString(id) && isString(user) && isTime(since)) sessions.set(id, [user, since]);
  }
  const rooms = new Map<string, Map<string, number>>();
  for (const row of snap.rooms as unknown[]) {
    const [room, user, n] = Array.isArray(row) ? (row as unknown[]) : [];
    if (!isString(room) || !isString(user) || !isCount(n)) continue;
    let users = rooms.get(room);
    if (users === undefined) rooms.set(room, (users = new Map()));
    users.set(user, n);
  }
  return { sessions, rooms };
}

export class PresenceState {
  private ver = 0;
  private pending: PresenceOp[] = [];
  private readonly own: NodeEntries;
  private readonly others = new Map<string, NodeEntries>();
  private readonly index: PresenceIndex;
  private delivering = false;

  constructor(
    readonly self: string,
    private readonly listener: PresenceListener,
  ) {
    this.own = new NodeEntries(self, 0, 0);
    this.index = new PresenceIndex(this.own);
  }

  /** This node's version: the number of deltas taken so far. */
  get version(): number {
    return this.ver;
  }

  // ── this node's own changes: applied at once, and recorded for the next delta if they changed anything

  addSession(id: string, user: string, since: number): void {
    if (this.index.putSession(this.own, id, user, since)) this.pending.push(['s+', id, user, since]);
    this.deliver();
  }

  removeSession(id: string): void {
    if (this.index.dropSession(this.own, id)) this.pending.push(['s-', id]);
    this.deliver();
  }

  joinRoom(room: string, user: string): void {
    this.index.bumpRoom(this.own, room, user, 1);
    this.pending.push(['r+', room, user]);
    this.deliver();
  }

  /** Nothing (and no op) if this node has no session of the user in the room, whatever other nodes have. */
  leaveRoom(room: string, user: string): void {
    if (this.index.bumpRoom(this.own, room, user, -1) !== 0) this.pending.push(['r-', room, user]);
    this.deliver();
  }

  /** The ops recorded since the last call, as one delta with version+1; null (version unchanged) if there were none. */
  takeDelta(): PresenceDelta | null {
    if (this.pending.length === 0) return null;
    const delta = { ver: ++this.ver, ops: this.pending };
    this.pending = [];
    return delta;
  }

  /**
   * This node's whole state, labelled with the last version taken. Ops not yet taken are in the state but will also
   * be in the next delta, which a node that applied this snapshot accepts as the one that follows: its sessions come
   * out right (`s+` and `s-` are idempotent) but its room counts take those `r+`/`r-` twice, until a later snapshot.
   * Hence: `takeDelta()` (and publish it) first, then `snapshot()`.
   */
  snapshot(): PresenceSnapshot {
    const sessions: [string, string, number][] = [];
    for (const s of this.own.sessions.values()) sessions.push([s.id, s.user, s.since]);
    const rooms: [string, string, number][] = [];
    for (const [room, users] of this.own.rooms) for (const [user, n] of users) rooms.push([room, user, n]);
    return { ver: this.ver, sessions, rooms };
  }

  // ── other nodes (this node's own messages, which the broker echoes, are ignored; true where a boolean is asked)

  /**
   * Applies a node's delta if it is the one after the last version applied (or an unknown node's ver 1: it just
   * started). False, nothing applied, for any other — a gap, a stale or repeated one, a malformed one: the caller
   * asks for a snapshot. Any delta of a known node renews its lease, a refused one too: the node is alive.
   */
  applyDelta(node: string, delta: PresenceDelta, now: number): boolean {
    if (node === this.self) return true;
    let entries = this.others.get(node);
    if (entries !== undefined) entries.heardAt = now;
    const ops: unknown = delta?.ops;
    if (!Array.isArray(ops) || !isVersion(delta.ver)) return false;
    if (entries === undefined) {
      if (delta.ver !== 1) return false;
      entries = this.register(node, 0, now);
    }
    if (delta.ver !== entries.ver + 1) return false;
    entries.ver = delta.ver;
    for (const op of ops as unknown[]) this.applyOp(entries, op);
    this.deliver();
    return true;
  }

  /**
   * Replaces everything known of `node` with the snapshot (registering an unknown node); the listener hears only the
   * differences. One older than the version applied, or malformed, is ignored. Renews the lease.
   */
  applySnapshot(node: string, snap: PresenceSnapshot, now: number): void {
    if (node === this.self) return;
    let entries = this.others.get(node);
    if (entries !== undefined) entries.heardAt = now;
    if (!isVersion(snap?.ver) || !Array.isArray(snap.sessions) || !Array.isArray(snap.rooms)) return;
    if (entries === undefined) entries = this.register(node, snap.ver, now);
    else if (snap.ver < entries.ver) return;
    entries.ver = snap.ver;
    this.index.replace(entries, contentsOf(snap));
    this.deliver();
  }

  /**
   * A heartbeat with the node's current version: renews its lease; false if `ver` is not the version last applied
   * (the caller asks for a snapshot). An unknown node is registered (empty) with ver 0, and refused with any other.
   */
  heard(node: string, ver: number, now: number): boolean {
    if (node === this.self) return true;
    const entries = this.others.get(node);
    if (entries === undefined) {
      if (ver !== 0) return false;
      this.register(node, 0, now);
      return true;
    }
    entries.heardAt = now;
    return ver === entries.ver;
  }

  /**
   * A node said goodbye, or is known to be gone: its entries go, with their transitions (rooms left before users go
   * offline). Unknown nodes and self: nothing. If it speaks again it is a new node (a snapshot brings it back).
   */
  removeNode(node: string): void {
    const entries = this.others.get(node);
    if (entries === undefined) return;
    this.others.delete(node);
    this.index.dropAll(entries);
    this.deliver();
  }

  /** Removes the nodes (never self) not heard from for more than `leaseMs`; returns their ids. */
  expire(now: number, leaseMs: number): string[] {
    const dead: string[] = [];
    for (const [node, entries] of this.others) if (now - entries.heardAt > leaseMs) dead.push(node);
    for (const node of dead) this.removeNode(node);
    return dead;
  }

  /** Forgets every other node at once (this node lost the broker for longer than the lease); returns their ids. */
  forgetOthers(): string[] {
    const all = this.nodes();
    for (const node of all) this.removeNode(node);
    return all;
  }

  /** Other nodes currently known. */
  nodes(): string[] {
    return [...this.others.keys()];
  }

  // ── queries: cluster-wide, this node included, O(1) or O(answer)

  userSessions(user: string): number {
    return this.index.userSessions(user);
  }

  isOnline(user: string): boolean {
    return this.index.isOnline(user);
  }

  /** The node holding this session, or undefined; the smallest node id if several claim it. */
  sessionNode(id: string): string | undefined {
    return this.index.sessionNode(id);
  }

  /** Every session of the user, anywhere, by `since`, then id, then node (code-unit order: the same everywhere). */
  sessionsOf(user: string): { id: string; node: string; since: number }[] {
    return this.index.sessionsOf(user);
  }

  /** Users in the room with their cluster-wide session counts. */
  roomPresence(room: string): [string, number][] {
    return this.index.roomPresence(room);
  }

  roomUserSessions(room: string, user: string): number {
    return this.index.roomUserSessions(room, user);
  }

  /** The size of every internal collection, for tests: once everything is gone, all are 0. */
  internalSizes(): Record<string, number> {
    let sessions = this.own.sessions.size;
    let rooms = this.own.rooms.size;
    for (const e of this.others.values()) {
      sessions += e.sessions.size;
      rooms += e.rooms.size;
    }
    return { sessions, rooms, nodes: this.others.size, pending: this.pending.length, ...this.index.sizes() };
  }

  // ── internals

  private register(node: string, ver: number, now: number): NodeEntries {
    const entries = new NodeEntries(node, ver, now);
    this.others.set(node, entries);
    return entries;
  }

  private applyOp(entries: NodeEntries, op: unknown): void {
    const [kind, a, b, c] = Array.isArray(op) ? (op as unknown[]) : [];
    if (!isString(a)) return;
    if (kind === 's-') this.index.dropSession(entries, a);
    else if (!isString(b)) return;
    else if (kind === 's+' && isTime(c)) this.index.putSession(entries, a, b, c);
    else if (kind === 'r+' || kind === 'r-') this.index.bumpRoom(entries, a, b, kind === 'r+' ? 1 : -1);
  }

  private deliver(): void {
    if (this.delivering) return;
    this.delivering = true;
    const queue = this.index.transitions;
    const l = this.listener;
    let i = 0;
    try {
      while (i < queue.length) {
        const t = queue[i++]!;
        if (t[0] === 'joined') l.roomJoined(t[1], t[2]);
        else if (t[0] === 'left') l.roomLeft(t[1], t[2]);
        else if (t[0] === 'online') l.userOnline?.(t[1], t[2]);
        else if (t[0] === 'offline') l.userOffline?.(t[1], t[2]);
        else l.remoteSession?.(t[1], t[2], t[3], t[4]);
      }
    } finally {
      queue.splice(0, i);
      this.delivering = false;
    }
  }
}
