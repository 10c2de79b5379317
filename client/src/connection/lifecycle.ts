/**
 * The connection's life: an attempt (credentials, URL, socket, connect
 * timeout), the session its `connected` push opens, the close and what
 * follows it — a reconnect after the backoff, or a stop when the close code
 * says reconnecting cannot help — and close() for good. It owns the socket and
 * what writes to it and watches it (frame writer, heartbeat, token refresh);
 * the rest of the client hears of sessions through SessionHooks.
 */
import { CloseCode } from '../../../src/protocol/codes.js';
import { Backoff } from '../backoff.js';
import type { Credentials } from '../credentials.js';
import { AuthError, ClientClosedError, CloseError, SwitchboardError } from '../errors.js';
import { FrameWriter } from '../frame-writer.js';
import { parseFrame, type ParsedFrame } from '../frames.js';
import { Heartbeat } from '../heartbeat.js';
import type { ClientOptions, EmitEvent } from '../options.js';
import type { Timer } from '../timers.js';
import type { TokenRefresh } from '../token-refresh.js';
import type { ConnectedPush, ConnectionState, ServerPush, StateChange } from '../types.js';
import { closeDecision } from './close-policy.js';
import { connectUrl } from './connect-url.js';
import { resolveWebSocket, Transport, type WebSocketConstructor } from './transport.js';
import { DEFAULT_ENCODING, loadProto, SUBPROTOCOLS, wireOfSubprotocol, type Encoding } from '../wire.js';

/** What the rest of the client hears of the sessions. */
export interface SessionHooks {
  /** Before an attempt: whether to ask the server to hold DMs until the first sync (there are some to recover). */
  wantsResume(): boolean;
  /** A session opened (writer, heartbeat and token refresh are set up): recovery starts, what waited goes out. */
  opened(): void;
  /** The connection closed: what was in flight on it is lost. */
  lost(): void;
  /** Stopped after a fatal close, or an attempt that cannot succeed: calls waiting for a session fail with `err`. */
  stopped(err: SwitchboardError): void;
  /** close(): everything pending fails with `err`. */
  closed(err: ClientClosedError): void;
  /** Every push but `connected`. */
  push(m: Exclude<ServerPush, ConnectedPush>): void;
}

export interface LifecycleLink {
  options: ClientOptions;
  credentials: Credentials;
  tokenRefresh: Pick<TokenRefresh, 'schedule' | 'cancel'>;
  session: SessionHooks;
  emit: EmitEvent;
}

export class ConnectionLifecycle {
  private _state: ConnectionState = 'disconnected';
  private _transport: Transport | null = null;
  /** What the current connection speaks (null before it opens). */
  private _encoding: Encoding | null = null;
  private _session: ConnectedPush | null = null;
  private _user: string | null = null;
  private _epoch = 0;
  private _closed = false;
  private wanted = false;
  private hadSession = false;
  private attempt = 0;
  private authFailures = 0;
  private connectWaiters: { resolve(c: ConnectedPush): void; reject(e: Error): void }[] = [];
  private reconnectTimer: Timer | null = null;
  private connectTimer: Timer | null = null;
  /** close() waits for the socket's close through this. */
  private onTransportGone: (() => void) | null = null;

  /** `sink()` is asked at every flush, so lines go to whichever socket is current then. */
  readonly writer = new FrameWriter(() => this._transport);
  private readonly opts: ClientOptions;
  /** The encoding asked for at each connect. */
  private readonly askedEncoding: Encoding;
  private readonly backoff: Backoff | null;
  private readonly heartbeat: Heartbeat;
  private readonly credentials: Credentials;
  private readonly tokenRefresh: LifecycleLink['tokenRefresh'];
  private readonly hooks: SessionHooks;
  private readonly emit: EmitEvent;

  constructor({ options, credentials, tokenRefresh, session, emit }: LifecycleLink) {
    this.opts = options;
    this.askedEncoding = options.encoding ?? DEFAULT_ENCODING;
    this.backoff = options.reconnect === false ? null : new Backoff(options.reconnect ?? {});
    this.credentials = credentials;
    this.tokenRefresh = tokenRefresh;
    this.hooks = session;
    this.emit = emit;
    this.heartbeat = new Heartbeat(options, {
      live: () => (this._session ? this._transport : null),
      ping: () => this.writer.write({ type: 'ping' }),
    });
  }

