/**
 * Direct conversations: which ones the client follows, and getting them back
 * after a reconnect. Unlike rooms they are not joined: a DM conversation is
 * followed from the first message or unread summary that shows it, and all of
 * them are recovered with one `sync` (its reply also ends the server's resume
 * hold, under which DMs wait instead of arriving ahead of the replay).
 */
import type { SwitchboardError } from './errors.js';
import type { GapFiller } from './gap-filler.js';
import { directKey, type ConvKey, type Sequencer } from './recovery.js';
import type { SessionLink } from './requests.js';
import { retryAfter } from './timers.js';
import type { MessagePush, SyncOutcome, UnreadPush } from './types.js';
import { setOwn } from '../../src/protocol/records.js';

/** Partners per `sync` request, at most. */
const SYNC_BATCH = 1000;

export class DirectConversations {
  /** The first unread summary came: a conversation seen after it is new, not one with a history before this client. */
  private baseline = false;
  /** This connection asked the server to hold DMs until its first sync. */
  private resumeRequested = false;

  constructor(
    private readonly seq: Sequencer<MessagePush>,
    private readonly session: SessionLink,
    private readonly gaps: Pick<GapFiller, 'afterRecovery' | 'fill'>,
    private readonly onError: (err: SwitchboardError) => void,
  ) {}

  /**
   * Before a connection attempt: whether to ask the server for a resume hold
   * (there are conversations to recover, whose replay live DMs must not overtake).
   */
  requestResume(): boolean {
    this.resumeRequested = this.partners().length > 0;
    return this.resumeRequested;
  }

  /** A session opened: one sync for every direct conversation (it also ends the server's resume hold). */
  recover(): void {
    const partners = this.partners();
    const sent = partners.length > 0 && this.sync(partners);
    // Nothing to replay, but the server holds this session's DMs until a sync: one with no conversations ends it.
    if (!sent && this.resumeRequested) this.session.send({ type: 'sync', since: {} }, { type: 'sync', onReply: () => {}, onError: () => {}, onLost: () => {} });
  }

  /**
   * A message of a conversation not followed yet. Before the first unread
   * summary its history is the app's business (history()); after it, the
   * conversation is new, so it starts at 0.
   */
  firstSeen(key: ConvKey, seq: number): void {
    this.seq.track(key, this.baseline ? 0 : seq - 1);
  }

  /** The unread summary (sent after each connect) says where the direct conversations stand. */
  onUnread(u: UnreadPush): void {
    for (const c of u.conversations) {
      if (c.with === undefined) continue;
      const key = directKey(c.with);
      if (this.seq.has(key)) continue;
      if (!this.baseline) this.seq.track(key, c.lastSeq);
      else {
        // Started while we were away: everything in it is new.
        this.seq.track(key, 0);
        this.sync([c.with]);
      }
    }
    this.baseline = true;
  }

  /** Direct conversations with a known position (to recover after a reconnect). */
  private partners(): string[] {
    return this.seq.keys().filter((k) => k.startsWith('d:') && typeof this.seq.last(k) === 'number').map((k) => k.slice(2));
  }

  /** Recovers direct conversations: `sync` with each one's last delivered seq (at most 1000 per request). */
  /** Whether a sync was sent. */
  private sync(partners: readonly string[]): boolean {
    let sent = false;
    for (let i = 0; i < partners.length; i += SYNC_BATCH) sent = this.syncBatch(partners.slice(i, i + SYNC_BATCH)) || sent;
    return sent;
  }

  private syncBatch(partners: readonly string[]): boolean {
    const epoch = this.session.epoch();
    const since: Record<string, number> = {};
    for (const p of partners) {
      const last = this.seq.last(directKey(p));
      if (typeof last !== 'number') continue;
      setOwn(since, p, last);
      this.seq.beginRecovery(directKey(p));
    }
    const names = Object.keys(since);
    if (names.length === 0) return false;
    this.session.send({ type: 'sync', since }, {
      type: 'sync',
      onReply: (data) => {
        if (epoch !== this.session.epoch()) return;
        const convs = (data as { conversations?: Record<string, SyncOutcome> }).conversations ?? {};
        for (const p of names) {
          const key = directKey(p);
          if (!this.seq.has(key)) continue;
          const r = Object.hasOwn(convs, p) ? convs[p] : undefined;
          if (r) this.gaps.afterRecovery(key, since[p]!, r.seq, r.recovered, r.missed, true, epoch);
          else void this.gaps.fill(key, undefined, epoch);
        }
      },
      onError: (err) => {
        if (epoch !== this.session.epoch()) return;
        if (err.code === 'unavailable' || err.code === 'internal' || err.code === 'rate_limited') {
          retryAfter(1_000, () => {
            if (epoch === this.session.epoch()) this.sync(names.filter((p) => this.seq.has(directKey(p))));
          });
          return;
        }
        this.onError(err);
        for (const p of names) void this.gaps.fill(directKey(p), undefined, epoch);
      },
      onLost: () => {},
    });
    return true;
  }
}
