/**
 * What durable conversations add to a session's life: recovering what it
 * missed (a join with `since`, a `sync` of direct conversations), history
 * pages, read positions and the unread summary at connect. Each replay is
 * bounded in count (recoveryLimit) and bytes (recoveryMaxBytes); what lies
 * beyond is left to the client to page from history at its own pace.
 */
import { isBackend, type Actor, type UserActor } from '../access/actor.js';
import { mayReadHistory, needsStoredMembership } from '../access/rules.js';
import type { FanOut } from '../fanout/fanout.js';
import { ErrorCode } from '../protocol/codes.js';
import type { UnreadPush } from '../protocol/pushes.js';
import { setOwn } from '../protocol/records.js';
import type { HistoryResult, SyncResult } from '../protocol/replies.js';
import { dmConv, pushOf, roomConv, targetOf, type ConvTarget } from './conversations.js';
import { check, HubError } from './errors.js';
import { withinBytes } from './messages.js';
import type { HistoryPage, Membership, Persistence } from './persistence.js';
import type { HubSession } from './session.js';

export interface RecoveryOptions {
  /** Most missed messages replayed by a recovering join or sync. */
  recoveryLimit: number;
  /** Most bytes a recovering join, or one sync, replays. */
  recoveryMaxBytes: number;
  /** Largest history page. */
  historyMaxLimit: number;
}

export class Recovery {
  constructor(
    private readonly persistence: Persistence | null,
    private readonly fanout: FanOut<HubSession>,
    private readonly opts: RecoveryOptions,
    private readonly isDurable: (room: string) => boolean,
  ) {}

  /** Replays a recovering join's page to `s` if it is complete and within budget; how many messages, or null. */
  replayJoin(s: HubSession, page: HistoryPage, since: number): number | null {
    if (!this.replayable(page, since)) return null;
    // Their stored bodies already tell, most of the time, without encoding anything.
    if (withinBytes(page.messages, this.opts.recoveryMaxBytes, 'oldest').length < page.messages.length) return null;
    return this.fanout.replay(s, page.messages.map(pushOf), this.opts.recoveryMaxBytes) < 0 ? null : page.messages.length;
  }

  /** True when `page` holds every message after `since` (none trimmed away, not more than the limit). */
  private replayable(page: HistoryPage, since: number): boolean {
    if (page.messages.length > this.opts.recoveryLimit) return false;
    if (page.lastSeq <= since) return true;
    return page.messages.length > 0 && page.messages[0]!.seq === since + 1;
  }

  /** A `sync` this session sent was refused: the hold of a resuming session ends all the same (nothing is replayed). */
  syncRefused(s: HubSession): void {
    const hold = this.fanout.holdOf(s);
    if (!hold?.all) return;
    hold.all = false;
    hold.release(s, new Map());
    this.fanout.releaseHold(s, hold);
  }

