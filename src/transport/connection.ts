/**
 * One WebSocket connection: the session the hub sees, the wire its outbox
 * writes to, and its deadlines on the shared timer wheel. Closing is
 * idempotent and leaves nothing behind: the hub forgets the session at once,
 * the queue is dropped, and no byte is written after the close frame.
 */
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import type { Identity } from '../auth/authenticator.js';
import { CommandPipeline, type HostState, type PipelineHost } from '../commands/pipeline.js';
import type { HubSession } from '../hub/session.js';
import type { SharedBatch } from '../outbound/shared-batch.js';
import type { Codec } from '../protocol/codec.js';
import { CloseCode, ErrorCode } from '../protocol/codes.js';
import type { RequestId } from '../protocol/commands.js';
import type { ServerPush } from '../protocol/pushes.js';
import { PING_FRAME } from '../outbound/frame.js';
import { Outbox, type Held, type Wire } from '../outbound/outbox.js';
import type { DeflateParams } from '../outbound/deflate-frame.js';
import { RateLimiter } from './rate-limit.js';
import type { GatewayContext } from './context.js';
import { independentDeflateWindow, rawSocket } from './raw-socket.js';
import type { Timed } from './heartbeat.js';

type State = HostState;

/** The other end of the connection, for the logs. */
export interface Peer {
  remote: string | undefined;
  forwardedFor?: string;
}

type Beat = 'idle' | 'awaiting-pong';

/**
 * A slow consumer's close frame that has reached the OS by the close deadline
 * is given this many more `closeTimeoutMs` (30 s in all by default) for the
 * client to read up to it: see Connection.closeOverdue.
 */
export const SLOW_CLOSE_LINGER_PERIODS = 5;

export class Connection implements HubSession, Wire, Timed, PipelineHost {
  user = '';
  grants: readonly string[] = [];
  readonly rooms = new Set<string>();
  wheelSlot = -1;
  state: State = 'pending';
  /** X-Forwarded-For as the handshake gave it, for the logs. */
  forwardedFor: string | undefined;
  /** How the session authenticated (metrics). */
  via: 'token' | 'dev' = 'token';
  readonly preframed: boolean;
  readonly deflate: DeflateParams | null;
  private expiresAt: number | null = null;
  private beat: Beat = 'idle';
  /** When the heartbeat next acts: send a ping, or check that the peer answered. */
  private nextBeatAt = 0;
  /** Any frame from the peer since the last ping proves it alive. */
  heard = false;
  private readonly socket: Socket;
  private readonly outbox: Outbox;
  /** The code this connection is closing with (0 until then). */
  private closeCode = 0;
  /** Set while a slow consumer's close waits past its first deadline for the client to read it: the last deadline. */
  private lingerUntil = 0;
  private readonly commands: CommandPipeline;

  constructor(
    readonly id: string,
    private readonly ws: WebSocket,
    private readonly ctx: GatewayContext,
    /** The encoding this connection speaks, chosen at connect. */
    readonly codec: Codec,
  ) {
    this.socket = rawSocket(ws);
    // Compression: frames are deflated here, once per batch, when each message is compressed on its own (what this
    // server negotiates); otherwise, with any other parameters, ws compresses each payload itself.
    const window = independentDeflateWindow(ws);
    this.deflate = window === null ? null : { windowBits: window, threshold: ctx.config.compression.thresholdBytes };
    this.preframed = this.deflate !== null || !ws.extensions.includes('permessage-deflate');
    this.outbox = new Outbox(this, ctx.flusher, ctx.config.limits, this, codec);
    this.commands = new CommandPipeline(this, ctx.commands, new RateLimiter(ctx.config.limits, ctx.now()));
    // Shared listeners find their connection on the socket: no closures per connection.
    (ws as Tagged)[CONNECTION] = this;
    ws.on('message', onMessage);
    ws.on('pong', onPong);
    ws.on('close', onClose);
    ws.on('error', onError);
  }

