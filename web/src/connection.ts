/**
 * Connection helpers: what each close code means for the user (docs/protocol.md
 * §7), and a WebSocket that does not dial while the browser says it is offline.
 */
import type { StateChange, SwitchboardError } from '../../client/src/index.js';
import { CloseCode } from '../../src/protocol/codes.js';

/** Close codes: [name, what it means for the user]. */
const CLOSE_CODES: Record<number, [string, string]> = {
  [CloseCode.Normal]: ['normal', 'the connection was closed'],
  [CloseCode.GoingAway]: ['going away', 'the server is restarting'],
  [CloseCode.Unsupported]: ['unsupported data', 'the app sent data the server does not accept'],
  [CloseCode.Abnormal]: ['connection lost', 'the network connection dropped'],
  [CloseCode.TooBig]: ['message too big', 'a message exceeded the size limit'],
  [CloseCode.TryAgainLater]: ['try again later', 'the server is full'],
  [CloseCode.Unauthorized]: ['unauthorized', 'the user name or token was refused'],
  [CloseCode.TokenExpired]: ['token expired', 'sign in again with a new token'],
  [CloseCode.Replaced]: ['replaced', 'the chat was opened in another tab or device'],
  [CloseCode.HeartbeatTimeout]: ['heartbeat timeout', 'the server got no answer in time'],
  [CloseCode.SlowConsumer]: ['slow consumer', 'the connection fell behind'],
  [CloseCode.Flood]: ['flood', 'too many messages were sent too fast'],
  [CloseCode.TooManySessions]: ['too many sessions', 'close another tab or device first'],
  [CloseCode.AuthTimeout]: ['auth timeout', 'no credentials were sent in time'],
  [CloseCode.Disconnected]: ['disconnected', 'the server disconnected this session'],
};

/** What a close means, e.g. "the server is restarting (1001 going away)"; the server's reason, when it gave one, is more precise. */
export function describeClose(code: number | undefined, reason?: string): string {
  if (code === undefined) return 'the connection closed';
  const [name, meaning] = CLOSE_CODES[code] ?? ['', 'the connection closed'];
  return `${reason || meaning} (${code}${name ? ` ${name}` : ''})`;
}

/** The banner for a connection state (null: connected, no banner). `retryLeftMs`: time left before the next attempt. */
export function describeState(
  s: StateChange,
  online: boolean,
  queued: number,
  retryLeftMs = s.retryInMs ?? 0,
): { text: string; kind: 'connecting' | 'offline' | 'error'; action?: 'retry' | 'takeover' | 'signin' } | null {
  const waiting = queued > 0 ? ` · ${queued === 1 ? '1 message' : `${queued} messages`} waiting to be sent` : '';
  if (s.state === 'connected') return null;
  if (!online) return { kind: 'offline', text: `You are offline. Messages you write are sent when the connection is back.${waiting}`, action: 'retry' };
  if (s.state === 'connecting') return { kind: 'connecting', text: `${s.attempt > 0 ? `Reconnecting (attempt ${s.attempt + 1})…` : 'Connecting…'}${waiting}` };
  if (s.willReconnect) {
    const secs = Math.max(1, Math.ceil(retryLeftMs / 1000));
    return { kind: 'offline', text: `${capitalize(describeClose(s.closeCode))}. Reconnecting in ${secs} s…${waiting}`, action: 'retry' };
  }
  if (s.closeCode === CloseCode.Replaced || s.closeCode === CloseCode.TooManySessions) return { kind: 'error', text: `Disconnected: ${describeClose(s.closeCode)}.`, action: 'takeover' };
  if (s.closeCode === CloseCode.Unauthorized || s.closeCode === CloseCode.TokenExpired) return { kind: 'error', text: `Signed out: ${describeClose(s.closeCode, s.reason)}.`, action: 'signin' };
  return { kind: 'error', text: `Disconnected: ${describeClose(s.closeCode, s.reason)}.${waiting}`, action: 'retry' };
}

const capitalize = (t: string): string => t.charAt(0).toUpperCase() + t.slice(1);

export function errorText(err: unknown): string {
  const e = err as Partial<SwitchboardError> & { message?: string };
  if (e && typeof e.code === 'string') return `${e.message ?? e.code} (${e.code})`;
  return e?.message ?? String(err);
}

/**
 * A socket that fails at once, the way a real one fails without a network,
 * but without the browser's console error: used while `navigator.onLine` is false.
 */
class OfflineSocket {
  readyState = 0;
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  constructor() {
    setTimeout(() => {
      this.readyState = 3;
      this.onclose?.({ code: CloseCode.Abnormal, reason: 'offline' });
    }, 0);
  }
  send(): void {}
  close(): void {}
}

/**
 * The browser went offline while the page was open (its `offline` event). Only
 * a transition counts: `navigator.onLine` alone is sometimes wrong at startup,
 * and a page must not refuse to connect because of that.
 */
let wentOffline = false;
addEventListener('offline', () => (wentOffline = true));
addEventListener('online', () => (wentOffline = false));

export function browserOffline(): boolean {
  return wentOffline && navigator.onLine === false;
}

/** The platform WebSocket, except that it does not dial while the browser is offline (the SDK retries with backoff; `online` reconnects at once). */
export class OnlineAwareWebSocket {
  constructor(url: string, protocols?: string | string[]) {
    return (browserOffline() ? new OfflineSocket() : new WebSocket(url, protocols)) as unknown as OnlineAwareWebSocket;
  }
}
