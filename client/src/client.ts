/**
 * SwitchboardClient: one logical connection to a Switchboard server that
 * survives network failures and server restarts.
 *
 * - connects with a token, a token-fetching callback, or a dev user name;
 * - reconnects with exponential backoff and jitter, and on every reconnect
 *   recovers each conversation from the last seq the app saw (`join` with
 *   `since` for rooms, `sync` for direct conversations, `history` paging when
 *   the server cannot replay), delivering every message once and in order;
 * - queues publish/send while offline and resends unacknowledged ones with
 *   their idempotency key, so nothing is lost or doubled;
 * - requests with timeouts and typed errors; events or async iterators.
 *
 * This file is the public face. The work is done by parts, wired in
 * client-parts.ts: the connection's life in connection/lifecycle.ts, the
 * conversations' recovery in conversations.ts, the offline queue in outbox.ts.
 */
import type { CommandType } from '../../src/protocol/commands.js';
import { wireParts } from './client-parts.js';
import type { ConnectionLifecycle } from './connection/lifecycle.js';
import type { Transport } from './connection/transport.js';
import type { Conversations } from './conversations.js';
import { ClientClosedError, NotConnectedError } from './errors.js';
import { Emitter, type EventStream, type StreamGroup } from './events.js';
import { pageHistory } from './history-pages.js';
import { type Media, mediaMessage } from './media.js';
import type { QueuedTarget } from './offline-queue.js';
import type { ClientEvents, ClientOptions, HistoryOptions, HistoryTarget, MessageOptions, RequestOptions, SignalOptions } from './options.js';
import type { Outbox, OutgoingMessage } from './outbox.js';
import { randomKey } from './random-key.js';
import type { Requests } from './requests.js';
import type { UploadData, UploadOptions } from './upload.js';
import type { Encoding } from './wire.js';
import type {
  BodyFor,
  CommandInput,
  ConnectedPush,
  ConnectionState,
  ContentType,
  Conversation,
  ErrorCode,
  HistoryResult,
  JoinResult,
  MediaBody,
  MediaContentType,
  MessageAck,
  MessagePush,
  PresenceEntry,
  ReplyData,
  SignalKind,
  UploadResult,
} from './types.js';

/** The client. See client/README.md for a tour. */
export class SwitchboardClient extends Emitter<ClientEvents> {
  private readonly opts: ClientOptions;
  // The parts, each in a file of its own, are wired in client-parts.ts.
  private readonly life: ConnectionLifecycle;
  private readonly requests: Requests;
  private readonly conversations: Conversations;
  private readonly outbox: Outbox;
  private readonly media: Media;
  private readonly streams: StreamGroup;

  constructor(options: ClientOptions) {
    super(options.onListenerError);
    if (!options.url) throw new TypeError('options.url is required');
    const ways = [options.token !== undefined, options.getToken !== undefined, options.user !== undefined].filter(Boolean).length;
    if (ways > 1 && !(options.token !== undefined && options.getToken !== undefined))
      throw new TypeError('give one of token / getToken, or user');
    this.opts = options;
    const parts = wireParts(options, {
      emit: (event, ...args) => this.emit(event, ...args),
      request: (command, opts) => this.request(command, opts),
    });
    this.life = parts.life;
    this.requests = parts.requests;
    this.conversations = parts.conversations;
    this.outbox = parts.outbox;
    this.media = parts.media;
    this.streams = parts.streams;
  }

  // ── public state ──────────────────────────────────────────────────────

  get state(): ConnectionState {
    return this.life.state;
  }

  /** The user id (known after the first connect). */
  get user(): string | null {
    return this.life.user;
  }

  /** The current session (the `connected` push), or null while disconnected. */
  get connection(): ConnectedPush | null {
    return this.life.session;
  }

  /** Messages waiting in the offline queue (not yet acknowledged). */
  get queued(): number {
    return this.outbox.size;
  }

  /** Rooms the client keeps joined (rejoined after every reconnect). */
  get rooms(): string[] {
    return this.conversations.rooms();
  }

  /** The last seq delivered to the app in a conversation (undefined if unknown). Persist it to resume later (`positions`). */
  position(conv: Conversation): number | undefined {
    return this.conversations.position(conv);
  }

  /** Every known position, in the shape of `options.positions`. */
  positions(): { rooms: Record<string, number>; direct: Record<string, number> } {
    return this.conversations.positions();
  }

  /** The wire encoding of the open connection (`options.encoding`, or 'json' with a server that answered no subprotocol); null while disconnected. */
  get encoding(): Encoding | null {
    return this.life.encoding;
  }

  /** Duplicates the SDK dropped (replays overlapping live messages, resends); for diagnostics. */
  get duplicatesDropped(): number {
    return this.conversations.duplicatesDropped;
  }

  // ── connecting ────────────────────────────────────────────────────────

  /**
   * Starts connecting (and reconnecting, from then on). Resolves at the first
   * session; rejects if the server refuses for good (bad token, replaced, …) or
   * `close()` is called. Calls before `connect()` (join, publish, …) wait for it.
   */
  connect(): Promise<ConnectedPush> {
    return this.life.connect();
  }

