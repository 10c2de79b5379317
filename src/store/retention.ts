/**
 * Retention in the background. A pass removes what the policy no longer
 * keeps in steps of at most `stepSize` messages (Store.trimOlder,
 * Store.trimToCount), each a short transaction of its own, so that the
 * commits queued behind a step wait for that step only, and after each step
 * the pass waits as long as the step took, leaving the store about half of
 * its time for everything else at least. As one statement each, a pass over a
 * store of 2 million messages held the SQLite writer — and every publish
 * waiting for its ack — for 0.6–5.7 s, 2.7–5.4 s of it with nothing to
 * remove (bench/retention.ts). The next pass starts `intervalMs` after one ends:
 * passes never overlap.
 *
 * Files go with the messages: a pass ends by looking, in steps too, at the
 * uploads older than `unusedUploadsMaxAgeMs` that may be unused (never sent,
 * or their messages removed since they were last looked at), removing the
 * records of those no stored message refers to and handing their ids to
 * `removeFiles` for their bytes.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { CountCursor, Retention, Store } from './store.js';

export interface RetentionOptions extends Retention {
  intervalMs: number;
  stepSize: number;
  /** Uploads that no stored message refers to go once older than this; unset: they stay. */
  unusedUploadsMaxAgeMs?: number;
  /** Removes the bytes of uploads whose records a pass removed. */
  removeFiles?: (ids: string[]) => Promise<void>;
}

export interface RetentionEvents {
  /** A pass ended having removed `removed` messages and `files` uploads (also 0). */
  passed(removed: number, files: number): void;
  /** Another node sharing the database was running a pass (Store.retentionLease): this one did not run. */
  skipped?(): void;
  failed(err: unknown): void;
}

export interface PassOptions {
  /** Once aborted, the pass ends after the step under way (a pause between steps ends at once). */
  signal?: AbortSignal;
  /** After each step, wait as long as it took: a pass then takes about half of the store's time at most. */
  paced?: boolean;
}

type Step = <T>(run: () => Promise<T>) => Promise<T>;

/** Runs a step, and (paced) then waits as long as it took. */
function stepper(opts: PassOptions): Step {
  const { signal } = opts;
  return async (run) => {
    const t0 = performance.now();
    const result = await run();
    if (opts.paced && !signal?.aborted) await sleep(performance.now() - t0, undefined, { signal, ref: false }).catch(() => {});
    return result;
  };
}

/** One pass: by age, oldest first, then conversation by conversation by count. Returns how many messages went. */
export async function retentionPass(store: Store, policy: Retention, now: number, stepSize: number, opts: PassOptions = {}): Promise<number> {
  const { signal } = opts;
  const step = stepper(opts);
  let removed = 0;
  if (policy.maxAgeMs !== undefined) {
    const before = now - policy.maxAgeMs;
    while (!signal?.aborted) {
      const n = await step(() => store.trimOlder(before, stepSize));
      removed += n;
      if (n < stepSize) break;
    }
  }
  const keep = policy.maxCount;
  if (keep !== undefined) {
    let cursor: CountCursor | null = { after: '' };
    while (cursor !== null && !signal?.aborted) {
      const from: CountCursor = cursor;
      const trimmed = await step(() => store.trimToCount(keep, from, stepSize));
      removed += trimmed.removed;
      cursor = trimmed.next;
    }
  }
  return removed;
}

/**
 * Removes the uploads made before `before` that no stored message refers to, a step at a time (Store.trimUploads):
 * each step's records first, then their bytes (a crash in between leaves bytes nothing points to, never a record
 * without its bytes). Returns how many went.
 */
export async function unusedUploadsPass(
  store: Store,
  before: number,
  stepSize: number,
  removeFiles: (ids: string[]) => Promise<void>,
  opts: PassOptions = {},
): Promise<number> {
  const step = stepper(opts);
  let removed = 0;
  while (!opts.signal?.aborted) {
    const trim = await step(() => store.trimUploads(before, stepSize));
    if (trim.removed.length > 0) await removeFiles(trim.removed);
    removed += trim.removed.length;
    if (!trim.more) break;
  }
  return removed;
}

export class RetentionTimer {
  private timer: NodeJS.Timeout | null = null;
  private pass: Promise<void> | null = null;
  private readonly stopping = new AbortController();

  constructor(
    private readonly store: Store,
    private readonly opts: RetentionOptions,
    private readonly now: () => number,
    private readonly events: RetentionEvents,
  ) {}

  start(): void {
    if (this.opts.maxAgeMs === undefined && this.opts.maxCount === undefined && this.opts.unusedUploadsMaxAgeMs === undefined) return;
    this.schedule();
  }

  /** No pass starts from now on; resolves once the one under way (if any) has ended with its current step. */
  async stop(): Promise<void> {
    this.stopping.abort();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.pass;
  }

  private schedule(): void {
    if (this.stopping.signal.aborted) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.pass = this.runPass().finally(() => {
        this.pass = null;
        this.schedule();
      });
    }, this.opts.intervalMs).unref();
  }

  private async runPass(): Promise<void> {
    const { opts } = this;
    const pass: PassOptions = { signal: this.stopping.signal, paced: true };
    const run = async (): Promise<[number, number]> => {
      const now = this.now();
      const removed = await retentionPass(this.store, opts, now, opts.stepSize, pass);
      const files =
        opts.unusedUploadsMaxAgeMs === undefined || !opts.removeFiles
          ? 0
          : await unusedUploadsPass(this.store, now - opts.unusedUploadsMaxAgeMs, opts.stepSize, opts.removeFiles, pass);
      return [removed, files];
    };
    try {
      const done = this.store.retentionLease ? await this.store.retentionLease(run) : await run();
      if (done) this.events.passed(done[0], done[1]);
      else this.events.skipped?.();
    } catch (err) {
      this.events.failed(err);
    }
  }
}
