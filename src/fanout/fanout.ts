/**
 * The fan-out: delivery of what the hub has decided. The hub says who may,
 * which sequence number, stored or not; the fan-out gets the routed message
 * to the sessions it is for. LocalFanout delivers to this node's sessions; a
 * broker (docs/architecture.md, "Several nodes") wraps the same interface:
 * it publishes to the other nodes, delivers locally what arrives from them,
 * and ignores its own.
 */
import type { MessagePush, ServerPush } from '../protocol/pushes.js';
import type { DirectHold } from './direct-hold.js';
import type { Recipient } from './recipient.js';

/** What the fan-out tells its owner (a cluster node wants a room's pushes from the others only while the room has local members). */
export interface FanOutListener {
  roomOccupied?(room: string): void;
  roomVacated?(room: string): void;
}

/** A direct message: the conversation and its seq decide what a recovering session's hold keeps back. */
export interface DirectRoute {
  conv: string;
  seq: number;
  /** The users whose sessions receive it (recipient first; the sender's own other sessions too). */
  users: readonly string[];
}

export interface FanOut<S extends Recipient = Recipient> {
  /** Registers a session of this node: reachable by user and id from now on. */
  addSession(s: S): void;
  /** Forgets it everywhere but in rooms (the hub leaves those first); false if it was not registered. */
  removeSession(s: S): boolean;
  hasSession(s: S): boolean;
  sessionsOf(user: string): ReadonlySet<S>;
  session(id: string): S | undefined;
  readonly sessionCount: number;
  readonly userCount: number;

  /** Adds a local member to a room; a batch of this turn already under way reaches it from its current end. */
  join(room: string, s: S): void;
  /** Removes a local member; the number of local members left, or -1 if it was none. */
  leave(room: string, s: S): number;
  /** Local members of a room. */
  members(room: string): number;

  /** To every local member of a room, in this turn's shared batch (one encode per codec in use). */
  toRoom(room: string, push: ServerPush): void;
  /** A direct message to every session of the users named, held back from sessions recovering that conversation. */
  direct(route: DirectRoute, push: MessagePush): void;
  /** To the sessions given (one encode per codec among them); how many. */
  toSessions(sessions: Iterable<S>, push: ServerPush): number;
  /** To every session of this node; how many. */
  broadcast(push: ServerPush): number;
  /**
   * Replays stored messages to one session, all or nothing: the bytes sent, or -1 (nothing sent) when together
   * they would pass `budget`.
   */
  replay(s: S, pushes: readonly MessagePush[], budget: number): number;

  /** The session's hold of direct messages, made if missing (`all`: every conversation, until its first sync). */
  hold(s: S, all: boolean): DirectHold;
  holdOf(s: S): DirectHold | undefined;
  /** Drops the session's hold if it is `hold` and has nothing left to do. */
  releaseHold(s: S, hold: DirectHold): void;
}
