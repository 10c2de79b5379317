/**
 * What to do when the connection closes, by close code (docs/protocol.md §7).
 * Pure: the client feeds it the code and what it knows about its credentials.
 */
import type { CloseCode } from '../../../src/protocol/codes.js';

/** Close codes after which reconnecting cannot help: the client must change something first. */
export const FATAL_CLOSE_CODES: readonly CloseCode[] = [1003, 1009, 4003, 4007];

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
    case 1003: // binary frame: a client bug
    case 1009: // frame too big: a client bug
    case 4003: // replaced by another session of the same user
    case 4007: // too many sessions
      return { reconnect: false, kind: 'fatal' };
    case 4001: // unauthorized: only a new token can help
    case 4002: // token expired
      if (!ctx.canGetToken || ctx.authFailures >= MAX_AUTH_RETRIES) return { reconnect: false, kind: 'auth' };
      return { reconnect: true, minDelayMs: 0, newToken: true };
    case 4006: // flood: pause before coming back
      return { reconnect: true, minDelayMs: 2_000, newToken: false };
    case 1013: // server full
      return { reconnect: true, minDelayMs: 1_000, newToken: false };
    default:
      // 1000 (not asked for), 1001 going away, 1006 dropped, 1011, 4004 heartbeat, 4005 slow consumer, 4009 auth timeout, …
      return { reconnect: true, minDelayMs: 0, newToken: false };
  }
}
