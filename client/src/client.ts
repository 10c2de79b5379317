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
 */
import { CloseCode } from '../../src/protocol/codes.js';
import type { CommandType } from '../../src/protocol/commands.js';
import { Backoff } from './backoff.js';
import { closeDecision } from './connection/close-policy.js';
import { LocalCloseCode } from './connection/local-close-codes.js';
import { resolveWebSocket, Transport, type WebSocketConstructor } from './connection/transport.js';
import { Credentials } from './credentials.js';
import { DirectConversations } from './direct-conversations.js';
import { AuthError, ClientClosedError, CloseError, NotConnectedError, ServerError, SwitchboardError } from './errors.js';
import { Emitter, type EventStream, StreamGroup } from './events.js';
import { FrameWriter } from './frame-writer.js';
import { parseFrame } from './frames.js';
import { GapFiller } from './gap-filler.js';
import { Heartbeat } from './heartbeat.js';
import { pageHistory } from './history-pages.js';
import { Media, mediaMessage } from './media.js';
import type { QueuedTarget } from './offline-queue.js';
import type { ClientEvents, ClientOptions, HistoryOptions, HistoryTarget, MessageOptions, RequestOptions, SignalOptions } from './options.js';
import { Outbox, type OutgoingMessage } from './outbox.js';
import { randomKey } from './random-key.js';
import { conversationOfKey, directKey, keyOfMessage, roomKey, Sequencer } from './recovery.js';
import { Requests, type SessionLink } from './requests.js';
import { setOwn } from '../../src/protocol/records.js';
import { RoomMembership } from './room-membership.js';
import type { Timer } from './timers.js';
import { TokenRefresh } from './token-refresh.js';
import type { UploadData, UploadOptions } from './upload.js';
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
  ServerPush,
  SignalKind,
  StateChange,
  UploadResult,
} from './types.js';

/** The client. See client/README.md for a tour. */
export class SwitchboardClient extends Emitter<ClientEvents> {
  private readonly opts: ClientOptions;
  private readonly backoff: Backoff | null;

  private _state: ConnectionState = 'disconnected';
  private transport: Transport | null = null;
  private session: ConnectedPush | null = null;
  private me: string | null = null;
  /** Bumped when a session opens or the connection closes: async work of an old session checks it. */
  private epoch = 0;
  private wanted = false;
  private closed = false;
  private hadSession = false;
  private attempt = 0;
  private authFailures = 0;
  private connectWaiters: { resolve(c: ConnectedPush): void; reject(e: Error): void }[] = [];
  private reconnectTimer: Timer | null = null;
  private connectTimer: Timer | null = null;

  // The parts, each in a file of its own, get functions (not the client) so each can be read and changed alone.
  private readonly writer = new FrameWriter(() => this.transport);
  private readonly requests = new Requests({
    live: () => this.session !== null && this.transport !== null,
    write: (msg) => this.writer.write(msg),
    closed: () => this.closed,
  });
  /** The session as the parts that work on it see it. */
  private readonly sessionLink: SessionLink = {
    epoch: () => this.epoch,
    open: () => this.session !== null,
    send: this.requests.send,
  };
  private readonly streams = new StreamGroup(() => this.closed);
  private readonly credentials: Credentials;
  private readonly heartbeat: Heartbeat;
  private readonly tokenRefresh: TokenRefresh;
  private readonly outbox: Outbox;
  private readonly media: Media;
  /** Every conversation's messages pass through it, to reach the app once and in order. */
  private readonly seq: Sequencer<MessagePush>;
  private readonly gaps: GapFiller;
  private readonly membership: RoomMembership;
  private readonly direct: DirectConversations;

