/**
 * Exponential backoff with jitter for reconnects. The n-th delay (from 0) is
 * drawn from `[ceil·(1−jitter), ceil]`, where `ceil = min(maxMs, initialMs·factor^n)`:
 * jitter 0 is plain exponential, jitter 1 is "full jitter" (AWS architecture blog).
 */
export interface BackoffOptions {
  /** First delay ceiling, ms (default 500). */
  initialMs?: number;
  /** Largest delay, ms (default 30 000). */
  maxMs?: number;
  /** Growth per attempt (default 2). */
  factor?: number;
  /** Fraction of the delay that is random, 0..1 (default 0.5). */
  jitter?: number;
  /**
   * Attempts in a row without a session after which the client stops (`reconnect_gave_up`; `connect()` rejects).
   * Default: no limit, the client keeps trying.
   */
  maxAttempts?: number;
}

export class Backoff {
  readonly initialMs: number;
  readonly maxMs: number;
  readonly factor: number;
  readonly jitter: number;
  private n = 0;

  constructor(opts: BackoffOptions = {}, private readonly random: () => number = Math.random) {
    this.initialMs = Math.max(0, opts.initialMs ?? 500);
    this.maxMs = Math.max(this.initialMs, opts.maxMs ?? 30_000);
    this.factor = Math.max(1, opts.factor ?? 2);
    this.jitter = Math.min(1, Math.max(0, opts.jitter ?? 0.5));
  }

  /** Attempts made since the last reset. */
  get attempt(): number {
    return this.n;
  }

  /** The ceiling of the delay for attempt `n` (no jitter). */
  ceiling(n: number): number {
    return Math.min(this.maxMs, this.initialMs * Math.pow(this.factor, n));
  }

  /** The next delay, ms; each call counts one attempt. */
  next(): number {
    const ceil = this.ceiling(this.n);
    this.n++;
    const r = Math.min(1, Math.max(0, this.random()));
    return Math.round(ceil * (1 - this.jitter + this.jitter * r));
  }

  reset(): void {
    this.n = 0;
  }
}
