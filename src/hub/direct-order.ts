/**
 * Direct messages in seq order on a node of a cluster. One node alone delivers them as its commits complete,
 * which is seq order; with several, the two parties may send from different nodes, and a broker restart loses
 * what was in flight. Each local user's stream of each conversation goes through the sequencer (one stream per
 * user, since a message reaches a node once per recipient user's channel), and a user's streams go when its last
 * session here does. A stream's first message waits a moment for earlier ones still in flight (Sequencer.open):
 * the first direct message of a conversation on a node arrives up to `broker.gapWaitMs` later than the rest.
 */
import type { DirectRoute } from '../fanout/fanout.js';
import type { MessagePush } from '../protocol/pushes.js';
import type { Ordered, Sequencer } from './sequencer.js';

export class DirectStream implements Ordered {
  lastSeq: number | undefined = undefined;
  pending: Map<number, MessagePush> | null = null;
  filling = false;
  closed = false;

  constructor(
    readonly conv: string,
    /** The local user whose sessions this stream reaches. */
    readonly user: string,
  ) {}
}

export class DirectOrder {
  /** user → conversation → stream, for users with a session on this node. */
  private readonly streams = new Map<string, Map<string, DirectStream>>();

  constructor(
    private readonly sequencer: Sequencer<DirectStream>,
    private readonly hasLocalSessions: (user: string) => boolean,
  ) {}

  /** A stored direct message, from this node's commit or another node's, for the local sessions of `route.users`. */
  offer(route: DirectRoute, push: MessagePush): void {
    route.users.forEach((user, i) => {
      if (route.users.indexOf(user) !== i || !this.hasLocalSessions(user)) return;
      let mine = this.streams.get(user);
      if (!mine) this.streams.set(user, (mine = new Map()));
      const stream = mine.get(route.conv);
      if (stream) this.sequencer.offer(stream, push);
      else {
        const opened = new DirectStream(route.conv, user);
        mine.set(route.conv, opened);
        this.sequencer.open(opened, push);
      }
    });
  }

  /** The user's last session here left. */
  forget(user: string): void {
    const mine = this.streams.get(user);
    if (!mine) return;
    for (const stream of mine.values()) stream.closed = true;
    this.streams.delete(user);
  }

  /** After a broker outage: every stream reads what it may have missed. */
  catchUp(): void {
    for (const mine of this.streams.values()) for (const stream of mine.values()) this.sequencer.catchUp(stream);
  }
}
