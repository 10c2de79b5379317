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
import type { Retention, Store } from './store.js';

export interface RetentionOptions extends Retention {
  intervalMs: number;
  stepSize: number;
}

export interface RetentionEvents {
  /** A pass ended having removed `removed` messages (also 0). */
  passed(removed: number): void;
  failed(err: Error): void;
}

export interface PassOptions {
  /** Checked before each step: once true, the pass ends where it is. */
  stopped?: () => boolean;
  /** After each step, wait as long as it took: a pass then takes at most half of the store's time. */
  paced?: boolean;
}

/** One pass: by age, oldest first, then conversation by conversation by count. Returns how many messages went. */
export async function retentionPass(store: Store, policy: Retention, now: number, stepSize: number, opts: PassOptions = {}): Promise<number> {
  const stopped = opts.stopped ?? ((): boolean => false);
  const step = async <T>(run: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    const result = await run();
    if (opts.paced) await new Promise((resolve) => setTimeout(resolve, performance.now() - t0));
    return result;
  };
  let removed = 0;
  if (policy.maxAgeMs !== undefined) {
    const before = now - policy.maxAgeMs;
    while (!stopped()) {
      const n = await step(() => store.trimOlder(before, stepSize));
      removed += n;
      if (n < stepSize) break;
    }
  }
  const keep = policy.maxCount;
  if (keep !== undefined) {
    let after: string | null = '';
    while (after !== null && !stopped()) {
      const from: string = after;
      const trimmed = await step(() => store.trimToCount(keep, from, stepSize));
      removed += trimmed.removed;
      after = trimmed.next;
    }
  }
  return removed;
}

export class RetentionTimer {
  private timer: NodeJS.Timeout | null = null;
  private pass: Promise<void> | null = null;
  private stopped = false;

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

  /** No pass starts from now on; resolves once the one under way (if any) has stopped after its current step. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.pass;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.pass = retentionPass(this.store, this.opts, this.now(), this.opts.stepSize, { stopped: () => this.stopped, paced: true })
        .then(
          (removed) => this.events.passed(removed),
          (err: Error) => this.events.failed(err),
        )
        .finally(() => {
          this.pass = null;
          this.schedule();
        });
    }, this.opts.intervalMs).unref();
  }
}
