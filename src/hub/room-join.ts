/**
 * A join of a stored room that needs the store: the room's first member here, or a recovering join (`since`).
 * The answer waits for the read, so that `seq` is exact: every message after it reaches the session live, none
 * before it does; with `since`, what was missed is replayed first, in order, with no gap and no duplicate.
 */
import type { FanOut } from '../fanout/fanout.js';
import { ErrorCode } from '../protocol/codes.js';
import type { JoinResult, RoomKind } from '../protocol/replies.js';
import { roomConv } from './conversations.js';
import { HubError } from './errors.js';
import type { Membership } from './membership.js';
import type { HistoryPage, Persistence } from './persistence.js';
import type { Recovery } from './recovery.js';
import type { HubSession } from './session.js';

export interface JoinDeps {
  persistence: Persistence;
  fanout: FanOut<HubSession>;
  rooms: Membership;
  recovery: Recovery;
  checkRoomLimit(s: HubSession): void;
}

export interface StoredJoin {
  s: HubSession;
  name: string;
  kind: RoomKind;
  since: number | undefined;
  /** Messages read for the replay (0 for a plain join: only the last seq). */
  limit: number;
}

export function joinStored(d: JoinDeps, { s, name, kind, since, limit }: StoredJoin): Promise<JoinResult> {
  const durable = true;
  const conv = roomConv(name);
  const read = (after: number, before: HistoryPage | null): Promise<JoinResult> =>
    d.persistence.history({ conv, after, limit }).then((more) => {
      // The store answers in call order: messages stored before this read are in `page`, later ones will reach the member live.
      let page = before ? { ...more, messages: before.messages.concat(more.messages) } : more;
      if (!d.fanout.hasSession(s)) throw new HubError(ErrorCode.NotJoined, 'session closed while joining');
      if (s.rooms.has(name)) return { room: name, kind, durable, seq: page.lastSeq };
      d.checkRoomLimit(s);
      // With a cluster, the room's members here may be behind the read (another node's message is a hop away:
      // it reaches the joiner live, with them) or ahead of it (one arrived while the read was out: read on).
      const here = d.rooms.get(name)?.lastSeq;
      if (here !== undefined && since !== undefined) {
        if (here > page.lastSeq) return read(page.lastSeq, page);
        if (here < page.lastSeq) page = { ...page, messages: page.messages.filter((m) => m.seq <= here), lastSeq: here };
      }
      const result: JoinResult = { room: name, kind, durable, seq: here ?? page.lastSeq };
      if (since !== undefined) {
        const replayed = d.recovery.replayJoin(s, page, since);
        result.recovered = replayed !== null;
        result.missed = replayed ?? Math.max(0, page.lastSeq - since);
      }
      const room = d.rooms.add(s, name, kind, true);
      room.lastSeq ??= page.lastSeq;
      return result;
    });
  return read(since ?? Number.MAX_SAFE_INTEGER, null);
}
