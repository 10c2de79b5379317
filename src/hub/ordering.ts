/**
 * The sequencers a hub delivers stored messages through: one for rooms, and, on a node of a cluster with a
 * store, one per local user's direct conversations (hub/sequencer.ts says why one node alone needs no such thing
 * for DMs, and what the waits are for).
 */
import type { FanOut } from '../fanout/fanout.js';
import { DirectOrder, DirectStream } from './direct-order.js';
import type { Persistence } from './persistence.js';
import { RecentMessages } from './recent-messages.js';
import type { RoomState } from './room-state.js';
import { Sequencer } from './sequencer.js';
import type { HubSession } from './session.js';

export interface OrderingOptions {
  fanout: FanOut<HubSession>;
  persistence: Persistence | null;
  clustered: boolean;
  /** Default: setTimeout, unref'd. */
  defer?: ((fn: () => void, ms: number) => void) | undefined;
  /** Default 50. */
  gapWaitMs?: number | undefined;
  /** Default 1000. */
  fillLimit?: number | undefined;
  /** Messages each stored room keeps in memory for recovering joins (0: none), and most characters of their bodies. */
  recentPerRoom: number;
  recentCharsPerRoom: number;
}

export function orderings(o: OrderingOptions): { rooms: Sequencer<RoomState>; direct: DirectOrder | null } {
  const { fanout, persistence } = o;
  const common = {
    history: (q: Parameters<Persistence['history']>[0]) => persistence!.history(q),
    defer: o.defer ?? ((fn: () => void, ms: number) => void setTimeout(fn, ms).unref()),
    gapWaitMs: o.gapWaitMs ?? 50,
    fillLimit: o.fillLimit ?? 1000,
  };
  const rooms = new Sequencer<RoomState>({
    ...common,
    deliver: (room, push) => {
      room.messages++;
      if (o.recentPerRoom > 0) (room.recent ??= new RecentMessages(o.recentPerRoom, o.recentCharsPerRoom)).add(push);
      fanout.toRoom(room.name, push);
    },
  });
  const direct =
    o.clustered && persistence
      ? new DirectOrder(
          new Sequencer<DirectStream>({ ...common, deliver: (st, push) => fanout.direct({ conv: st.conv, seq: push.seq, users: [st.user] }, push) }),
          (user) => fanout.sessionsOf(user).size > 0,
        )
      : null;
  return { rooms, direct };
}
