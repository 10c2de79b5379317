/**
 * The storage under PresenceState (presence-state.ts): what each node owns (NodeEntries) and the cluster-wide sums
 * of it (PresenceIndex). Entries change only through the index, so the sums stay sums, and every 0 ↔ >0 of a sum
 * is queued as a transition for PresenceState to deliver. Nothing here knows versions, leases or the wire.
 */

/** One session as held by one node. Mutable so that the per-user index can hold the object itself. */
export interface SessionEntry {
  readonly id: string;
  readonly node: string;
  user: string;
  since: number;
}

/** What one node owns: only that node changes it (directly for this node, by deltas and snapshots for others). */
export class NodeEntries {
  readonly sessions = new Map<string, SessionEntry>();
  /** room → user → sessions of the user in the room on this node (never 0: a pair at 0 is deleted). */
  rooms = new Map<string, Map<string, number>>();

  constructor(
    readonly node: string,
    /** The last version applied (for this node itself unused: PresenceState.version is the truth). */
    public ver: number,
    /** When the node was last heard from (ms, the caller's clock); unused for this node itself. */
    public heardAt: number,
  ) {}

  roomCount(room: string, user: string): number {
    return this.rooms.get(room)?.get(user) ?? 0;
  }

  /**
   * Changes a count by `by`, never below 0, and returns the change actually made (0 for a decrement of a pair
   * that is not there: a duplicate `r-` from the wire must not take another node's sessions with it).
   */
  bumpRoom(room: string, user: string, by: number): number {
    let users = this.rooms.get(room);
    const was = users?.get(user) ?? 0;
    const now = Math.max(0, was + by);
    if (now === was) return 0;
    if (now > 0) {
      if (users === undefined) this.rooms.set(room, (users = new Map()));
      users.set(user, now);
    } else if (users !== undefined) {
      users.delete(user);
      if (users.size === 0) this.rooms.delete(room);
    }
    return now - was;
  }
}

/** `local`: the change was the own node's. `remote`: user, id, since, node. */
export type Transition =
  | readonly ['joined', string, string]
  | readonly ['left', string, string]
  | readonly ['online', string, boolean]
  | readonly ['offline', string, boolean]
  | readonly ['remote', string, string, number, string];

/** What a snapshot says a node holds: id → [user, since], and room → user → count (counts > 0). */
export interface NodeContents {
  sessions: Map<string, readonly [string, number]>;
  rooms: Map<string, Map<string, number>>;
}

/** A session a user is to lose: the entry, and the user it is taken from (the entry may carry a new one). */
type Loss = [SessionEntry, string];

