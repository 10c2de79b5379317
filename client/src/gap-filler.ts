/**
 * Closing the gaps in a conversation. After a rejoin (`join` with `since`) or a
 * `sync`, the server says whether its replay covered everything since the
 * client's position; and a message may arrive with a gap before it. What the
 * server did not replay is paged from `history` into the sequencer, which drops
 * the overlap; what is no longer stored is reported as a gap.
 */
import { ConnectionLostError, SwitchboardError } from './errors.js';
import type { ClientOptions } from './options.js';
import { conversationOfKey, type ConvKey, type Sequencer } from './recovery.js';
import type { SessionLink } from './requests.js';
import { retryAfter } from './timers.js';
import type { Conversation, HistoryResult, MessagePush, RecoveryEvent } from './types.js';

const HISTORY_PAGE = 200;
/**
 * Answers after which the same history request may well succeed (as for joins): a page that timed out or that
 * the server could not serve for a moment is asked again, a few times, before what it would have held is given up
 * as a gap, which cannot be taken back.
 */
const TRANSIENT = new Set(['timeout', 'unavailable', 'internal', 'rate_limited']);
const PAGE_ATTEMPTS = 4;

export class GapFiller {
  constructor(
    private readonly seq: Sequencer<MessagePush>,
    private readonly session: SessionLink,
    private readonly options: Pick<ClientOptions, 'fillGaps' | 'requestTimeoutMs'>,
    private readonly events: { recovery(event: RecoveryEvent): void; error(err: SwitchboardError): void },
    /** Pause before asking for a page again, by attempt (1, 2, …); tests shorten it. */
    private readonly retryDelayMs: (attempt: number) => number = (attempt) => 1_000 * attempt,
  ) {}

  /** After a `join` with `since` or a `sync`: done, or fetch what the server could not replay. */
  afterRecovery(key: ConvKey, since: number, seqAtServer: number, recovered: boolean, missed: number, durable: boolean, epoch: number): void {
    const conversation = conversationOfKey(key);
    if (seqAtServer < since) {
      // The server's counter is behind what we saw: it restarted without the messages (non-durable room, or a new
      // store, or one restored from an older backup). Messages above its counter that came before this answer were
      // taken for ones already seen: a stored conversation is read again from there.
      this.seq.reset(key, seqAtServer, 'reset');
      if (!durable) {
        this.seq.endRecovery(key);
        this.events.recovery({ conversation, since, seq: seqAtServer, missed: 0, via: 'none' });
        return;
      }
      void this.readAfter(key, seqAtServer, epoch).then((ok) => {
        if (ok) this.events.recovery({ conversation, since, seq: seqAtServer, missed: 0, via: 'none' });
      });
      return;
    }
    if (recovered) {
      this.seq.endRecovery(key);
      this.events.recovery({ conversation, since, seq: seqAtServer, missed, via: 'replay' });
      return;
    }
    if (!durable) {
      this.seq.reset(key, seqAtServer, 'not-durable');
      this.seq.endRecovery(key);
      this.events.recovery({ conversation, since, seq: seqAtServer, missed: Math.max(0, seqAtServer - since), via: 'none' });
      return;
    }
    if (this.options.fillGaps === false) {
      this.seq.skipTo(key, seqAtServer);
      this.seq.endRecovery(key);
      this.events.recovery({ conversation, since, seq: seqAtServer, missed: Math.max(0, seqAtServer - since), via: 'none' });
      return;
    }
    void this.fill(key, seqAtServer, epoch).then((ok) => {
      if (ok) this.events.recovery({ conversation, since, seq: seqAtServer, missed: Math.max(0, seqAtServer - since), via: 'history' });
    });
  }

  /** A later message arrived with a gap before it: fetch the missing ones. */
  onStall(key: ConvKey): void {
    if (!this.session.open()) return; // recovered on the next connect
    if (this.options.fillGaps === false) {
      const first = this.seq.firstPending(key);
      if (first !== undefined) queueMicrotask(() => this.seq.skipTo(key, first - 1));
      return;
    }
    const epoch = this.session.epoch();
    queueMicrotask(() => void this.fill(key, undefined, epoch));
  }