  constructor(options: ClientOptions) {
    super(options.onListenerError);
    if (!options.url) throw new TypeError('options.url is required');
    const ways = [options.token !== undefined, options.getToken !== undefined, options.user !== undefined].filter(Boolean).length;
    if (ways > 1 && !(options.token !== undefined && options.getToken !== undefined))
      throw new TypeError('give one of token / getToken, or user');
    this.opts = options;
    this.backoff = options.reconnect === false ? null : new Backoff(options.reconnect ?? {});
    this.credentials = new Credentials(options);
    this.heartbeat = new Heartbeat(options, {
      live: () => (this.session ? this.transport : null),
      ping: () => this.writer.write({ type: 'ping' }),
    });
    this.tokenRefresh = new TokenRefresh(options, this.credentials, this.sessionLink, (err) => this.emit('error', err));
    this.outbox = new Outbox(options.maxQueue ?? 1000, this.sessionLink, (target) => this.canSend(target), () => (this.opts.generateKey ?? randomKey)());
    this.media = new Media(options, this.credentials);
    this.seq = new Sequencer<MessagePush>({
      deliver: (key, m) => this.emit('message', m, { conversation: conversationOfKey(key) }),
      gap: (key, from, to, reason) => this.emit('gap', { conversation: conversationOfKey(key), from, to, reason }),
      stall: (key) => this.gaps.onStall(key),
    });
    this.gaps = new GapFiller(this.seq, this.sessionLink, options, {
      recovery: (event) => this.emit('recovery', event),
      error: (err) => this.emit('error', err),
    });
    this.membership = new RoomMembership(this.seq, this.sessionLink, this.gaps, {
      leave: (room, opts) => this.request({ type: 'leave', room }, opts),
      endMembership: async (room, opts) => {
        await this.request({ type: 'join', room }, opts);
        return this.request({ type: 'leave', room }, opts);
      },
      ready: () => this.outbox.flush(),
      error: (err) => this.emit('error', err),
    });
    this.direct = new DirectConversations(this.seq, this.sessionLink, this.gaps, (err) => this.emit('error', err));
    for (const [room, s] of Object.entries(options.positions?.rooms ?? {})) this.seq.track(roomKey(room), s);
    for (const [user, s] of Object.entries(options.positions?.direct ?? {})) this.seq.track(directKey(user), s);
  }

  // ── public state ──────────────────────────────────────────────────────

  get state(): ConnectionState {
    return this._state;
  }

  /** The user id (known after the first connect). */
  get user(): string | null {
    return this.me;
  }

  /** The current session (the `connected` push), or null while disconnected. */
  get connection(): ConnectedPush | null {
    return this.session;
  }

  /** Messages waiting in the offline queue (not yet acknowledged). */
  get queued(): number {
    return this.outbox.size;
  }

  /** Rooms the client keeps joined (rejoined after every reconnect). */
  get rooms(): string[] {
    return this.membership.names();
  }

  /** The last seq delivered to the app in a conversation (undefined if unknown). Persist it to resume later (`positions`). */
  position(conv: Conversation): number | undefined {
    return this.seq.last('room' in conv ? roomKey(conv.room) : directKey(conv.with)) ?? undefined;
  }

  /** Every known position, in the shape of `options.positions`. */
  positions(): { rooms: Record<string, number>; direct: Record<string, number> } {
    const out = { rooms: {} as Record<string, number>, direct: {} as Record<string, number> };
    for (const [k, s] of this.seq.positions()) {
      const c = conversationOfKey(k);
      if ('room' in c) setOwn(out.rooms, c.room, s);
      else setOwn(out.direct, c.with, s);
    }
    return out;
  }

  /** Duplicates the SDK dropped (replays overlapping live messages, resends); for diagnostics. */
  get duplicatesDropped(): number {
    return this.seq.duplicates;
  }

  // ── connecting ────────────────────────────────────────────────────────

  /**
   * Starts connecting (and reconnecting, from then on). Resolves at the first
   * session; rejects if the server refuses for good (bad token, replaced, …) or
   * `close()` is called. Calls before `connect()` (join, publish, …) wait for it.
   */
  connect(): Promise<ConnectedPush> {
    if (this.closed) return Promise.reject(new ClientClosedError());
    if (this.session) return Promise.resolve(this.session);
    const p = new Promise<ConnectedPush>((resolve, reject) => this.connectWaiters.push({ resolve, reject }));
    if (!this.wanted) {
      this.wanted = true;
      this.authFailures = 0;
      this.credentials.forgetRefusal();
      this.backoff?.reset();
      this.attempt = 0;
      this.clearTimer('reconnectTimer');
      if (!this.transport) void this.openSocket();
    }
    return p;
  }

  /** Drops the current connection at once (as a network failure would) and reconnects: e.g. when the device's network changed. */
  reconnect(): void {
    if (this.closed) return;
    if (!this.wanted) {
      void this.connect().catch(() => {});
      return;
    }
    if (this.transport) this.transport.drop('reconnect requested');
    else {
      this.clearTimer('reconnectTimer');
      void this.openSocket();
    }
  }

