/**
 * Client-side pacing. The server refuses messages over `limits.messagesPerSecond`
 * (and closes a session that keeps going, 4006); a client that just came back
 * with a full offline queue must not trip that. A token bucket with the server's
 * rate; the capacity is the same number (the server's burst is at least that).
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private ratePerSecond: number,
    private capacity: number,
    now: number,
  ) {
    this.tokens = capacity;
    this.last = now;
  }

  /** Changes the rate (a new `connected` push); the bucket starts full. */
  configure(ratePerSecond: number, capacity: number, now: number): void {
    this.ratePerSecond = ratePerSecond;
    this.capacity = capacity;
    this.tokens = capacity;
    this.last = now;
  }

  private refill(now: number): void {
    const elapsed = now - this.last;
    if (elapsed > 0) {
      this.tokens = Math.min(this.capacity, this.tokens + (elapsed * this.ratePerSecond) / 1000);
      this.last = now;
    }
  }

  /** Takes `tokens` more for a line that costs more than one (may go below zero: later lines wait longer). */
  charge(tokens: number): void {
    this.tokens -= tokens;
  }

  /** Takes one token if there is one. */
  take(now: number): boolean {
    this.refill(now);
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    return false;
  }

  /** Tokens available now (whole ones). */
  available(now: number): number {
    this.refill(now);
    return Math.floor(this.tokens);
  }

  /** Ms until one token is available (0 if one is). */
  waitMs(now: number): number {
    this.refill(now);
    if (this.tokens >= 1) return 0;
    return Math.ceil(((1 - this.tokens) * 1000) / this.ratePerSecond);
  }
}