  /** Drops the current connection at once (as a network failure would) and reconnects: e.g. when the device's network changed. */
  reconnect(): void {
    this.life.reconnect();
  }

  /**
   * Closes for good: the socket is closed politely, and every pending call —
   * including messages still in the offline queue — is rejected with
   * ClientClosedError. Resolves once the socket has closed.
   */
  close(): Promise<void> {
    return this.life.close();
  }

  // ── requests ──────────────────────────────────────────────────────────

  /**
   * Sends any command and resolves with the reply's data. Waits for a session
   * (up to the timeout) when disconnected. Rejects with ServerError,
   * TimeoutError, ConnectionLostError (dropped before the reply), or
   * ClientClosedError. Prefer the dedicated methods: `publish`/`send` add the
   * offline queue, `join`/`leave` the recovery.
   */
  request<K extends Exclude<CommandType, 'auth'>>(command: CommandInput<K> & { type: K }, opts: RequestOptions = {}): Promise<ReplyData[K]> {
    if (this.life.closed) return Promise.reject(new ClientClosedError());
    const timeoutMs = opts.timeoutMs ?? this.opts.requestTimeoutMs ?? 10_000;
    return this.requests.call(command as Record<string, unknown> & { type: K }, timeoutMs) as Promise<ReplyData[K]>;
  }

  // ── rooms ─────────────────────────────────────────────────────────────

  /**
   * Joins a room and keeps it joined: after every reconnect the client rejoins
   * it with `since` = the last seq delivered, so nothing is missed. Resolves
   * with the join reply (waits for a connection if there is none). With
   * `since`, messages after it are delivered first (resuming from a stored
   * position). Rejects with ServerError (`forbidden`, `limit_exceeded`, …).
   */
  join(room: string, opts: { since?: number; timeoutMs?: number } = {}): Promise<JoinResult> {
    if (this.life.closed) return Promise.reject(new ClientClosedError());
    return this.conversations.join(room, opts);
  }

  /**
   * Leaves a room: the client stops rejoining it, and the user stops being a
   * member (no more unread counts for it). Offline, the leave is sent after the
   * next connect. A room the client does not keep (joined with a plain
   * `request`, or a membership from an earlier session, listed in `unread`) is
   * joined and left with requests, which reject like requests.
   */
  leave(room: string, opts: RequestOptions = {}): Promise<{ room: string }> {
    if (this.life.closed) return Promise.reject(new ClientClosedError());
    return this.conversations.leave(room, opts);
  }

  // ── messages ──────────────────────────────────────────────────────────

  /**
   * Publishes to a room. Resolves with the ack once the server stored it.
   * Offline (or if the connection drops before the ack) it waits in the
   * offline queue and is sent — with the same idempotency key — after the
   * next connect, once the room is joined again.
   */
  publish<C extends ContentType = 'text'>(room: string, body: BodyFor<C>, opts: MessageOptions<C> = {}): Promise<MessageAck> {
    return this.enqueue({ room }, { type: 'publish', room, contentType: opts.contentType ?? 'text', body }, opts);
  }

  /** Sends a direct message to `to`; same guarantees as {@link publish}. */
  send<C extends ContentType = 'text'>(to: string, body: BodyFor<C>, opts: MessageOptions<C> = {}): Promise<MessageAck> {
    return this.enqueue({ to }, { type: 'send', to, contentType: opts.contentType ?? 'text', body }, opts);
  }

  private enqueue(target: QueuedTarget, cmd: OutgoingMessage, opts: MessageOptions): Promise<MessageAck> {
    if (this.life.closed) return Promise.reject(new ClientClosedError());
    return this.outbox.add(target, cmd, opts);
  }

  /** Typing indicator (ephemeral: dropped while disconnected). */
  typing(target: { room: string } | { to: string }, active = true): void {
    if (!this.life.session) return;
    this.life.writer.write({ type: 'typing', ...target, active });
  }