  /**
   * Replays direct conversations (partner → last seq seen). Live messages of
   * those conversations are held back for this session meanwhile and released
   * after the replay, skipping any the replay already carried; a session that
   * connected with `resume` has had all its direct messages held until now.
   */
  async sync(s: HubSession, since: Readonly<Record<string, number>>): Promise<SyncResult> {
    const partners = Object.keys(since);
    const result: SyncResult = { conversations: {} };
    if (!this.persistence) {
      // Without a store there is nothing to replay; the numbers are the hub's own (Hub.sync fills them in).
      return result;
    }
    const convs = partners.map((p) => dmConv(s.user, p));
    const running = this.fanout.holdOf(s);
    convs.forEach((c, i) => {
      if (running?.syncing.has(c)) throw new HubError(ErrorCode.InvalidRequest, `a sync with ${partners[i]} is already running`);
    });
    const hold = this.fanout.hold(s, false);
    for (const c of convs) hold.syncing.add(c);
    const replayed = new Map<string, number>();
    const settle = (): void => {
      for (const c of convs) hold.syncing.delete(c);
      hold.all = false;
      if (!this.fanout.hasSession(s)) return;
      hold.release(s, replayed);
      this.fanout.releaseHold(s, hold);
    };
    let pages: HistoryPage[];
    try {
      pages = await Promise.all(convs.map((conv, i) => this.persistence!.history({ conv, after: since[partners[i]!]!, limit: this.opts.recoveryLimit + 1 })));
    } catch (err) {
      settle(); // nothing replayed: whatever was held goes out live rather than being lost
      throw err;
    }
    // One budget for the whole sync: conversations past it are left to history, like those past the count.
    let budget = this.opts.recoveryMaxBytes;
    partners.forEach((p, i) => {
      const page = pages[i]!;
      const from = since[p]!;
      const sent =
        this.replayable(page, from) && withinBytes(page.messages, budget, 'oldest').length === page.messages.length
          ? this.fanout.replay(s, page.messages.map(pushOf), budget)
          : -1;
      const ok = sent >= 0;
      // A client can claim numbers this store never gave (its database restored from an older backup, say): what it
      // has is then at most the store's last, so live messages held meanwhile above that still go out, and the
      // reply's seq (the conversation's last, as join reports a room's) comes below its `since`, which tells it.
      let last = Math.min(from, page.lastSeq);
      if (ok) {
        budget -= sent;
        if (page.messages.length > 0) last = page.messages[page.messages.length - 1]!.seq;
        replayed.set(convs[i]!, last);
      }
      setOwn(result.conversations, p, { recovered: ok, missed: ok ? page.messages.length : Math.max(0, page.lastSeq - from), seq: Math.max(page.lastSeq, last) });
    });
    settle();
    return result;
  }

  async history(actor: Actor, target: ConvTarget, opts: { before?: number; after?: number; limit?: number }): Promise<HistoryResult> {
    const user = isBackend(actor) ? null : actor.user;
    if (user === null && 'with' in target) throw new HubError(ErrorCode.InvalidRequest, 'a direct conversation is read as one of its users');
    const conv = 'room' in target ? roomConv(target.room) : dmConv(user!, target.with);
    const limit = Math.min(opts.limit ?? 50, this.opts.historyMaxLimit);
    const result: HistoryResult = { ...('room' in target ? { room: target.room } : { with: target.with }), messages: [], oldestSeq: 0, lastSeq: 0, hasMore: false };
    if ('room' in target) {
      if (!this.isDurable(target.room)) return result;
      const stored = needsStoredMembership(actor, target.room) ? await this.persistence!.isMember(user!, conv) : false;
      check(mayReadHistory(actor, target.room, stored));
    } else if (!this.persistence) return result;
    const page = await this.persistence!.history({ conv, before: opts.before, after: opts.after, limit });
    // A page goes out as one reply: cut at the recovery byte budget, as a replay is (paging on is what `hasMore` is for).
    const messages = withinBytes(page.messages, this.opts.recoveryMaxBytes, opts.after !== undefined ? 'oldest' : 'newest');
    result.messages = messages.map(pushOf);
    result.oldestSeq = page.oldestSeq;
    result.lastSeq = page.lastSeq;
    const first = messages[0]?.seq;
    const last = messages[messages.length - 1]?.seq;
    result.hasMore =
      opts.after !== undefined ? last !== undefined && last < page.lastSeq : first !== undefined && first > page.oldestSeq;
    return result;
  }

  /** Moves the user's read position in a conversation forward; resolves once that is stored. */
  read(actor: UserActor, target: ConvTarget, seq: number): Promise<void> | void {
    if (!this.persistence) return;
    const conv = 'room' in target ? roomConv(target.room) : dmConv(actor.user, target.with);
    return this.persistence.read({ user: actor.user, conv, seq });
  }

  /** The unread summary a session gets on connect: every conversation the user belongs to. */
  unread(actor: UserActor): Promise<UnreadPush | null> {
    if (!this.persistence) return Promise.resolve(null);
    // A then, not an async function: one promise less for each connecting session.
    let asked: Promise<Membership[]>;
    try {
      asked = this.persistence.memberships(actor.user);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    return asked.then((list) => ({
      type: 'unread',
      conversations: list.map((m) => ({ ...targetOf(m.conv, actor.user), lastSeq: m.lastSeq, readSeq: m.readSeq, unread: Math.max(0, m.lastSeq - m.readSeq) })),
    }));
  }
}
