/**
 * What other nodes decided, applied to this node's sessions: their messages delivered to the members here, their
 * controls (disconnects, bans, managed rooms) carried out, the cluster's presence changes told to the rooms here,
 * and the per-user limits kept against sessions that opened elsewhere.
 */
import type { DirectRoute, FanOut } from '../fanout/fanout.js';
import { CloseCode } from '../protocol/codes.js';
import type { MessagePush, ServerPush } from '../protocol/pushes.js';
import { messagePush } from './messages.js';
import type { RoomKind } from '../protocol/replies.js';
import type { ClusterInbound, ClusterPort, ControlOp } from './cluster.js';
import type { Membership } from './membership.js';
import type { RoomDirectory } from './room-directory.js';
import type { DirectOrder } from './direct-order.js';
import type { RoomState } from './room-state.js';
import type { Sequencer } from './sequencer.js';
import type { HubSession } from './session.js';

export interface InboundDeps {
  cluster: ClusterPort;
  fanout: FanOut<HubSession>;
  rooms: Membership;
  sequencer: Sequencer<RoomState>;
  directOrder: DirectOrder | null;
  directory: RoomDirectory;
  /** The room's kind as the hub applies it (after a managed room changed). */
  kindOf(room: string): RoomKind;
  ban(user: string, until: number): void;
  /** Closes a session here and removes it from the hub at once (the limits). */
  drop(s: HubSession, code: number, reason: string): void;
  sessionPolicy: 'multiple' | 'replace';
  maxSessionsPerUser: number;
}

export class RemoteDecisions implements ClusterInbound {
  constructor(private readonly d: InboundDeps) {}

  /**
   * Messages from other nodes are built again the way this node builds its own (messagePush): an object from
   * JSON.parse has another hidden class than one the hub built, and the encoders and the fan-out, seeing both, ran
   * slower for every message, local ones included (perf: V8's IC misses and megamorphic loads doubled on a node of
   * the cluster).
   */
  fromRoom(name: string, push: ServerPush): void {
    const room = this.d.rooms.get(name);
    if (!room) return;
    if (push.type === 'message') {
      if (room.durable) return this.d.sequencer.offer(room, messagePush(push, { room: name }, push.seq));
      // A non-durable room's seq counts what this node's members received, wherever it was sent from.
      room.messages++;
      return this.d.fanout.toRoom(name, messagePush(push, { room: name }, ++room.seq));
    }
    this.d.fanout.toRoom(name, push);
  }

  fromDirect(route: DirectRoute, remote: MessagePush): void {
    const push = remote.to !== undefined ? messagePush(remote, { to: remote.to }, remote.seq) : remote;
    if (this.d.directOrder) this.d.directOrder.offer(route, push);
    else this.d.fanout.direct(route, push);
  }

  fromUser(user: string, push: ServerPush, session?: string): void {
    if (session === undefined) return void this.d.fanout.toSessions(this.d.fanout.sessionsOf(user), push);
    const one = this.d.fanout.session(session);
    if (one && one.user === user) this.d.fanout.toSessions([one], push);
  }

  fromSession(id: string, push: ServerPush): void {
    const s = this.d.fanout.session(id);
    if (s) this.d.fanout.toSessions([s], push);
  }

  fromBroadcast(push: ServerPush): void {
    this.d.fanout.broadcast(push);
  }

  fromControl(op: ControlOp): void {
    const { d } = this;
    switch (op.op) {
      case 'disconnectUser':
        for (const s of [...d.fanout.sessionsOf(op.user)]) s.close(op.code, op.reason);
        return;
      case 'ban':
        return d.ban(op.user, op.until);
      case 'disconnectSession':
        return d.fanout.session(op.session)?.close(op.code, op.reason);
      case 'evict':
        d.rooms.evict(op.room, op.user, op.reason);
        return;
      case 'roomSet':
        d.directory.set(op.record);
        return d.rooms.kindChanged(op.record.name, op.record.kind);
      case 'roomDeleted':
        d.directory.delete(op.room);
        d.rooms.evict(op.room, null, 'deleted');
        return d.rooms.kindChanged(op.room, d.kindOf(op.room));
      case 'memberAdded':
        return d.directory.addMember(op.room, op.user);
      case 'memberRemoved':
        d.directory.removeMember(op.room, op.user);
        d.rooms.evict(op.room, op.user, 'removed');
        return;
    }
  }

  presenceChanged(room: string, user: string, event: 'join' | 'leave'): void {
    this.d.rooms.presenceChanged(room, user, event);
  }

  /**
   * Sessions of one user opened on two nodes at nearly the same time both passed their node's check: the limits
   * are settled by age, the same way on every node (oldest first, then by id), each node closing its own.
   */
  remoteSession(user: string): void {
    const { d } = this;
    const here = d.fanout.sessionsOf(user);
    if (here.size === 0) return;
    const all = d.cluster.sessionsOf(user);
    const keep = d.sessionPolicy === 'replace' ? 1 : d.maxSessionsPerUser;
    if (all.length <= keep) return;
    const [code, reason] =
      d.sessionPolicy === 'replace'
        ? [CloseCode.Replaced, 'replaced by a newer session']
        : [CloseCode.TooManySessions, `at most ${d.maxSessionsPerUser} sessions per user`];
    // replace keeps the newest; multiple keeps the oldest (the ones a single node would have accepted).
    const over = d.sessionPolicy === 'replace' ? all.slice(0, all.length - keep) : all.slice(keep);
    for (const o of over) {
      if (o.node !== d.cluster.nodeId) continue;
      const s = d.fanout.session(o.id);
      if (s) d.drop(s, code, reason);
    }
  }

  resynced(): void {
    for (const room of this.d.rooms.map.values()) if (room.durable) this.d.sequencer.catchUp(room);
    this.d.directOrder?.catchUp();
  }
}
