/**
 * Exponential backoff with full jitter (the AWS Architecture Blog's "Exponential Backoff And Jitter"): after the
 * n-th failed attempt (n ≥ 1) the next waits a uniformly random time in [0, min(maxMs, baseMs · 2^(n-1))). Random
 * waits spread the retries of many events (and of many servers) over the window instead of sending them at once.
 */
export function retryDelay(attempts: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const exponent = Math.min(Math.max(attempts - 1, 0), 52);
  const ceiling = Math.min(maxMs, baseMs * 2 ** exponent);
  return Math.floor(random() * ceiling);
}
