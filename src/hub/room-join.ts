/**
 * A join of a stored room that needs the store: the room's first member here, or a recovering join (`since`).
 * The answer waits for the read, so that `seq` is exact: every message after it reaches the session live, none
 * before it does; with `since`, what was missed is replayed first, in order, with no gap and no duplicate.
 */
import type { FanOut } from '../fanout/fanout.js';
import { ErrorCode } from '../protocol/codes.js';
import type { MessagePush } from '../protocol/pushes.js';
import type { JoinResult, RoomKind } from '../protocol/replies.js';
import { roomConv } from './conversations.js';
import { HubError } from './errors.js';
import type { Membership } from './membership.js';
import type { HistoryPage, Persistence } from './persistence.js';
import type { Recovery } from './recovery.js';
import type { RoomDirectory } from './room-directory.js';
import type { RoomState } from './room-state.js';
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
      // `page` has every message delivered before this read, and may have one whose commit's answer is still to come:
      // the room's lastSeq (set from the page for a first member, or the members' here) makes that one a duplicate
      // the sequencer drops. Later ones reach the member live.
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

export interface RecentJoinDeps {
  fanout: FanOut<HubSession>;
  rooms: Membership;
  directory: RoomDirectory;
  /** The store's retention (store.retention): what it may have removed is not replayed from memory either. */
  retention: { maxCount?: number | undefined; maxAgeMs?: number | undefined };
  recoveryLimit: number;
  recoveryMaxBytes: number;
  now(): number;
}

/**
 * A recovering join that missed only what the room delivered on this node lately (RoomState.recent), or nothing:
 * replayed from memory as a read would have been, with the same reply; live messages after the room's last seq
 * follow in order. Null when the store must answer (too far behind, past retention, over a replay budget).
 */
export function joinRecent(d: RecentJoinDeps, { s, room, kind, since }: { s: HubSession; room: RoomState; kind: RoomKind; since: number }): JoinResult | null {
  const known = room.lastSeq;
  if (known === undefined) return null;
  const missed = room.recent?.after(since, known) ?? (since === known ? [] : null);
  if (!missed || missed.length > d.recoveryLimit || !retained(d, room.name, missed)) return null;
  if (d.fanout.replay(s, missed, d.recoveryMaxBytes) < 0) return null;
  d.rooms.add(s, room.name, kind, true);
  return { room: room.name, kind, durable: true, seq: known, recovered: true, missed: missed.length };
}

/**
 * True when retention (the server's, or the managed room's own) cannot have removed any of `missed` from the
 * store: a replay from memory must not hand out what a recovering join through the store would call gone.
 */
function retained(d: RecentJoinDeps, name: string, missed: readonly MessagePush[]): boolean {
  if (missed.length === 0) return true;
  const managed = d.directory.get(name);
  const counts = [d.retention.maxCount, managed?.maxCount ?? undefined].filter((n): n is number => n !== undefined);
  const ages = [d.retention.maxAgeMs, managed?.maxAgeDays == null ? undefined : managed.maxAgeDays * 86_400_000].filter((n): n is number => n !== undefined);
  if (counts.length > 0 && missed.length > Math.min(...counts)) return false;
  return ages.length === 0 || missed[0]!.ts >= d.now() - Math.min(...ages);
}