  /**
   * Call signaling to every session of `to`, or to one (`opts.session`). Needs a live connection
   * (NotConnectedError otherwise); ServerError `user_offline`.
   */
  signal(to: string, callId: string, kind: SignalKind, data?: unknown, opts: SignalOptions = {}): Promise<{ sessions: number }> {
    if (this.life.closed) return Promise.reject(new ClientClosedError());
    if (!this.life.session) return Promise.reject(new NotConnectedError('call signaling needs a live connection'));
    const cmd: CommandInput<'signal'> & { type: 'signal' } = { type: 'signal', to, callId, kind };
    if (data !== undefined) cmd.data = data;
    if (opts.session !== undefined) cmd.session = opts.session;
    return this.request(cmd, opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs });
  }

  /** Who is in a room now. */
  async presence(room: string, opts: RequestOptions = {}): Promise<PresenceEntry[]> {
    return (await this.request({ type: 'presence', room }, opts)).users;
  }

  /** The rooms this session has joined, as the server sees them. */
  async joinedRoomsOnServer(opts: RequestOptions = {}): Promise<string[]> {
    return (await this.request({ type: 'rooms' }, opts)).rooms;
  }

  /** One page of stored messages (oldest first); `before` (default: the newest) or `after`. */
  history(target: HistoryTarget, opts: HistoryOptions = {}): Promise<HistoryResult> {
    const cmd: CommandInput<'history'> & { type: 'history' } = { type: 'history', ...target };
    if (opts.before !== undefined) cmd.before = opts.before;
    if (opts.after !== undefined) cmd.after = opts.after;
    if (opts.limit !== undefined) cmd.limit = opts.limit;
    return this.request(cmd, { timeoutMs: opts.timeoutMs });
  }

  /**
   * Pages through a conversation's history, newest page first (`backward`,
   * default, starting before `from` or at the newest) or oldest first
   * (`forward`, starting after `from`, default 0). Each page is oldest-first.
   */
  historyPages(
    target: HistoryTarget,
    opts: { direction?: 'backward' | 'forward'; from?: number; pageSize?: number; timeoutMs?: number } = {},
  ): AsyncGenerator<MessagePush[], void, undefined> {
    return pageHistory((page) => this.history(target, page), opts);
  }

  /** Moves the user's read position in a conversation forward (feeds the unread summary). */
  async read(target: Conversation, seq: number, opts: RequestOptions = {}): Promise<void> {
    await this.request({ type: 'read', ...target, seq }, opts);
  }

  /** Marks everything up to and including `message` read. */
  markRead(message: MessagePush, opts: RequestOptions = {}): Promise<void> {
    return this.read(this.conversationOf(message), message.seq, opts);
  }

  /** Round trip to the server, ms. */
  async ping(opts: RequestOptions = {}): Promise<number> {
    const start = Date.now();
    await this.request({ type: 'ping' }, opts);
    return Date.now() - start;
  }

  /** The conversation a message belongs to, for this user. */
  conversationOf(m: MessagePush): Conversation {
    if (m.room !== undefined) return { room: m.room };
    const me = this.life.user;
    return { with: m.from === me ? (m.to ?? m.from) : m.from };
  }

  // ── media ─────────────────────────────────────────────────────────────

  /** Uploads a file (`POST /upload`); put the result's `url` in a media message, or use {@link sendMedia}. */
  upload(data: UploadData, opts: UploadOptions = {}): Promise<UploadResult> {
    return this.media.upload(data, opts);
  }

  /**
   * Uploads a file and sends it as a media message to a room (`{room}`) or a
   * user (`{to}`); the content type follows the MIME type unless given.
   */
  async sendMedia(
    target: { room: string } | { to: string },
    data: UploadData,
    opts: UploadOptions & Omit<Partial<MediaBody>, 'url' | 'name' | 'mime' | 'size'> & { contentType?: MediaContentType; key?: string } = {},
  ): Promise<{ upload: UploadResult; ack: MessageAck }> {
    const up = await this.upload(data, opts);
    const { body, options } = mediaMessage(up, opts);
    const ack = 'room' in target ? await this.publish(target.room, body, options) : await this.send(target.to, body, options);
    return { upload: up, ack };
  }

  /**
   * An absolute URL for a stored file (`/files/…` from a media body, resolved
   * under `httpUrl`) that a browser can load in `<img>`/`<video>` (credentials
   * in the query, as those tags cannot send headers).
   */
  fileUrl(path: string): string {
    return this.media.fileUrl(path);
  }

  // ── async iterators ───────────────────────────────────────────────────

  /**
   * Messages as an async iterator — all of them, or one conversation's. Ends
   * when the client is closed, the loop breaks, or `signal` aborts.
   *
   *     for await (const m of client.messages({ room: 'general' })) render(m);
   */
  messages(filter?: Conversation | ((m: MessagePush) => boolean), opts: { signal?: AbortSignal } = {}): EventStream<MessagePush> {
    const match =
      filter === undefined
        ? () => true
        : typeof filter === 'function'
          ? filter
          : (_m: MessagePush, conv: Conversation) => ('room' in filter ? 'room' in conv && conv.room === filter.room : 'with' in conv && conv.with === filter.with);
    return this.streams.open<MessagePush>(
      (push) =>
        this.on('message', (m, meta) => {
          if (match(m, meta.conversation)) push(m);
        }),
      opts.signal,
    );
  }

  /** Any event as an async iterator of its first argument (e.g. `client.events('presence')`). */
  events<K extends keyof ClientEvents>(event: K, opts: { signal?: AbortSignal } = {}): EventStream<Parameters<ClientEvents[K]>[0]> {
    type T = Parameters<ClientEvents[K]>[0];
    return this.streams.open<T>((push) => this.on(event, ((value: T) => push(value)) as ClientEvents[K]), opts.signal);
  }

  // ── misc ──────────────────────────────────────────────────────────────

  /** @internal For tests: the live transport (to cut it as a network failure would). */
  get _transport(): Transport | null {
    return this.life.transport;
  }

  /** @internal For tests and diagnostics. */
  get _pendingRequests(): number {
    return this.requests.size;
  }
}

// Exported with the client since the SDK's first version: index.ts and deep imports take it from here.
export { randomKey };
export type { ErrorCode };