const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export class PresenceIndex {
  /** Filled by every change, emptied by PresenceState as it delivers them. */
  readonly transitions: Transition[] = [];
  /** user → every session of the user; the set's size is the user's count. */
  private readonly byUser = new Map<string, Set<SessionEntry>>();
  private readonly roomTotals = new Map<string, Map<string, number>>();
  /** session id → its node, or the nodes if several claim it (a bug elsewhere, or a collision). */
  private readonly owners = new Map<string, string | Set<string>>();

  /** `own`: the entries whose changes are `local`. */
  constructor(private readonly own: NodeEntries) {}

  /**
   * Adds or replaces a node's session; false if it changed nothing. A user that loses the id to another user loses
   * it after the other gained it; with `losses`, not here at all: the caller does it (the snapshot diff, at its end).
   */
  putSession(entries: NodeEntries, id: string, user: string, since: number, losses?: Loss[]): boolean {
    const local = entries === this.own;
    let s = entries.sessions.get(id);
    if (s === undefined) {
      s = { id, node: entries.node, user, since };
      entries.sessions.set(id, s);
      this.claim(id, entries.node);
      this.linkUser(s, local);
    } else if (s.user === user) {
      if (s.since === since) return false;
      s.since = since;
    } else {
      const was = s.user;
      s.user = user;
      s.since = since;
      this.linkUser(s, local);
      if (losses !== undefined) losses.push([s, was]);
      else this.unlinkUser(s, was, local);
    }
    if (!local) this.transitions.push(['remote', user, id, since, entries.node]);
    return true;
  }

  /** False if the node holds no such session. */
  dropSession(entries: NodeEntries, id: string): boolean {
    const s = entries.sessions.get(id);
    if (s === undefined) return false;
    entries.sessions.delete(id);
    this.unclaim(id, entries.node);
    this.unlinkUser(s, s.user, entries === this.own);
    return true;
  }

  /** Changes the node's count (never below 0) and the total with it; returns the change made. */
  bumpRoom(entries: NodeEntries, room: string, user: string, by: number): number {
    const done = entries.bumpRoom(room, user, by);
    if (done !== 0) this.addToTotal(room, user, done);
    return done;
  }

  /**
   * Makes the node's entries `next`, changing the sums by the differences only: gains first (sessions, then rooms),
   * losses after (rooms, then sessions), so no sum that ends above 0 passes through 0 on the way.
   */
  replace(entries: NodeEntries, next: NodeContents): void {
    const losses: Loss[] = [];
    for (const s of entries.sessions.values()) if (!next.sessions.has(s.id)) losses.push([s, s.user]);
    for (const [id, [user, since]] of next.sessions) this.putSession(entries, id, user, since, losses);
    for (const [room, users] of next.rooms) {
      for (const [user, n] of users) {
        const by = n - entries.roomCount(room, user);
        if (by > 0) this.addToTotal(room, user, by);
      }
    }
    for (const [room, users] of entries.rooms) {
      for (const [user, n] of users) {
        const by = (next.rooms.get(room)?.get(user) ?? 0) - n;
        if (by < 0) this.addToTotal(room, user, by);
      }
    }
    entries.rooms = next.rooms;
    for (const [s, user] of losses) {
      if (!next.sessions.has(s.id)) {
        entries.sessions.delete(s.id);
        this.unclaim(s.id, entries.node);
      }
      this.unlinkUser(s, user, false);
    }
  }

  /** Takes everything of a node out of the sums (rooms first, then sessions); the entries are left as they were. */
  dropAll(entries: NodeEntries): void {
    const local = entries === this.own;
    for (const [room, users] of entries.rooms) for (const [user, n] of users) this.addToTotal(room, user, -n);
    for (const s of entries.sessions.values()) {
      this.unclaim(s.id, entries.node);
      this.unlinkUser(s, s.user, local);
    }
  }

  // ── queries

  userSessions(user: string): number {
    return this.byUser.get(user)?.size ?? 0;
  }

  isOnline(user: string): boolean {
    return this.byUser.has(user);
  }

  sessionNode(id: string): string | undefined {
    const owner = this.owners.get(id);
    if (owner === undefined || typeof owner === 'string') return owner;
    let min: string | undefined;
    for (const node of owner) if (min === undefined || node < min) min = node;
    return min;
  }

  sessionsOf(user: string): { id: string; node: string; since: number }[] {
    const out = [...(this.byUser.get(user) ?? [])].map(({ id, node, since }) => ({ id, node, since }));
    return out.sort((a, b) => a.since - b.since || compare(a.id, b.id) || compare(a.node, b.node));
  }

  roomPresence(room: string): [string, number][] {
    return [...(this.roomTotals.get(room) ?? [])];
  }

  roomUserSessions(room: string, user: string): number {
    return this.roomTotals.get(room)?.get(user) ?? 0;
  }

  sizes(): { byUser: number; roomTotals: number; owners: number; transitions: number } {
    const { byUser, roomTotals, owners, transitions } = this;
    return { byUser: byUser.size, roomTotals: roomTotals.size, owners: owners.size, transitions: transitions.length };
  }

  // ── internals

  private linkUser(s: SessionEntry, local: boolean): void {
    let set = this.byUser.get(s.user);
    if (set === undefined) this.byUser.set(s.user, (set = new Set()));
    set.add(s);
    if (set.size === 1) this.transitions.push(['online', s.user, local]);
  }

  /** `user` is passed because an entry whose id went to another user already carries the new one. */
  private unlinkUser(s: SessionEntry, user: string, local: boolean): void {
    const set = this.byUser.get(user);
    if (set === undefined || !set.delete(s) || set.size > 0) return;
    this.byUser.delete(user);
    this.transitions.push(['offline', user, local]);
  }

  private claim(id: string, node: string): void {
    const owner = this.owners.get(id);
    if (owner === undefined) this.owners.set(id, node);
    else if (typeof owner !== 'string') owner.add(node);
    else if (owner !== node) this.owners.set(id, new Set([owner, node]));
  }

  private unclaim(id: string, node: string): void {
    const owner = this.owners.get(id);
    if (owner === node) this.owners.delete(id);
    else if (typeof owner === 'object' && owner.delete(node) && owner.size === 1) {
      for (const last of owner) this.owners.set(id, last);
    }
  }

  /** `by` never takes a total below 0: it is always a change that some node's own count made. */
  private addToTotal(room: string, user: string, by: number): void {
    let users = this.roomTotals.get(room);
    const was = users?.get(user) ?? 0;
    const now = was + by;
    if (now > 0) {
      if (users === undefined) this.roomTotals.set(room, (users = new Map()));
      users.set(user, now);
      if (was === 0) this.transitions.push(['joined', room, user]);
    } else if (users !== undefined && was > 0) {
      users.delete(user);
      if (users.size === 0) this.roomTotals.delete(room);
      this.transitions.push(['left', room, user]);
    }
  }
}
