/**
 * Group commit. Everything written during one event-loop turn — messages,
 * joins, leaves, read marks — goes to the store as one batch, one
 * transaction. While a batch is being written the next one collects, and
 * under load the next commit waits out `groupCommitMs` since the last began,
 * so the store never sees one transaction per message.
 * Results come back in submission order; the callbacks run in that order.
 */
import type { Logger } from 'pino';
import type { AppendDone, Persistence } from '../hub/persistence.js';
import { LogThrottle } from '../observe/log-throttle.js';
import type { CommitOutcomes } from './health.js';
import { emptyBatch, type Appended, type HistoryPage, type HistoryQuery, type Membership, type MemberRef, type NewMessage, type ReadMark, type Store, type WriteBatch } from './store.js';

export type { AppendDone, Persistence };

const MEMBERSHIPS_STORM_MS = 20;
const MEMBERSHIPS_WINDOW_MS = 2;

export interface CommitterOptions {
  maxPending: number;
  maxBatch: number;
  /**
   * Under load (the last commit carried two messages or more), a commit starts at most once per this many ms, so
   * that the publishes of that time share one transaction and one disk sync (0: as soon as the last one is done).
   */
  groupCommitMs?: number;
  /**
   * A store that is down fails every batch: the first failure is logged at once, the rest counted into one line
   * per this many ms (observe/log-throttle.ts; default 10 s).
   */
  repeatIntervalMs?: number;
  /** Told each batch's outcome (store/health.ts, for readiness). */
  outcomes?: CommitOutcomes;
}

/** Told of every commit (metrics, observe/metrics.ts): how long it took, how many messages it wrote, whether it did. */
export interface CommitCounters {
  committed(ms: number, messages: number, ok: boolean): void;
}

const NO_COUNTERS: CommitCounters = { committed: () => {} };

export class Committer implements Persistence {
  private next: WriteBatch = emptyBatch();
  private nextDone: AppendDone[] = [];
  private inFlight = false;
  private scheduled = false;
  /** When the last commit went out (ms, performance.now()), and how many messages it carried. */
  private lastStart = -Infinity;
  private lastMessages = 0;
  private pending = 0;
  private nextWaiters: (() => void)[] = [];
  private flightWaiters: (() => void)[] = [];
  private membershipAsks = new Map<string, { resolve: (m: Membership[]) => void; reject: (e: Error) => void }[]>();
  /** A memberships query is out: asks wait for it to return and then go together. */
  private membershipsBusy = false;
  private membershipsTimer = false;
  /** When the last memberships query went out (ms, performance.now()). */
  private lastMembershipsAt = -Infinity;
  private readonly failures: LogThrottle;

  constructor(
    private readonly store: Store,
    private readonly opts: CommitterOptions,
    private readonly log: Logger,
    private readonly counters: CommitCounters = NO_COUNTERS,
  ) {
    this.failures = new LogThrottle(log, opts.repeatIntervalMs);
  }

  /** Messages accepted but not yet durable. */
  get backlog(): number {
    return this.pending;
  }

  append(msg: NewMessage, joins: readonly MemberRef[] | null, done: AppendDone): boolean {
    if (this.pending >= this.opts.maxPending) return false;
    if (joins) for (const j of joins) this.next.joins.push(j);
    this.next.messages.push(msg);
    this.nextDone.push(done);
    this.pending++;
    this.schedule();
    return true;
  }

  join(ref: MemberRef): void {
    this.next.joins.push(ref);
    this.schedule();
  }

  leave(ref: MemberRef): void {
    this.next.leaves.push(ref);
    this.schedule();
  }

  /** Resolves once the read mark is stored. */
  read(mark: ReadMark): Promise<void> {
    this.next.reads.push(mark);
    this.schedule();
    return this.written();
  }

  history(q: HistoryQuery): Promise<HistoryPage> {
    return this.store.history(q);
  }

  /**
   * Asked once per connecting session. Like writes, asks are grouped: those of
   * one turn, and all that arrive while a query is out, become one query; and
   * while sessions keep arriving (a query went out less than
   * MEMBERSHIPS_STORM_MS ago) the next query waits MEMBERSHIPS_WINDOW_MS for
   * more. A round trip to the SQLite worker costs ~30 µs of CPU: per session
   * it was a tenth of a connect storm's CPU.
   */
  memberships(user: string): Promise<Membership[]> {
    return new Promise((resolve, reject) => {
      let waiting = this.membershipAsks.get(user);
      if (!waiting) this.membershipAsks.set(user, (waiting = []));
      waiting.push({ resolve, reject });
      if (this.membershipAsks.size === 1 && waiting.length === 1 && !this.membershipsBusy) this.scheduleMemberships();
    });
  }