  /** The outbox's backlog passed its limit. */
  overflowed(held: Held): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    this.ctx.slowCloses.record({
      session: this.id,
      user: this.user,
      unsentBytes: this.bufferedBytes,
      droppedMessages: held.messages,
      droppedBytes: held.bytes,
    });
    this.close(CloseCode.SlowConsumer, 'slow consumer: send queue overflowed');
  }

  // ── Wire ────────────────────────────────────────────────────────────────

  get bufferedBytes(): number {
    return this.preframed ? this.socket.writableLength : this.ws.bufferedAmount;
  }

  /** Bytes on their way to the client: in the socket, and held by the outbox while the socket drains. */
  get queuedBytes(): number {
    return this.bufferedBytes + this.outbox.heldBytesNow;
  }

  writeFrame(frame: Buffer): boolean {
    return this.socket.write(frame);
  }

  onDrain(cb: () => void): void {
    // A socket above its high-water mark has promised a drain; otherwise what is still unsent sits in ws's own
    // queue (compression), which empties by itself: look again next turn.
    if (this.socket.writableNeedDrain) this.socket.once('drain', cb);
    else setImmediate(cb);
  }

  sendPayload(payload: Buffer): void {
    this.ws.send(payload, { binary: this.codec.binary });
  }

  // ── HubSession ──────────────────────────────────────────────────────────

  get session(): HubSession {
    return this;
  }

  send(bytes: Buffer): void {
    this.outbox.push(bytes);
  }

  sendShared(batch: SharedBatch, start: number): void {
    this.outbox.pushShared(batch, start);
  }

  push(message: ServerPush): void {
    this.outbox.push(this.codec.encode(message));
  }

  /** Closes with a code the client can read. Safe to call any number of times, in any state. */
  close(code: number, reason: string): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    const wasOpen = this.state === 'open';
    // Refused before it had a session (bad or expired token, no `auth` in time, a limit): what an operator looks
    // for when users cannot connect, or when someone tries tokens.
    if (this.state === 'pending') {
      // Shutdowns and a full server refuse many at once, and say so in their own lines: only at debug here.
      const routine = code === CloseCode.GoingAway || code === CloseCode.TryAgainLater;
      this.ctx.log[routine ? 'debug' : 'info']({ session: this.id, ...this.peer, code, reason }, 'connection refused');
    }
    this.stopAwaitingAuth();
    this.state = 'closing';
    this.closeCode = code;
    const { closes } = this.ctx.tallies;
    closes.set(code, (closes.get(code) ?? 0) + 1);
    // What the client was already told this turn (replies, the error that explains the close) goes out first;
    // a slow consumer's backlog is exactly what must not.
    if (code !== CloseCode.SlowConsumer) this.outbox.flush(true);
    this.outbox.close();
    this.ctx.hub.disconnect(this, code, reason);
    if (wasOpen) this.ctx.log.debug({ session: this.id, user: this.user, code, reason }, 'closing session');
    this.ws.close(code, reason);
    if (code === CloseCode.SlowConsumer) this.watchCloseFrame();
    if (code === CloseCode.HeartbeatTimeout) {
      // The peer stopped answering; waiting for its half of the close handshake would only hold the socket.
      this.ws.terminate();
    } else {
      // A peer that never completes the handshake is cut off after the grace period.
      this.ctx.wheel.schedule(this, this.ctx.config.limits.closeTimeoutMs);
    }
  }

  /**
   * Who is at the other end, for the logs: read only when a line is written (asking the kernel for the address of
   * every connection was a few percent of a connect storm's CPU).
   */
  get peer(): Peer {
    const remote = this.socket.remoteAddress;
    return this.forwardedFor === undefined ? { remote } : { remote, forwardedFor: this.forwardedFor };
  }

  get log(): GatewayContext['log'] {
    return this.ctx.log;
  }

  /**
   * Writes what is queued now rather than at the end of the turn (the greeting rides with the 101 response).
   * Only for a session that has just opened: it holds its own pushes, no room batch of this turn, whose frame
   * would be built and cached before the turn's other messages joined it.
   */
  flushNow(): void {
    this.outbox.flush();
  }

  /** Ends the socket without a handshake (shutdown after the grace period). */
  terminate(): void {
    this.ws.terminate();
  }

  /** @internal the socket's close event, with the code the peer sent (1006 when there was no close frame). */
  onClosed(code: number = CloseCode.Abnormal, reason = ''): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.stopAwaitingAuth();
    this.outbox.close();
    this.ctx.wheel.cancel(this);
    this.ctx.hub.disconnect(this, code, reason);
    this.ctx.forget(this);
  }

  // ── identity ────────────────────────────────────────────────────────────

  /** Becomes a session: the hub registers it, then it is greeted. */
  open(identity: Identity, resume = false): void {
    if (this.state !== 'pending') return;
    this.user = identity.user;
    this.grants = identity.grants;
    this.expiresAt = identity.expiresAt;
    this.via = identity.via ?? 'token';
    const verdict = this.ctx.hub.connect(this, resume ? RESUME : FRESH);
    if (!verdict.ok) {
      this.close(verdict.code, verdict.reason);
      return;
    }
    this.state = 'open';
    this.ctx.tallies.opened[this.via]++;
    this.stopAwaitingAuth();
    const { config } = this.ctx;
    this.outbox.push(this.ctx.encodeConnected(this.codec, this.id, this.user));
    if (this.ctx.welcomeText) {
      const text = this.ctx.welcomeText(this.user);
      const ts = this.ctx.now();
      this.push({ type: 'notice', from: 'System', text, ts });
    }
    this.ctx.hub.unread(this).then(
      (summary) => {
        if (summary && this.state === 'open')
          this.outbox.push(summary.conversations.length === 0 ? this.ctx.encodeNoUnread(this.codec) : this.codec.encode(summary));
      },
      (err: unknown) => this.ctx.repeats.warn({ session: this.id, err }, 'unread summary failed'),
    );
    this.nextBeatAt = this.ctx.now() + config.heartbeat.intervalMs;
    this.scheduleNext(this.ctx.now());
    // The address is asked of the kernel: only for a line that is written (the object is built before pino looks
    // at the level; in a connect storm this was 3 % of the server's CPU).
    if (this.ctx.log.isLevelEnabled('debug')) this.ctx.log.debug({ session: this.id, user: this.user, ...this.peer }, 'session open');
  }

  /** A connection without credentials waits this long for an `auth` message. */
  awaitAuth(): void {
    this.awaitingAuth = true;
    this.ctx.wheel.schedule(this, this.ctx.config.auth.timeoutMs);
  }

  /** Counted by the gateway while it waits for `auth`; told once when that ends. */
  private awaitingAuth = false;

  private stopAwaitingAuth(): void {
    if (!this.awaitingAuth) return;
    this.awaitingAuth = false;
    this.ctx.identifiedOrGone();
  }

  async authenticate(id: RequestId | undefined, token: string, resume: boolean): Promise<void> {
    const result = await this.ctx.auth.verifyToken(token);
    if (this.state === 'pending') {
      if (!result.ok) return this.close(result.code, result.reason);
      this.open(result.identity, resume);
      if (id !== undefined && (this.state as State) === 'open') this.push({ type: 'reply', id, data: { session: this.id, user: this.user } });
      return;
    }
    if (this.state !== 'open') return;
    // A refresh: same user, new expiry and grants.
    if (!result.ok || result.identity.user !== this.user) return this.commands.error(id, ErrorCode.InvalidToken, result.ok ? 'token is for another user' : result.reason);
    this.expiresAt = result.identity.expiresAt;
    this.grants = result.identity.grants;
    this.scheduleNext(this.ctx.now());
    if (id !== undefined) this.push({ type: 'reply', id, data: { expiresAt: this.expiresAt } });
  }

  // ── deadlines (TimerWheel) ──────────────────────────────────────────────

  due(now: number): void {
    const { config } = this.ctx;
    switch (this.state) {
      case 'pending':
        return this.close(CloseCode.AuthTimeout, 'no auth message in time');
      case 'closing':
        return this.closeOverdue(now);
      case 'closed':
        return;
    }
    if (this.expiresAt !== null && now >= this.expiresAt) return this.close(CloseCode.TokenExpired, 'token expired');
    if (now >= this.nextBeatAt) {
      if (this.beat === 'awaiting-pong') {
        if (!this.heard) return this.close(CloseCode.HeartbeatTimeout, 'no pong in time');
        this.beat = 'idle';
        this.nextBeatAt = now + Math.max(1, config.heartbeat.intervalMs - config.heartbeat.timeoutMs);
      } else {
        this.heard = false;
        this.beat = 'awaiting-pong';
        if (this.preframed) this.socket.write(PING_FRAME);
        else this.ws.ping();
        this.nextBeatAt = now + config.heartbeat.timeoutMs;
      }
    }
    this.scheduleNext(now);
  }

  /** Logs (debug) when a slow consumer's close frame has left for the OS, behind what the socket already held. */
  private watchCloseFrame(): void {
    const closedAt = this.ctx.now();
    const sent = (): void => {
      if (this.ws.bufferedAmount === 0)
        this.ctx.log.debug({ session: this.id, user: this.user, afterMs: this.ctx.now() - closedAt }, 'slow consumer: close frame handed to the OS');
    };
    // A socket above its high-water mark has promised a drain; below it, the deadline looks again (closeOverdue).
    if (this.ws.bufferedAmount === 0) sent();
    else if (this.socket.writableNeedDrain) this.socket.once('drain', sent);
  }

  /**
   * The peer has not completed the close handshake in time: it is cut off, except a slow consumer whose close
   * frame has reached the OS (nothing is left unsent here). The OS delivers that frame after the backlog once the
   * client reads, but only while the socket stays open: once destroyed, anything the client still sends (a pong,
   * a message written before it saw the close) is answered with a reset that discards the close frame along with
   * everything else the OS held, and the client sees ECONNRESET / 1006 instead of 4005. So that socket is kept
   * (a descriptor, and a place under limits.maxConnections; nothing is left to write) for SLOW_CLOSE_LINGER_PERIODS
   * more deadlines or until the client answers. A close frame still queued here at the first deadline means the
   * client has hardly read since the close (the OS takes more only once it has freed a good part of its buffer):
   * it would not reach the frame in time either, and what the socket holds is freed now.
   */
  private closeOverdue(now: number): void {
    const unsentBytes = this.ws.bufferedAmount;
    if (this.closeCode === CloseCode.SlowConsumer) {
      if (this.lingerUntil === 0 && unsentBytes === 0) {
        this.lingerUntil = now + SLOW_CLOSE_LINGER_PERIODS * this.ctx.config.limits.closeTimeoutMs;
        this.ctx.log.debug({ session: this.id, user: this.user }, 'slow consumer: close frame sent, waiting for the client to read up to it');
      }
      if (now < this.lingerUntil) {
        // (A delay past the wheel's horizon comes back here early and is scheduled again.)
        this.ctx.wheel.schedule(this, this.lingerUntil - now);
        return;
      }
    }
    this.ctx.log.debug({ session: this.id, user: this.user, code: this.closeCode, unsentBytes }, 'close handshake timed out: terminating');
    this.ws.terminate();
  }

  /** One wheel entry serves both deadlines: the next heartbeat step and the token's expiry. */
  private scheduleNext(now: number): void {
    const at = this.expiresAt === null ? this.nextBeatAt : Math.min(this.nextBeatAt, this.expiresAt);
    this.ctx.wheel.schedule(this, Math.max(0, at - now));
  }

  // ── inbound ─────────────────────────────────────────────────────────────

  /** @internal a frame from the socket. */
  onFrame(data: Buffer, isBinary: boolean): void {
    this.heard = true;
    if (this.state !== 'pending' && this.state !== 'open') return;
    if (isBinary !== this.codec.binary)
      return this.close(CloseCode.Unsupported, this.codec.binary ? 'text frames are not supported; send binary' : 'binary frames are not supported; send JSON text');
    this.codec.decode(data, this.commands.receive);
  }
}

/** Hub.connect's options, the same objects for every session. */
const RESUME = { resume: true } as const;
const FRESH = { resume: false } as const;

const CONNECTION = Symbol('connection');
type Tagged = WebSocket & { [CONNECTION]: Connection };

function onMessage(this: WebSocket, data: Buffer, isBinary: boolean): void {
  (this as Tagged)[CONNECTION].onFrame(data, isBinary);
}
function onPong(this: WebSocket): void {
  (this as Tagged)[CONNECTION].heard = true;
}
function onClose(this: WebSocket, code: number, reason: Buffer): void {
  (this as Tagged)[CONNECTION].onClosed(code, reason.toString());
}
function onError(this: WebSocket, err: Error): void {
  const c = (this as Tagged)[CONNECTION];
  c.log.debug({ session: c.id, err: err.message }, 'socket error');
}
