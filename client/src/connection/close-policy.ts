/**
 * What to do when the connection closes, by close code (docs/protocol.md §7).
 * Pure: the client feeds it the code and what it knows about its credentials.
 */
import { CloseCode } from '../../../src/protocol/codes.js';

/** Close codes after which reconnecting cannot help: the client must change something first. */
export const FATAL_CLOSE_CODES: readonly CloseCode[] = [CloseCode.Unsupported, CloseCode.TooBig, CloseCode.Replaced, CloseCode.TooManySessions];

export type CloseDecision =
  | { reconnect: true; /** at least this long before the next attempt */ minDelayMs: number; /** call getToken for the next attempt */ newToken: boolean }
  | { reconnect: false; kind: 'auth' | 'fatal' };

export interface CloseContext {
  /** A `getToken` callback exists (a new token can be had). */
  canGetToken: boolean;
  /** 4001/4002 closes in a row without a successful session in between. */
  authFailures: number;
}

/** Consecutive auth refusals after which the client stops even with `getToken` (it keeps handing out bad tokens). */
export const MAX_AUTH_RETRIES = 3;

export function closeDecision(code: number, ctx: CloseContext): CloseDecision {
  switch (code) {
    case CloseCode.Unsupported: // binary frame: a client bug
    case CloseCode.TooBig: // a client bug too
    case CloseCode.Replaced: // coming back would take the session from the user's newer one
    case CloseCode.TooManySessions:
      return { reconnect: false, kind: 'fatal' };
    case CloseCode.Unauthorized: // only a new token can help
    case CloseCode.TokenExpired:
      if (!ctx.canGetToken || ctx.authFailures >= MAX_AUTH_RETRIES) return { reconnect: false, kind: 'auth' };
      return { reconnect: true, minDelayMs: 0, newToken: true };
    case CloseCode.Flood: // pause before coming back
      return { reconnect: true, minDelayMs: 2_000, newToken: false };
    case CloseCode.TryAgainLater: // server full
      return { reconnect: true, minDelayMs: 1_000, newToken: false };
    default:
      // 1000 (not asked for), 1001 going away, 1006 dropped, 1011, 4004 heartbeat, 4005 slow consumer, 4009 auth timeout, …
      return { reconnect: true, minDelayMs: 0, newToken: false };
  }
}
