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
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { CountCursor, Retention, Store } from './store.js';

export interface RetentionOptions extends Retention {
  intervalMs: number;
  stepSize: number;
}

export interface RetentionEvents {
  /** A pass ended having removed `removed` messages (also 0). */
  passed(removed: number): void;
  failed(err: unknown): void;
}

export interface PassOptions {
  /** Once aborted, the pass ends after the step under way (a pause between steps ends at once). */
  signal?: AbortSignal;
  /** After each step, wait as long as it took: a pass then takes about half of the store's time at most. */
  paced?: boolean;
}

/** One pass: by age, oldest first, then conversation by conversation by count. Returns how many messages went. */
export async function retentionPass(store: Store, policy: Retention, now: number, stepSize: number, opts: PassOptions = {}): Promise<number> {
  const { signal } = opts;
  const step = async <T>(run: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    const result = await run();
    if (opts.paced && !signal?.aborted) await sleep(performance.now() - t0, undefined, { signal, ref: false }).catch(() => {});
    return result;
  };
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
    if (this.opts.maxAgeMs === undefined && this.opts.maxCount === undefined) return;
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
    try {
      this.events.passed(await retentionPass(this.store, this.opts, this.now(), this.opts.stepSize, { signal: this.stopping.signal, paced: true }));
    } catch (err) {
      this.events.failed(err);
    }
  }
}