  /**
   * Closes for good: the socket is closed politely, and every pending call —
   * including messages still in the offline queue — is rejected with
   * ClientClosedError. Resolves once the socket has closed.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.wanted = false;
    const err = new ClientClosedError();
    for (const t of ['reconnectTimer', 'connectTimer'] as const) this.clearTimer(t);
    this.tokenRefresh.cancel();
    this.writer.stop();
    this.heartbeat.stop();
    for (const w of this.connectWaiters.splice(0)) w.reject(err);
    this.requests.failWaiting(err);
    this.membership.close(err);
    this.outbox.close(err);
    this.streams.endAll();
    const t = this.transport;
    if (t) {
      const closedNow = new Promise<void>((resolve) => {
        const done = setTimeout(() => {
          t.drop('close timeout');
          resolve();
        }, 2_000);
        this.onTransportGone = () => {
          clearTimeout(done);
          resolve();
        };
      });
      if (t.isOpen) t.close(CloseCode.Normal, 'client closed');
      else t.drop('client closed');
      await closedNow;
    } else this.setState('disconnected', { willReconnect: false });
  }

  private onTransportGone: (() => void) | null = null;

  private async openSocket(): Promise<void> {
    if (!this.wanted || this.transport) return;
    this.setState('connecting');
    const attemptEpoch = ++this.epoch;
    let token: string | undefined;
    let Ctor: WebSocketConstructor;
    try {
      token = await this.credentials.forConnect();
      Ctor = await resolveWebSocket(this.opts.WebSocket);
    } catch (err) {
      if (attemptEpoch !== this.epoch || !this.wanted) return;
      if (err instanceof AuthError) return this.stop(err);
      this.emit('error', err instanceof SwitchboardError ? err : new SwitchboardError('connect_failed', (err as Error).message));
      this.scheduleReconnect(LocalCloseCode.Abnormal, String((err as Error).message), 0);
      return;
    }
    if (attemptEpoch !== this.epoch || !this.wanted || this.transport) return;
    // Direct conversations to recover: ask the server to hold DMs until our sync has replayed them (no duplicates).
    const resume = this.direct.requestResume();
    let url: string;
    try {
      const u = new URL(this.opts.url);
      if (this.opts.user !== undefined && token === undefined) u.searchParams.set('user', this.opts.user);
      if (token !== undefined && this.opts.tokenTransport === 'query') u.searchParams.set('token', token);
      if (resume && (token === undefined || this.opts.tokenTransport === 'query')) u.searchParams.set('resume', '1');
      url = u.toString();
    } catch (err) {
      return this.stop(new SwitchboardError('invalid_url', `invalid url ${this.opts.url}: ${(err as Error).message}`));
    }
    this.credentials.current = token;
    let t: Transport;
    try {
      t = new Transport(Ctor, url, {
        open: () => {
          if (this.transport !== t) return;
          this.heartbeat.heard();
          if (token !== undefined && this.opts.tokenTransport !== 'query') this.writer.write(resume ? { type: 'auth', token, resume: true } : { type: 'auth', token }, true);
        },
        text: (data) => this.onText(t, data),
        close: (code, reason) => this.onTransportClose(t, code, reason),
      });
    } catch (err) {
      return this.stop(new SwitchboardError('connect_failed', `cannot open a WebSocket to ${this.opts.url}: ${(err as Error).message}`));
    }
    this.transport = t;
    const timeout = this.opts.connectTimeoutMs ?? 10_000;
    this.connectTimer = setTimeout(() => {
      if (this.transport === t && !this.session) t.drop('connect timeout');
    }, timeout);
  }

  private onText(t: Transport, data: string): void {
    if (this.transport !== t) return;
    this.heartbeat.heard();
    const { messages, invalid } = parseFrame(data);
    for (const line of invalid) this.emit('error', new SwitchboardError('invalid_frame', `the server sent a line that is not a protocol message: ${line.slice(0, 200)}`));
    for (const m of messages) {
      if (this.transport !== t) return;
      try {
        this.onPush(m);
      } catch (err) {
        // A push not in the protocol's shape (the app's own listeners cannot throw here: the emitter catches them).
        // Thrown from the socket's handler it would end a Node process; a session that cannot even be set up from
        // its `connected` is dropped and tried again.
        this.emit('error', new SwitchboardError('invalid_frame', `the server sent a ${m.type} push this client cannot handle: ${(err as Error).message}`));
        if (m.type === 'connected' || !this.session) {
          this.session = null;
          t.drop('invalid connected push');
        }
      }
    }
  }

  private onPush(m: ServerPush): void {
    switch (m.type) {
      case 'connected':
        return this.onConnected(m);
      case 'reply':
        return this.requests.take(m.id)?.onReply(m.data);
      case 'error': {
        const p = this.requests.take(m.id);
        const err = new ServerError(m.code, m.message, p?.type);
        if (!p) return this.emit('error', err);
        p.onError(err);
        return;
      }
      case 'pong':
        return this.requests.take(m.id)?.onReply({});
      case 'message':
        return this.onMessage(m);
      case 'unread':
        this.direct.onUnread(m);
        return this.emit('unread', m);
      case 'presence':
        return this.emit('presence', m);
      case 'typing':
        if (m.from !== this.me) this.emit('typing', m);
        return;
      case 'signal':
        return this.emit('signal', m);
      case 'notice':
        return this.emit('notice', m);
      default:
        // A push type from a newer server: ignored.
        return;
    }
  }

  private onConnected(c: ConnectedPush): void {
    // Checked before anything changes: a push out of shape must not count as a session (it would reset the backoff).
    if (typeof c.limits !== 'object' || c.limits === null || typeof c.heartbeat !== 'object' || c.heartbeat === null || typeof c.user !== 'string')
      throw new TypeError('connected push without user, limits or heartbeat');
    this.clearTimer('connectTimer');
    this.session = c;
    this.me = c.user;
    this.epoch++;
    this.writer.configure(c.limits);
    const reconnected = this.hadSession;
    this.hadSession = true;
    this.authFailures = 0;
    this.credentials.forgetRefusal();
    this.backoff?.reset();
    this.attempt = 0;
    this.heartbeat.start(c.heartbeat);
    this.tokenRefresh.schedule();

    // Recovery: what the app had before the drop comes back first.
    this.membership.recover();
    this.direct.recover();
    this.requests.sendWaiting();
    this.outbox.flush();

    this.setState('connected');
    this.emit('connected', c, reconnected);
    for (const w of this.connectWaiters.splice(0)) w.resolve(c);
  }

  private onTransportClose(t: Transport, code: number, reason: string): void {
    if (this.transport !== t) return;
    this.transport = null;
    const gone = this.onTransportGone;
    this.onTransportGone = null;
    this.clearTimer('connectTimer');
    this.tokenRefresh.cancel();
    this.writer.reset();
    this.heartbeat.stop();
    const hadSession = this.session !== null;
    this.session = null;
    this.epoch++;
    this.membership.connectionLost();
    this.outbox.connectionLost();
    this.requests.loseAll();
    if (!this.wanted) {
      this.setState('disconnected', { closeCode: code, reason, willReconnect: false });
      gone?.();
      return;
    }
    if (code === CloseCode.Unauthorized || code === CloseCode.TokenExpired) {
      this.authFailures++;
      if (code === CloseCode.Unauthorized || !hadSession) this.credentials.refuseCurrent();
    }
    const decision = closeDecision(code, { canGetToken: this.opts.getToken !== undefined, authFailures: this.authFailures - 1 });
    if (!decision.reconnect) {
      const err =
        decision.kind === 'auth'
          ? new AuthError(code, reason, code === CloseCode.TokenExpired ? 'the token expired and there is no getToken to fetch a new one' : undefined)
          : new CloseError(code, reason);
      this.stop(err, code, reason);
      return;
    }
    this.scheduleReconnect(code, reason, decision.minDelayMs);
  }

  private scheduleReconnect(code: number, reason: string, minDelayMs: number): void {
    if (!this.backoff) {
      this.stop(new CloseError(code, reason, `connection closed (${code}${reason ? ` ${reason}` : ''}) and reconnect is off`), code, reason);
      return;
    }
    const max = this.opts.reconnect ? this.opts.reconnect.maxAttempts : undefined;
    if (max !== undefined && this.attempt + 1 >= max) {
      const why = `${code}${reason ? ` ${reason}` : ''}`;
      this.stop(new SwitchboardError('reconnect_gave_up', `no session after ${this.attempt + 1} attempts (last: ${why})`), code, reason);
      return;
    }
    const delay = Math.max(minDelayMs, this.backoff.next());
    this.attempt++;
    this.setState('disconnected', { closeCode: code, reason, willReconnect: true, retryInMs: delay });
    this.clearTimer('reconnectTimer');
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      void this.openSocket();
    }, delay);
  }

  /** Stops reconnecting after a fatal close: the app must act (new credentials, `connect()` again). */
  private stop(err: SwitchboardError, code?: number, reason?: string): void {
    this.wanted = false;
    this.clearTimer('reconnectTimer');
    this.setState('disconnected', { closeCode: code, reason, willReconnect: false, error: err });
    this.emit('error', err);
    for (const w of this.connectWaiters.splice(0)) w.reject(err);
    this.requests.failWaiting(err);
  }

