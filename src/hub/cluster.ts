/**
 * The hub's seam to the other nodes of a cluster (docs/architecture.md, "Several nodes"). The hub decides as
 * before; where a decision concerns sessions that may live on other nodes, it also tells its `ClusterPort`, and
 * what other nodes decided reaches it through `ClusterInbound`. A hub without a port is the whole server.
 *
 * The cluster layer (src/cluster/) implements the port over a broker and keeps the cluster's presence; the hub
 * knows nothing of channels, wires or leases.
 */
import type { DirectRoute } from '../fanout/fanout.js';
import type { MessagePush, ServerPush } from '../protocol/pushes.js';
import type { RoomRecord } from './persistence.js';

/** What the hub asks of the other nodes, and of the cluster's presence. */
export interface ClusterPort {
  readonly nodeId: string;

  // ── delivery on the other nodes (each publishes once; the nodes with local recipients deliver)
  /** A push for a room's members elsewhere: a message (durable ones in seq order), typing, or a member removed. */
  toRoom(room: string, push: ServerPush): void;
  /** A direct message for the sessions of `route.users` elsewhere. */
  direct(route: DirectRoute, push: MessagePush): void;
  /** A push for a user's sessions elsewhere (all of them, or the one named). */
  toUser(user: string, push: ServerPush, session?: string): void;
  /** A push for one session elsewhere; false if the cluster knows no such session. */
  toSession(id: string, push: ServerPush): boolean;
  /** A push for every session on every other node. */
  broadcast(push: ServerPush): void;
  /** Something the other nodes must act on too. */
  control(op: ControlOp): void;

  // ── this node's part of the cluster's presence
  sessionAdded(id: string, user: string, since: number): void;
  sessionRemoved(id: string): void;
  roomJoined(room: string, user: string): void;
  roomLeft(room: string, user: string): void;

  // ── the cluster's presence, this node included (answered from memory)
  userSessions(user: string): number;
  /** Every session of the user anywhere, oldest first (connect time, then id). */
  sessionsOf(user: string): readonly { id: string; node: string; since: number }[];
  hasSession(id: string): boolean;
  roomPresence(room: string): readonly (readonly [string, number])[];

  /**
   * The room got its first local member: its messages from other nodes are wanted from now on. Resolves once
   * they reach this node (what was published before may not have: a durable room then reads it from the store).
   */
  watchRoom(room: string): Promise<void>;
  /** Its last local member left. */
  unwatchRoom(room: string): void;
}

/** What other nodes tell every node to do. */
export type ControlOp =
  | { op: 'disconnectUser'; user: string; code: number; reason: string }
  | { op: 'ban'; user: string; until: number }
  | { op: 'disconnectSession'; session: string; code: number; reason: string }
  | { op: 'evict'; room: string; user: string | null; reason: 'removed' | 'deleted' }
  | { op: 'roomSet'; record: RoomRecord }
  | { op: 'roomDeleted'; room: string }
  | { op: 'memberAdded'; room: string; user: string }
  | { op: 'memberRemoved'; room: string; user: string };

/** What the cluster layer hands the hub: other nodes' decisions, and the cluster's presence changes. */
export interface ClusterInbound {
  fromRoom(room: string, push: ServerPush): void;
  fromDirect(route: DirectRoute, push: MessagePush): void;
  fromUser(user: string, push: ServerPush, session?: string): void;
  fromSession(id: string, push: ServerPush): void;
  fromBroadcast(push: ServerPush): void;
  fromControl(op: ControlOp): void;
  /** The user is now in the room on some node and was on none (or the reverse). */
  presenceChanged(room: string, user: string, event: 'join' | 'leave'): void;
  /** A session of another node appeared: per-user limits are checked against it. */
  remoteSession(user: string, id: string, since: number): void;
  /** This node, or another, is back after losing the broker: durable conversations read what they may have missed. */
  resynced(): void;
}