  /**
   * Pages `history` forward from the last delivered seq up to `upTo` (default:
   * just before the first message waiting behind the gap); the sequencer drops
   * whatever overlaps. What is no longer stored is reported as a gap. Returns
   * false when the session ended meanwhile (the next one recovers again).
   */
  async fill(key: ConvKey, upTo: number | undefined, epoch: number): Promise<boolean> {
    if (epoch !== this.session.epoch() || !this.session.open() || !this.seq.has(key)) return false;
    const conversation = conversationOfKey(key);
    this.seq.beginRecovery(key);
    const target = (): number | undefined => {
      if (upTo !== undefined) return upTo;
      const first = this.seq.firstPending(key);
      return first === undefined ? undefined : first - 1;
    };
    try {
      for (let rounds = 0; rounds < 100_000; rounds++) {
        const last = this.seq.last(key);
        const goal = target();
        if (typeof last !== 'number' || goal === undefined || last >= goal) break;
        const page = await this.historyPageRetried(conversation, last, epoch);
        if (epoch !== this.session.epoch() || !this.seq.has(key)) return false;
        if (page.messages.length === 0) {
          this.seq.skipTo(key, goal);
          break;
        }
        const first = page.messages[0]!.seq;
        if (first > last + 1) this.seq.skipTo(key, first - 1);
        for (const m of page.messages) this.seq.push(key, m);
        if (!page.hasMore) {
          const after = this.seq.last(key);
          if (typeof after === 'number' && after < goal) this.seq.skipTo(key, goal);
          break;
        }
      }
    } catch (err) {
      if (epoch !== this.session.epoch() || !this.seq.has(key)) return false;
      this.events.error(err instanceof SwitchboardError ? err : new SwitchboardError('recovery_failed', String(err)));
      const goal = target();
      if (goal !== undefined) this.seq.skipTo(key, goal);
    }
    if (epoch !== this.session.epoch() || !this.seq.has(key)) return false;
    // Whatever still waits behind a gap cannot be had.
    const last = this.seq.last(key);
    const first = this.seq.firstPending(key);
    if (typeof last === 'number' && first !== undefined && first > last + 1) this.seq.skipTo(key, first - 1);
    this.seq.endRecovery(key);
    return true;
  }

  /** After a reset: whatever the conversation holds above `after`, one page of it (it is what arrived meanwhile). */
  private async readAfter(key: ConvKey, after: number, epoch: number): Promise<boolean> {
    try {
      const page = await this.historyPageRetried(conversationOfKey(key), after, epoch);
      if (epoch !== this.session.epoch() || !this.seq.has(key)) return false;
      for (const m of page.messages) this.seq.push(key, m);
    } catch (err) {
      if (epoch !== this.session.epoch() || !this.seq.has(key)) return false;
      this.events.error(err instanceof SwitchboardError ? err : new SwitchboardError('recovery_failed', String(err)));
    }
    this.seq.endRecovery(key);
    return true;
  }

  private async historyPageRetried(conv: Conversation, after: number, epoch: number): Promise<HistoryResult> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.historyPage(conv, after, epoch);
      } catch (err) {
        if (attempt >= PAGE_ATTEMPTS || !(err instanceof SwitchboardError && TRANSIENT.has(err.code))) throw err;
      }
      await new Promise<void>((resolve) => retryAfter(this.retryDelayMs(attempt), resolve));
      if (epoch !== this.session.epoch() || !this.session.open()) throw new ConnectionLostError();
    }
  }

  private historyPage(conv: Conversation, after: number, epoch: number): Promise<HistoryResult> {
    return new Promise((resolve, reject) => {
      if (epoch !== this.session.epoch()) return reject(new ConnectionLostError());
      const id = this.session.send(
        { type: 'history', ...conv, after, limit: HISTORY_PAGE },
        { type: 'history', onReply: (d) => resolve(d as HistoryResult), onError: reject, onLost: () => reject(new ConnectionLostError()) },
        this.options.requestTimeoutMs ?? 10_000,
      );
      if (id === null) reject(new ConnectionLostError());
    });
  }
}