  get state(): ConnectionState {
    return this._state;
  }

  /** The current session (the `connected` push), or null. */
  get session(): ConnectedPush | null {
    return this._session;
  }

  /** The user id, from the first session on. */
  get user(): string | null {
    return this._user;
  }

  /** Changes whenever a session opens or the connection closes: async work of an old session checks it. */
  get epoch(): number {
    return this._epoch;
  }

  /** close() was called. */
  get closed(): boolean {
    return this._closed;
  }

  get transport(): Transport | null {
    return this._transport;
  }

  /** The encoding of the open connection: the one asked for, or 'json' when the server answered no subprotocol (version 1). */
  get encoding(): Encoding | null {
    return this._encoding;
  }

  /** See SwitchboardClient.connect. */
  connect(): Promise<ConnectedPush> {
    if (this._closed) return Promise.reject(new ClientClosedError());
    if (this._session) return Promise.resolve(this._session);
    const p = new Promise<ConnectedPush>((resolve, reject) => this.connectWaiters.push({ resolve, reject }));
    if (!this.wanted) {
      this.wanted = true;
      this.authFailures = 0;
      this.credentials.forgetRefusal();
      this.backoff?.reset();
      this.attempt = 0;
      this.clearTimer('reconnectTimer');
      if (!this._transport) void this.openSocket();
    }
    return p;
  }

  /** See SwitchboardClient.reconnect. */
  reconnect(): void {
    if (this._closed) return;
    if (!this.wanted) {
      void this.connect().catch(() => {});
      return;
    }
    if (this._transport) this._transport.drop('reconnect requested');
    else {
      this.clearTimer('reconnectTimer');
      void this.openSocket();
    }
  }

