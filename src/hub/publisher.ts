/**
 * A message's way from the hub's decision to its members: numbered (by the store for a durable conversation,
 * which acks only once the message is stored; by the room or the hub otherwise), delivered here, and published
 * once for the members on other nodes.
 */
import type { DirectRoute, FanOut } from '../fanout/fanout.js';
import { ErrorCode } from '../protocol/codes.js';
import type { MessagePush } from '../protocol/pushes.js';
import type { Ack } from '../protocol/replies.js';
import type { ClusterPort } from './cluster.js';
import { dmConv, roomConv } from './conversations.js';
import { HubError } from './errors.js';
import type { HubEvents } from './events.js';
import type { Membership } from './membership.js';
import { messagePush, newMessage, type Stamped } from './messages.js';
import type { MemberRef, NewMessage, Persistence } from './persistence.js';
import type { DirectOrder } from './direct-order.js';
import type { RoomState } from './room-state.js';
import type { Sequencer } from './sequencer.js';
import type { HubSession } from './session.js';

export interface PublisherDeps {
  rooms: Membership;
  fanout: FanOut<HubSession>;
  cluster: ClusterPort | null;
  persistence: Persistence | null;
  events: HubEvents;
  sequencer: Sequencer<RoomState>;
  /** Stored direct messages in seq order on a node of a cluster (null: delivered as committed). */
  directOrder: DirectOrder | null;
  nextId(): string;
  now(): number;
  isDurable(room: string): boolean;
  isOnline(user: string): boolean;
}

export class Publisher {
  /**
   * Last sequence number of each direct conversation, for a hub without a store only (with one, the store
   * numbers them). Non-durable rooms keep theirs on the RoomState, which goes when its last member leaves.
   */
  private readonly dmSeqs = new Map<string, number>();

  constructor(private readonly d: PublisherDeps) {}

  /** A message to a room, from `from` (already allowed). */
  room(name: string, from: string, contentType: string, body: unknown, key: string | undefined): Ack | Promise<Ack> {
    const { d } = this;
    const m: Stamped = { id: d.nextId(), from, contentType, body, ts: d.now(), key };
    const dest = { room: name };
    if (!d.isDurable(name)) {
      // Nothing is kept of a non-durable room without members: a message to it reaches no one and gets no number.
      // Its seq counts the messages this node's members received (each node numbers what it delivers).
      const room = d.rooms.get(name);
      if (!room && !d.cluster) return { id: m.id, seq: 0, ts: m.ts };
      const seq = room ? ++room.seq : 0;
      const push = messagePush(m, dest, seq);
      if (room) {
        room.messages++;
        d.fanout.toRoom(name, push);
      }
      d.cluster?.toRoom(name, push);
      d.events.messageCreated?.(push, true);
      return { id: m.id, seq, ts: m.ts };
    }
    return this.store(newMessage(m, roomConv(name)), null, (seq) => {
      const push = messagePush(m, dest, seq);
      const room = d.rooms.get(name);
      if (room) d.sequencer.offer(room, push);
      d.cluster?.toRoom(name, push);
      d.events.messageCreated?.(push, true);
    });
  }

  /** A direct message from `from` to `to` (already allowed): every session of both receives it. */
  direct(from: string, to: string, contentType: string, body: unknown, key: string | undefined): Ack | Promise<Ack> {
    const { d } = this;
    const m: Stamped = { id: d.nextId(), from, contentType, body, ts: d.now(), key };
    const conv = dmConv(from, to);
    const users = [to, from];
    if (!d.persistence) {
      const seq = this.dmSeq(conv) + 1;
      this.dmSeqs.set(conv, seq);
      this.deliverDirect({ conv, seq, users }, messagePush(m, { to }, seq));
      return { id: m.id, seq, ts: m.ts };
    }
    const joins: MemberRef[] = from === to ? [{ user: from, conv }] : [{ user: from, conv }, { user: to, conv }];
    return this.store(newMessage(m, conv), joins, (seq) => this.deliverDirect({ conv, seq, users }, messagePush(m, { to }, seq)));
  }

  /** The last seq of a direct conversation without a store (0 if none yet). */
  dmSeq(conv: string): number {
    return this.dmSeqs.get(conv) ?? 0;
  }

  private deliverDirect(route: DirectRoute, push: MessagePush): void {
    if (this.d.directOrder) this.d.directOrder.offer(route, push);
    else this.d.fanout.direct(route, push);
    this.d.cluster?.direct(route, push);
    this.d.events.messageCreated?.(push, this.d.isOnline(route.users[0]!));
  }

  /** Queues a message for the store; once durable, `deliver` runs (unless it was a resend) and the ack resolves. */
  private store(msg: NewMessage, joins: MemberRef[] | null, deliver: (seq: number) => void): Promise<Ack> {
    return new Promise((resolve, reject) => {
      const queued = this.d.persistence!.append(msg, joins, (err, r) => {
        if (err || !r) return reject(new HubError(ErrorCode.Unavailable, 'the message could not be stored; send it again with the same key'));
        if (r.refused) return reject(new HubError(ErrorCode.Forbidden, 'the message refers to a file you may not read'));
        if (!r.duplicate) deliver(r.seq);
        resolve(r.duplicate ? { id: r.id, seq: r.seq, ts: r.ts, duplicate: true } : { id: r.id, seq: r.seq, ts: r.ts });
      });
      if (!queued) reject(new HubError(ErrorCode.Unavailable, 'the server is storing too many messages; retry shortly'));
    });
  }
}