  private scheduleMemberships(): void {
    if (this.membershipsTimer) return;
    this.membershipsTimer = true;
    if (performance.now() - this.lastMembershipsAt < MEMBERSHIPS_STORM_MS) setTimeout(this.askMemberships, MEMBERSHIPS_WINDOW_MS);
    else setImmediate(this.askMemberships);
  }

  private readonly askMemberships = (): void => {
    this.membershipsTimer = false;
    const asks = this.membershipAsks;
    if (asks.size === 0) return;
    this.membershipAsks = new Map();
    this.membershipsBusy = true;
    this.lastMembershipsAt = performance.now();
    const next = (): void => {
      this.membershipsBusy = false;
      if (this.membershipAsks.size > 0) this.scheduleMemberships();
    };
    // Read after every write queued so far (a read mark just acknowledged, a join): the summary must include them.
    this.written()
      .then(() => this.store.memberships([...asks.keys()]))
      .then(
      (found) => {
        for (const [user, waiting] of asks) for (const w of waiting) w.resolve(found.get(user) ?? []);
      },
      (err: Error) => {
        for (const waiting of asks.values()) for (const w of waiting) w.reject(err);
      },
    )
      .finally(next);
  };

  /** After the writes queued so far: a join just made (its row is written by the next commit) counts. */
  isMember(user: string, conv: string): Promise<boolean> {
    return this.written().then(() => this.store.isMember(user, conv));
  }

  /** Resolves once everything queued so far has been written (or has failed). */
  written(): Promise<void> {
    if (!isEmpty(this.next)) return new Promise((resolve) => this.nextWaiters.push(resolve));
    if (this.inFlight) return new Promise((resolve) => this.flightWaiters.push(resolve));
    return Promise.resolve();
  }

  /** Waits for what is queued, then logs the failures counted and not yet told. */
  async drain(): Promise<void> {
    await this.written();
    this.failures.flush();
  }

  /**
   * Alone, a publish is committed at once. Under load, commits as fast as the disk syncs carried a few messages each
   * (at 3,000 msg/s in 1,000 rooms: 640 commits a second, 3 messages in the median one), and the writer spent three
   * times the CPU per message of batches of 150 — enough to fill the event loop's core and stall delivery. Waiting
   * out the rest of `groupCommitMs` since the last commit began lets the batch fill; PostgreSQL's commit_delay does
   * the same, also only when other transactions are about.
   */
  private schedule(): void {
    if (this.scheduled || this.inFlight) return;
    this.scheduled = true;
    const wait = this.lastMessages >= 2 ? (this.opts.groupCommitMs ?? 0) - (performance.now() - this.lastStart) : 0;
    if (wait >= 1) setTimeout(this.write, wait);
    else setImmediate(this.write);
  }

  private readonly write = (): void => {
    this.scheduled = false;
    if (this.inFlight || isEmpty(this.next)) return;
    const { batch, done } = this.take();
    // Waiters for "everything so far" ride with this batch, unless part of what they wait for was left for the next.
    if (isEmpty(this.next)) {
      this.flightWaiters = this.nextWaiters;
      this.nextWaiters = [];
    }
    this.inFlight = true;
    const started = performance.now();
    this.lastStart = started;
    this.lastMessages = batch.messages.length;
    const finished = (): void => {
      this.inFlight = false;
      const waiters = this.flightWaiters;
      this.flightWaiters = [];
      for (const w of waiters) w();
    };
    this.store.commit(batch).then(
      (results) => {
        finished();
        this.counters.committed(performance.now() - started, batch.messages.length, true);
        this.opts.outcomes?.committed();
        this.pending -= done.length;
        for (let i = 0; i < done.length; i++) done[i]!(null, results[i]!);
        this.schedule();
      },
      (err: Error) => {
        finished();
        this.counters.committed(performance.now() - started, batch.messages.length, false);
        this.pending -= done.length;
        this.opts.outcomes?.failed(err);
        this.failures.error({ err: err.message, messages: batch.messages.length }, 'store commit failed');
        for (const d of done) d(err, null);
        this.schedule();
      },
    );
  };

  /** The next batch, at most maxBatch messages; the rest waits for the following one. */
  private take(): { batch: WriteBatch; done: AppendDone[] } {
    const batch = this.next;
    const done = this.nextDone;
    if (batch.messages.length <= this.opts.maxBatch) {
      this.next = emptyBatch();
      this.nextDone = [];
      return { batch, done };
    }
    const max = this.opts.maxBatch;
    this.next = { ...emptyBatch(), messages: batch.messages.splice(max) };
    this.nextDone = done.splice(max);
    // Membership changes queued after the cut belong with the messages that follow it; keeping them all in
    // this batch only makes them durable earlier, which is harmless.
    return { batch, done };
  }
}

function isEmpty(b: WriteBatch): boolean {
  return b.messages.length === 0 && b.joins.length === 0 && b.leaves.length === 0 && b.reads.length === 0;
}
