/**
 * Token bucket per session: `perSecond` sustained, `burst` at once. Messages
 * over the limit are refused (the client is told); a session that keeps
 * pushing past the limit — `maxStrikes` refusals within one second — is
 * judged a flood and closed.
 */
export interface RateLimits {
  messagesPerSecond: number;
  burst: number;
  maxRateStrikes: number;
}

export type RateVerdict = 'ok' | 'refuse' | 'flood';

export class RateLimiter {
  private tokens: number;
  private last: number;
  private strikes = 0;
  private strikeWindow = 0;

  constructor(
    private readonly limits: RateLimits,
    now: number,
  ) {
    this.tokens = limits.burst;
    this.last = now;
  }

  /**
   * Charges `tokens` more for a line that costs more than one message (a `sync` that names many conversations is
   * a store read for each). The bucket may go below zero: the lines after it wait until it has refilled.
   */
  charge(tokens: number): void {
    this.tokens -= tokens;
  }

  take(now: number): RateVerdict {
    const elapsed = now - this.last;
    if (elapsed > 0) {
      this.tokens = Math.min(this.limits.burst, this.tokens + (elapsed * this.limits.messagesPerSecond) / 1000);
      this.last = now;
    }
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 'ok';
    }
    if (now - this.strikeWindow >= 1000) {
      this.strikeWindow = now;
      this.strikes = 0;
    }
    return ++this.strikes > this.limits.maxRateStrikes ? 'flood' : 'refuse';
  }
}