  private setState(state: ConnectionState, extra: Partial<StateChange> = {}): void {
    if (state === this._state && state !== 'disconnected') return;
    if (state === this._state && extra.willReconnect === undefined) return;
    const previous = this._state;
    this._state = state;
    const change: StateChange = { state, previous, attempt: this.attempt };
    for (const [k, v] of Object.entries(extra)) if (v !== undefined) (change as unknown as Record<string, unknown>)[k] = v;
    this.emit('state', change);
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
    if (this.closed) return Promise.reject(new ClientClosedError());
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
    if (this.closed) return Promise.reject(new ClientClosedError());
    return this.membership.join(room, opts);
  }

  /**
   * Leaves a room: the client stops rejoining it, and the user stops being a
   * member (no more unread counts for it). Offline, the leave is sent after the
   * next connect. A room the client does not keep (joined with a plain
   * `request`, or a membership from an earlier session, listed in `unread`) is
   * joined and left with requests, which reject like requests.
   */
  leave(room: string, opts: RequestOptions = {}): Promise<{ room: string }> {
    if (this.closed) return Promise.reject(new ClientClosedError());
    return this.membership.leave(room, opts);
  }

  // ── incoming messages ─────────────────────────────────────────────────

  private onMessage(m: MessagePush): void {
    if (this.me === null || typeof m.seq !== 'number') return;
    const key = keyOfMessage(m, this.me);
    if (key === null) return;
    if (!this.seq.has(key)) {
      if (m.room !== undefined) {
        if (this.membership.wasLeft(m.room)) return;
        // A room joined outside the SDK's tracking (request({type:'join'})): passed through as is.
        this.emit('message', m, { conversation: { room: m.room } });
        return;
      }
      this.direct.firstSeen(key, m.seq);
    }
    this.seq.push(key, m);
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
    if (this.closed) return Promise.reject(new ClientClosedError());
    return this.outbox.add(target, cmd, opts);
  }

