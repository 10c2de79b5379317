import type { MessagePush } from '../protocol/pushes.js';
import type { RoomKind } from '../protocol/replies.js';
import { roomConv } from './conversations.js';
import type { RecentMessages } from './recent-messages.js';
import type { Ordered } from './sequencer.js';

/** Beyond this many, a durable room's rejoins write their membership again, as before (memory stays bounded). */
export const MAX_KNOWN_MEMBERS = 10_000;

/** What the hub knows of a room with members on this node. Its members and batches are the fan-out's. */
export class RoomState implements Ordered {
  readonly conv: string;
  /** user → how many of that user's sessions are in the room. */
  readonly presence = new Map<string, number>();
  /** Last sequence number of a non-durable room (durable ones: the store numbers them). */
  seq = 0;
  /** Last delivered seq of a durable room, known from the join that created this state onward. */
  lastSeq: number | undefined = undefined;
  /** Messages delivered to the room since the stats last took the count (Membership.takeMessageCounts). */
  messages = 0;
  /** Durable messages from past a gap, by seq, waiting for the ones before them (hub/sequencer.ts). */
  pending: Map<number, MessagePush> | null = null;
  /** A read of missed messages is scheduled or under way. */
  filling = false;
  /** A durable room's last delivered messages, for recovering joins (null until the first, or when none are kept). */
  recent: RecentMessages | null = null;
  /**
   * Users whose stored membership this node wrote (or kept) while this state lived, up to MAX_KNOWN_MEMBERS: their
   * rejoins write nothing. After a network blip every session rejoins its rooms at once, and each rejoin had
   * queued a member row that was already there. Only on a node alone: another node may remove a membership.
   */
  knownMembers: Set<string> | null = null;
  /** Its last local member left: nothing more is delivered through this state. */
  closed = false;
  /**
   * On a cluster, from the first local member's join until every other node has said it sends this node the room's
   * pushes (ClusterPort.watchRoom): a non-durable room's joins wait for it, so that what others publish after the
   * join's reply reaches the joiner.
   */
  watching: Promise<void> | null = null;

  constructor(
    readonly name: string,
    /** The backend may change it while the room is in use (its durability waits until the room empties). */
    public kind: RoomKind,
    /** Messages go through the store before anyone receives them. */
    readonly durable: boolean,
  ) {
    this.conv = roomConv(name);
  }
}
