/**
 * The public shapes around SwitchboardClient besides its methods: what the app
 * passes in (client, message and request options) and the events it gets back.
 * Kept apart from the client's machinery so the contract reads in one place.
 */
import type { BackoffOptions } from './backoff.js';
import type { WebSocketConstructor } from './connection/transport.js';
import type { Encoding } from './wire.js';
import type { SwitchboardError } from './errors.js';
import type {
  ConnectedPush,
  ContentType,
  Conversation,
  GapEvent,
  MessageMeta,
  MessagePush,
  LeftPush,
  NoticePush,
  PresencePush,
  RecoveryEvent,
  SignalPush,
  StateChange,
  TypingPush,
  UnreadPush,
} from './types.js';

export interface ClientOptions {
  /** The WebSocket endpoint, e.g. `wss://chat.example.com/ws`. */
  url: string;
  /** A JWT. It cannot be refreshed: when it expires the client stops (use `getToken` for long sessions). */
  token?: string;
  /** Returns a (fresh) JWT; called before every connection attempt and before the current token expires. */
  getToken?: () => string | Promise<string>;
  /** Development identity (`?user=NAME`; only when the server has dev auth on). */
  user?: string;
  /** How the token reaches the server: in the first message (default; keeps it out of URL logs) or as `?token=`. */
  tokenTransport?: 'message' | 'query';
  /** A WebSocket class to use instead of the platform's (or `ws` in Node). */
  WebSocket?: WebSocketConstructor;
  /**
   * The wire encoding of protocol version 2: `proto` (Protobuf, binary frames,
   * `switchboard.v2.proto`; the default, see `DEFAULT_ENCODING` in wire.ts; its
   * decoder is loaded on first connect) or `json` (the lean JSON, subprotocol
   * `switchboard.v2.json`, no Protobuf runtime loaded). The app
   * sees the same messages either way. A server that answers no subprotocol
   * speaks version 1's JSON, and the client then speaks JSON to it.
   */
  encoding?: Encoding;
  /**
   * The URL the server's HTTP routes (`upload`, `files/…`) live under: set it when
   * a proxy serves the server under a path prefix (`https://example.com/chat/`),
   * or on another host. Default: `url`'s origin (`wss://chat.example.com/ws` →
   * `https://chat.example.com/`). File paths from message bodies (`/files/ID`)
   * resolve under it.
   */
  httpUrl?: string;
  /** `fetch` to use for uploads (default: the global one). */
  fetch?: typeof fetch;
  /** Reconnect backoff (defaults: 500 ms initial, ×2, 30 s max, 50 % jitter); `false`: never reconnect. */
  reconnect?: BackoffOptions | false;
  /** Default timeout of requests (presence, history, …), from the call, ms (default 10 000). */
  requestTimeoutMs?: number;
  /** Give up on a connection attempt that has not produced a session within this time, ms (default 10 000). */
  connectTimeoutMs?: number;
  /** Upload timeout, ms (default 60 000). */
  uploadTimeoutMs?: number;
  /** Most messages held in the offline queue (default 1000); more are refused with QueueFullError. */
  maxQueue?: number;
  /** Refresh the token this long before it expires, ms (default 30 000; at most 3/4 of its lifetime). */
  tokenRefreshMarginMs?: number;
  /**
   * Liveness check of the client's own (browsers cannot see WebSocket pings): when
   * the server has been silent for `intervalMs`, send `ping`; when it stays silent
   * `timeoutMs` longer, drop the connection and reconnect. Default: on, with the
   * server's heartbeat values from `connected`; `false` turns it off.
   */
  heartbeat?: boolean | { intervalMs?: number; timeoutMs?: number };
  /** Fetch missed messages with `history` when the server cannot replay them (default true). */
  fillGaps?: boolean;
  /** Positions to resume from (e.g. persisted from `positions()` by a previous run): last seq seen per room and per DM partner. */
  positions?: { rooms?: Record<string, number>; direct?: Record<string, number> };
  /** Idempotency keys for publish/send (default: `randomKey`, a v7 UUID). */
  generateKey?: () => string;
  /** Called when an event listener throws (default: console.error). */
  onListenerError?: (err: unknown, event: string) => void;
}

/** Events; `on(name, listener)` returns a function that removes the listener. */
export interface ClientEvents {
  /** The connection state changed: show it in the app. */
  state: (change: StateChange) => void;
  /** A session is open (`reconnected`: not the first). Recovery has been started. */
  connected: (info: ConnectedPush, reconnected: boolean) => void;
  /**
   * A conversation message: each exactly once, in seq order per conversation (your own included). Identified by its
   * conversation and `seq` (no `id` or `key` in protocol version 2: match your own sends by their ack's `seq`).
   */
  message: (message: MessagePush, meta: MessageMeta) => void;
  presence: (event: PresencePush) => void;
  /** Someone else is typing (your own user's typing is filtered out). */
  typing: (event: TypingPush) => void;
  signal: (event: SignalPush) => void;
  /** The unread summary the server sends after each connect. */
  unread: (summary: UnreadPush) => void;
  notice: (notice: NoticePush) => void;
  /** The app's backend took this user out of a room (or deleted it): the client no longer keeps it joined. */
  left: (event: LeftPush) => void;
  /** Messages that could not be recovered. */
  gap: (gap: GapEvent) => void;
  /** A conversation was recovered after a reconnect. */
  recovery: (event: RecoveryEvent) => void;
  /** Errors not tied to a call of yours: id-less server errors, failed token refresh, fatal closes. */
  error: (error: SwitchboardError) => void;
}

/** How a part of the client raises its events (Emitter.emit is protected: the client hands out this function). */
export type EmitEvent = <K extends keyof ClientEvents>(event: K, ...args: Parameters<ClientEvents[K]>) => void;

export interface MessageOptions<C extends ContentType = ContentType> {
  contentType?: C;
  /** Idempotency key (default: a fresh UUID). Reusing the key of a stored message returns its ack with `duplicate: true`. */
  key?: string;
  /**
   * Give up after this long (default: never — the message waits in the offline
   * queue until it is acknowledged). A message that was already on the wire may
   * still be delivered after the timeout.
   */
  timeoutMs?: number;
}

export interface RequestOptions {
  /** Default: the client's `requestTimeoutMs`. Counts from the call, including time spent waiting for a connection. */
  timeoutMs?: number;
}

export interface SignalOptions extends RequestOptions {
  /** One session of `to` (the `session` of a signal it sent): the call's other party, not every device of the user. */
  session?: string;
}

export type HistoryTarget = Conversation;
export interface HistoryOptions extends RequestOptions {
  before?: number;
  after?: number;
  limit?: number;
}
