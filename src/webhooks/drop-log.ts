/**
 * Events dropped for one endpoint are counted and logged, never silently, but at most one warn line per period
 * (10 s): an endpoint that is down for hours with a full queue drops on every new event, and a line per event
 * would bury the log. The first drop after a quiet period is logged at once; the rest of the period's drops are
 * summed into one line at its end.
 */
import type { Logger } from 'pino';

/** Past maxQueued (the oldest went); tried maxAttempts times; the store could not take them at stop. */
export type DropReason = 'queueFull' | 'maxAttempts' | 'storeFailed';

export class DropLog {
  /** Every event dropped since start. */
  total = 0;
  private unlogged: Record<DropReason, number> = { queueFull: 0, maxAttempts: 0, storeFailed: 0 };
  private lastLogAt = -Infinity;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly endpoint: string,
    private readonly log: Logger,
    private readonly now: () => number,
    private readonly periodMs = 10_000,
  ) {}

  add(n: number, reason: DropReason): void {
    if (n <= 0) return;
    this.total += n;
    this.unlogged[reason] += n;
    const wait = this.lastLogAt + this.periodMs - this.now();
    if (wait <= 0) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), wait).unref();
  }

  /** Logs what was dropped and not yet told (also at stop). */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const { queueFull, maxAttempts, storeFailed } = this.unlogged;
    const dropped = queueFull + maxAttempts + storeFailed;
    if (dropped === 0) return;
    this.unlogged = { queueFull: 0, maxAttempts: 0, storeFailed: 0 };
    this.lastLogAt = this.now();
    this.log.warn(
      { endpoint: this.endpoint, dropped, queueFull, maxAttempts, storeFailed, droppedTotal: this.total },
      'webhook events dropped (queueFull: past webhooks.maxQueued, the oldest went; maxAttempts: tried webhooks.maxAttempts times; storeFailed: the store could not take them at stop)',
    );
  }
}
