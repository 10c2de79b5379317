/**
 * The rooms that have members on this node: who is in each (presence counts
 * per user), its kind, durability and sequence numbers, and the effects of a
 * session entering or leaving — the fan-out's membership, the stored
 * conversation membership, presence pushes and events.
 */
import type { FanOut } from '../fanout/fanout.js';
import type { ClusterPort } from './cluster.js';
import type { PresencePush } from '../protocol/pushes.js';
import type { RoomKind } from '../protocol/replies.js';
import type { HubEvents } from './events.js';
import type { Persistence } from './persistence.js';
import { MAX_KNOWN_MEMBERS, RoomState } from './room-state.js';
import type { HubSession } from './session.js';

export class Membership {
  readonly map = new Map<string, RoomState>();

  constructor(
    private readonly fanout: FanOut<HubSession>,
    private readonly persistence: Persistence | null,
    private readonly events: HubEvents,
    private readonly presenceEvents: boolean,
    /**
     * The other nodes: told of each session entering or leaving a room, and of the rooms with local members
     * (watched). With a cluster, presence events come from the cluster's presence (`presenceChanged`), so that a
     * user with sessions on two nodes joins once.
     */
    private readonly cluster: ClusterPort | null = null,
    /** A durable room just watched: what it may have missed before its messages reached this node is read. */
    private readonly watched: (room: RoomState) => void = () => {},
  ) {}

  get(name: string): RoomState | undefined {
    return this.map.get(name);
  }

  get size(): number {
    return this.map.size;
  }

  add(s: HubSession, name: string, kind: RoomKind, durable: boolean): RoomState {
    let room = this.map.get(name);
    if (!room) {
      this.map.set(name, (room = new RoomState(name, kind, durable)));
      if (this.cluster) {
        const r = room;
        r.watching = this.cluster.watchRoom(name).then(() => {
          r.watching = null;
          if (r.durable && !r.closed) this.watched(r);
        });
      }
    }
    s.rooms.add(name);
    this.fanout.join(name, s);
    const count = room.presence.get(s.user) ?? 0;
    room.presence.set(s.user, count + 1);
    if (count === 0) {
      if (durable) this.storeMembership(room, s.user);
      if (this.presenceEvents && !this.cluster) this.fanout.toRoom(name, presenceEvent(name, s.user, 'join'));
      this.events.memberJoined?.(name, s.user);
    }
    this.cluster?.roomJoined(name, s.user);
    return room;
  }

  /** Writes the user's stored membership, unless this node knows it is there (RoomState.knownMembers). */
  private storeMembership(room: RoomState, user: string): void {
    if (room.knownMembers?.has(user)) return;
    this.persistence!.join({ user, conv: room.conv });
    if (this.cluster) return;
    room.knownMembers ??= new Set();
    if (room.knownMembers.size < MAX_KNOWN_MEMBERS) room.knownMembers.add(user);
  }

  /** The user's stored membership ends (a leave on purpose, or removal by the backend). */
  endMembership(room: RoomState, user: string): void {
    room.knownMembers?.delete(user);
    this.persistence?.leave({ user, conv: room.conv });
  }

  remove(room: RoomState, s: HubSession): void {
    const left = this.fanout.leave(room.name, s);
    if (left < 0) return;
    const count = room.presence.get(s.user) ?? 0;
    if (count <= 1) {
      room.presence.delete(s.user);
      if (this.presenceEvents && left > 0 && !this.cluster) this.fanout.toRoom(room.name, presenceEvent(room.name, s.user, 'leave'));
      this.events.memberLeft?.(room.name, s.user);
    } else room.presence.set(s.user, count - 1);
    if (left === 0) {
      room.closed = true;
      this.map.delete(room.name);
      this.cluster?.unwatchRoom(room.name);
    }
    this.cluster?.roomLeft(room.name, s.user);
  }

  /** A user is now in the room somewhere in the cluster, or in it nowhere: its members here are told. */
  presenceChanged(name: string, user: string, event: 'join' | 'leave'): void {
    if (this.presenceEvents && this.map.has(name)) this.fanout.toRoom(name, presenceEvent(name, user, event));
  }

  /** Rooms with members on this node, with their counts. */
  list(): { room: string; kind: RoomKind; durable: boolean; users: number; sessions: number }[] {
    const out = [];
    for (const r of this.map.values()) out.push({ room: r.name, kind: r.kind, durable: r.durable, ...this.roomCounts(r.name) });
    return out;
  }

  /** Users and sessions in a room on this node. */
  roomCounts(name: string): { users: number; sessions: number } {
    const r = this.map.get(name);
    return { users: r?.presence.size ?? 0, sessions: this.fanout.members(name) };
  }

  /**
   * Hands each room's messages since the last call to `visit` and starts them again from 0 (rooms without any are
   * skipped): the stats' message rate per room, at the cost of one addition per message.
   */
  takeMessageCounts(visit: (room: string, messages: number) => void): void {
    for (const r of this.map.values())
      if (r.messages > 0) {
        visit(r.name, r.messages);
        r.messages = 0;
      }
  }

  /** A managed room's kind changed: a room in use follows at once (its durability, once it empties). */
  kindChanged(name: string, kind: RoomKind): void {
    const r = this.map.get(name);
    if (r) r.kind = kind;
  }

  /**
   * Takes a user's sessions (every user's, with `user` null) out of a room at once, each told with a `left` push,
   * as if they had left; how many sessions.
   */
  evict(name: string, user: string | null, reason: 'removed' | 'deleted'): number {
    const room = this.map.get(name);
    if (!room) return 0;
    const users = user === null ? [...room.presence.keys()] : room.presence.has(user) ? [user] : [];
    let n = 0;
    for (const u of users)
      for (const s of [...this.fanout.sessionsOf(u)]) {
        if (!s.rooms.delete(name)) continue;
        this.remove(room, s);
        this.fanout.toSessions([s], { type: 'left', room: name, reason });
        n++;
      }
    if (room.durable) for (const u of users) this.endMembership(room, u);
    return n;
  }
}

function presenceEvent(room: string, user: string, event: 'join' | 'leave'): PresencePush {
  return { type: 'presence', room, user, event };
}
