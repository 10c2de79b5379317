/** Timer handles and limits, the same in browsers and Node. */

export type Timer = ReturnType<typeof setTimeout>;

/** Largest delay setTimeout accepts: a longer one fires at once. */
export const MAX_TIMER = 2_147_483_647;

/**
 * A pause before the client tries something again (a join, a sync, a history page). In Node it does not keep the
 * process alive by itself: after close() nothing waits for it, and what it retries checks the session when it fires.
 */
export function retryAfter(ms: number, fn: () => void): Timer {
  const t = setTimeout(fn, ms);
  (t as { unref?: () => void }).unref?.();
  return t;
}
