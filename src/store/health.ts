/**
 * Whether the store works, for readiness (/readyz). It comes from what the store already sees — each group
 * commit's outcome, told by the committer — and, when that says nothing (no traffic) or while the store is
 * failing, from a probe every few seconds: a trivial read through the store's ordered path (the SQLite writer, the
 * PostgreSQL store's one connection) and, for SQLite, the free space of its folder (statfs). Never a probe per
 * request.
 *
 * Problems:
 * - "store unreachable": a commit or a probe failed (PostgreSQL down or cut off, the SQLite writer gone), or a
 *   probe was not answered within `timeoutMs` while no commit succeeded either (a connection that hangs).
 * - "disk full": a write failed for want of space (SQLITE_FULL, ENOSPC, PostgreSQL's 53100), or the SQLite
 *   folder has less than `minFreeBytes` free.
 *
 * Readiness comes back by itself: at the first commit that succeeds, or at a probe that succeeds with no failure
 * seen since it began (a failed write to a full disk is only over once the free space is back above the
 * threshold). Transitions are logged, once each.
 */
import { statfs as fsStatfs } from 'node:fs/promises';
import type { Store } from './store.js';

export type StoreProblem = 'store unreachable' | 'disk full';

/** What the server reads for /readyz. */
export interface StoreStatus {
  /** Null while the store works. */
  problem(): StoreProblem | null;
}

/** What the committer tells of each group commit (CommitterOptions.outcomes). O(1): it runs once per batch. */
export interface CommitOutcomes {
  committed(): void;
  failed(err: Error): void;
}

export interface StoreHealthOptions {
  /** How often the probe runs (ms). */
  intervalMs: number;
  /** A probe not answered by then counts as a failure, unless a commit succeeded meanwhile (ms). */
  timeoutMs: number;
  /** The SQLite file's folder, whose free space is watched; null for PostgreSQL or an in-memory database. */
  dataDir: string | null;
  /** Less free space than this in `dataDir` is "disk full". 0: only failed writes count. */
  minFreeBytes: number;
  /** Tests: free space in a folder. */
  freeBytes?: (dir: string) => Promise<number>;
  now?: () => number;
}

/** Errors that say the disk is full: SQLite's SQLITE_FULL, the system's ENOSPC, PostgreSQL's disk_full (53100). */
export function isDiskFull(err: unknown): boolean {
  const { code, message } = (err ?? {}) as { code?: unknown; message?: unknown };
  if (code === 'SQLITE_FULL' || code === 'ENOSPC' || code === '53100') return true;
  return typeof message === 'string' && /database or disk is full|no space left on device/i.test(message);
}

async function statfsFree(dir: string): Promise<number> {
  const s = await fsStatfs(dir);
  return s.bavail * s.bsize;
}

interface Failure {
  problem: StoreProblem;
  since: number;
}

export class StoreHealth implements StoreStatus, CommitOutcomes {
  private failure: Failure | null = null;
  /** Free bytes when last looked at below minFreeBytes; null while there is enough (or nobody looks). */
  private low: number | null = null;
  /** Counters, so that a probe can tell whether anything happened while it was out. */
  private successes = 0;
  private failures = 0;
  /** Successes when the last tick ran: one since means traffic has just shown the store working. */
  private successesAtTick = 0;
  private probing = false;
  private timer: NodeJS.Timeout | null = null;
  private readonly now: () => number;
  private readonly freeBytes: (dir: string) => Promise<number>;

  constructor(
    private readonly store: Pick<Store, 'lastSeq'>,
    private readonly opts: StoreHealthOptions,
    private readonly log: Record<'error' | 'warn' | 'info', (fields: object, msg: string) => void>,
  ) {
    this.now = opts.now ?? Date.now;
    this.freeBytes = opts.freeBytes ?? statfsFree;
  }

  problem(): StoreProblem | null {
    return this.failure?.problem ?? (this.low !== null ? 'disk full' : null);
  }

  committed(): void {
    this.successes++;
    if (this.failure) this.recover('a commit succeeded');
  }

  failed(err: Error): void {
    this.failures++;
    const problem: StoreProblem = isDiskFull(err) ? 'disk full' : 'store unreachable';
    if (this.failure?.problem === problem) return;
    this.failure = { problem, since: this.failure?.since ?? this.now() };
    this.log.error(
      { problem, err: err.message },
      `store unavailable (${problem}): /readyz answers 503 until it works again`,
    );
  }

  /** Looks at once (the free space at start), then every intervalMs. */
  start(): Promise<void> {
    if (!this.timer) this.timer = setInterval(() => void this.tick(), this.opts.intervalMs).unref();
    return this.tick();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** One look: free space, then the store itself unless traffic has just shown it working. */
  async tick(): Promise<void> {
    await this.checkSpace();
    const busy = this.successes !== this.successesAtTick;
    this.successesAtTick = this.successes;
    if (this.probing || (busy && !this.failure)) return;
    // A failed write to a full disk is not over while the space has not come back.
    if (this.failure?.problem === 'disk full' && this.low !== null) return;
    await this.probe();
  }

  private async checkSpace(): Promise<void> {
    const { dataDir, minFreeBytes } = this.opts;
    if (dataDir === null || minFreeBytes <= 0) return;
    let free: number;
    try {
      free = await this.freeBytes(dataDir);
    } catch {
      return; // the folder's free space cannot be read: nothing to say about it
    }
    if (free < minFreeBytes) {
      if (this.low === null)
        this.log.warn({ freeBytes: free, minFreeBytes, dir: dataDir }, 'low on disk space (store.minFreeBytes): /readyz answers 503 (disk full)');
      this.low = free;
    } else if (this.low !== null) {
      this.low = null;
      this.log.info({ freeBytes: free, minFreeBytes, dir: dataDir }, 'disk space is back above store.minFreeBytes');
    }
  }

  private probe(): Promise<void> {
    this.probing = true;
    const { successes, failures } = this;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), this.opts.timeoutMs).unref()));
    const answered = this.store.lastSeq('').then(
      () => 'ok' as const,
      (err: unknown) => (err instanceof Error ? err : new Error(String(err))),
    );
    void answered.finally(() => (this.probing = false));
    return Promise.race([answered, timedOut]).then((r) => {
      clearTimeout(timer);
      if (r === 'timeout') {
        // Still out: the next tick does not send another. Commits that succeeded meanwhile say enough.
        if (this.successes === successes) this.failed(new Error(`the store did not answer a probe within ${this.opts.timeoutMs} ms`));
      } else if (r !== 'ok') this.failed(r);
      else if (this.failure && this.failures === failures) this.recover('a probe succeeded');
    });
  }

  private recover(how: string): void {
    const f = this.failure!;
    this.failure = null;
    this.log.info({ problem: f.problem, forMs: this.now() - f.since, how }, 'store works again');
  }
}