  /** Whether the outbox may send to a conversation now. */
  private canSend(target: QueuedTarget): boolean {
    if ('to' in target) return true;
    return this.membership.canPublish(target.room);
  }

  /** Typing indicator (ephemeral: dropped while disconnected). */
  typing(target: { room: string } | { to: string }, active = true): void {
    if (!this.session) return;
    this.writer.write({ type: 'typing', ...target, active });
  }

  /**
   * Call signaling to every session of `to`, or to one (`opts.session`). Needs a live connection
   * (NotConnectedError otherwise); ServerError `user_offline`.
   */
  signal(to: string, callId: string, kind: SignalKind, data?: unknown, opts: SignalOptions = {}): Promise<{ sessions: number }> {
    if (this.closed) return Promise.reject(new ClientClosedError());
    if (!this.session) return Promise.reject(new NotConnectedError('call signaling needs a live connection'));
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
    const me = this.me;
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

  private clearTimer(name: 'reconnectTimer' | 'connectTimer'): void {
    const t = this[name];
    if (t) clearTimeout(t);
    this[name] = null;
  }

  /** @internal For tests: the live transport (to cut it as a network failure would). */
  get _transport(): Transport | null {
    return this.transport;
  }

  /** @internal For tests and diagnostics. */
  get _pendingRequests(): number {
    return this.requests.size;
  }
}

// Exported with the client since the SDK's first version: index.ts and deep imports take it from here.
export { randomKey };
export type { ErrorCode };