  /** See SwitchboardClient.close. */
  async close(): Promise<void> {
    if (this._closed) return;
    this._closed = true;
    this.wanted = false;
    const err = new ClientClosedError();
    for (const t of ['reconnectTimer', 'connectTimer'] as const) this.clearTimer(t);
    this.tokenRefresh.cancel();
    this.writer.stop();
    this.heartbeat.stop();
    for (const w of this.connectWaiters.splice(0)) w.reject(err);
    this.hooks.closed(err);
    const t = this._transport;
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

  private async openSocket(): Promise<void> {
    if (!this.wanted || this._transport) return;
    this.setState('connecting');
    const attemptEpoch = ++this._epoch;
    let token: string | undefined;
    let Ctor: WebSocketConstructor;
    let proto: Awaited<ReturnType<typeof loadProto>> | null = null;
    try {
      token = await this.credentials.forConnect();
      Ctor = await resolveWebSocket(this.opts.WebSocket);
      if (this.askedEncoding === 'proto') proto = await loadProto();
    } catch (err) {
      if (attemptEpoch !== this._epoch || !this.wanted) return;
      if (err instanceof AuthError) return this.stop(err);
      this.emit('error', err instanceof SwitchboardError ? err : new SwitchboardError('connect_failed', (err as Error).message));
      this.scheduleReconnect(CloseCode.Abnormal, String((err as Error).message), 0);
      return;
    }
    if (attemptEpoch !== this._epoch || !this.wanted || this._transport) return;
    const resume = this.hooks.wantsResume();
    let url: string;
    try {
      url = connectUrl({ url: this.opts.url, user: this.opts.user, tokenTransport: this.opts.tokenTransport, token, resume });
    } catch (err) {
      return this.stop(new SwitchboardError('invalid_url', `invalid url ${this.opts.url}: ${(err as Error).message}`));
    }
    this.credentials.current = token;
    let t: Transport;
    try {
      t = new Transport(Ctor, url, SUBPROTOCOLS[this.askedEncoding], {
        open: () => {
          if (this._transport !== t) return;
          const wire = wireOfSubprotocol(t.protocol, proto);
          this._encoding = wire.encoding;
          this.writer.use(wire);
          this.heartbeat.heard();
          if (token !== undefined && this.opts.tokenTransport !== 'query') this.writer.write(resume ? { type: 'auth', token, resume: true } : { type: 'auth', token }, true);
        },
        text: (data) => this.onFrame(t, parseFrame(data), 'a line'),
        // Binary frames come only from a connection that agreed on Protobuf.
        binary: (data) => this.onFrame(t, proto ? proto.parseBinaryFrame(data) : { messages: [], invalid: ['binary, on a JSON connection'] }, 'a binary frame'),
        close: (code, reason) => this.onTransportClose(t, code, reason),
      });
    } catch (err) {
      return this.stop(new SwitchboardError('connect_failed', `cannot open a WebSocket to ${this.opts.url}: ${(err as Error).message}`));
    }
    this._transport = t;
    const timeout = this.opts.connectTimeoutMs ?? 10_000;
    this.connectTimer = setTimeout(() => {
      if (this._transport === t && !this._session) t.drop('connect timeout');
    }, timeout);
  }

  /** A frame's pushes (text frames are JSON lines, binary ones Protobuf); `what`: how to name a piece that is not a push. */
  private onFrame(t: Transport, { messages, invalid }: ParsedFrame, what: string): void {
    if (this._transport !== t) return;
    this.heartbeat.heard();
    for (const piece of invalid) this.emit('error', new SwitchboardError('invalid_frame', `the server sent ${what} that is not a protocol message: ${piece.slice(0, 200)}`));
    for (const m of messages) {
      if (this._transport !== t) return;
      try {
        if (m.type === 'connected') this.onConnected(m);
        else this.hooks.push(m);
      } catch (err) {
        // A push not in the protocol's shape (the app's own listeners cannot throw here: the emitter catches them).
        // Thrown from the socket's handler it would end a Node process; a session that cannot even be set up from
        // its `connected` is dropped and tried again.
        this.emit('error', new SwitchboardError('invalid_frame', `the server sent a ${m.type} push this client cannot handle: ${(err as Error).message}`));
        if (m.type === 'connected' || !this._session) {
          this._session = null;
          t.drop('invalid connected push');
        }
      }
    }
  }

  private onConnected(c: ConnectedPush): void {
    // Checked before anything changes: a push out of shape must not count as a session (it would reset the backoff).
    if (typeof c.limits !== 'object' || c.limits === null || typeof c.heartbeat !== 'object' || c.heartbeat === null || typeof c.user !== 'string')
      throw new TypeError('connected push without user, limits or heartbeat');
    this.clearTimer('connectTimer');
    this._session = c;
    this._user = c.user;
    this._epoch++;
    this.writer.configure(c.limits);
    const reconnected = this.hadSession;
    this.hadSession = true;
    this.authFailures = 0;
    this.credentials.forgetRefusal();
    this.backoff?.reset();
    this.attempt = 0;
    this.heartbeat.start(c.heartbeat);
    this.tokenRefresh.schedule();
    this.hooks.opened();
    this.setState('connected');
    this.emit('connected', c, reconnected);
    for (const w of this.connectWaiters.splice(0)) w.resolve(c);
  }

  private onTransportClose(t: Transport, code: number, reason: string): void {
    if (this._transport !== t) return;
    this._transport = null;
    const encoding = this._encoding;
    this._encoding = null;
    const gone = this.onTransportGone;
    this.onTransportGone = null;
    this.clearTimer('connectTimer');
    this.tokenRefresh.cancel();
    this.writer.reset();
    this.heartbeat.stop();
    const hadSession = this._session !== null;
    this._session = null;
    this._epoch++;
    this.hooks.lost();
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
          : encoding === 'proto' && code === CloseCode.Unsupported
            ? new CloseError(code, reason, `the server refused binary frames (${code}${reason ? ` ${reason}` : ''}): it does not speak switchboard.v2.proto (a server older than protocol version 2?); connect with encoding 'json'`)
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
    this.hooks.stopped(err);
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

  private clearTimer(name: 'reconnectTimer' | 'connectTimer'): void {
    const t = this[name];
    if (t) clearTimeout(t);
    this[name] = null;
  }
}
