/**
 * The WebSocket endpoint: takes upgrades from our HTTP server, establishes
 * identity (token in the URL or Authorization header, dev name, or a first
 * `auth` message), and turns each socket into a Connection. Refusals are
 * delivered as close codes, because a browser cannot read an HTTP status from
 * a failed WebSocket handshake.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type ServerOptions } from 'ws';
import { identifyRequest, type AuthResult } from '../auth/authenticator.js';
import { sessionId } from './ids.js';
import type { Codec, ConnectedSettings } from '../protocol/codec.js';
import { chooseSubprotocol, codecOfSubprotocol } from '../protocol/codecs.js';
import { CloseCode } from '../protocol/codes.js';
import { Connection, SLOW_CLOSE_LINGER_PERIODS } from './connection.js';
import type { ConnectionTallies, GatewayContext, GatewayOptions } from './context.js';
import { queryOf } from './request-target.js';
import { SlowCloseLog } from './slow-close-log.js';
import { LogThrottle } from '../observe/log-throttle.js';

const ignore = (): void => {};

/** setTimeout's longest delay; a longer one fires at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class Gateway {
  private readonly wss: WebSocketServer;
  private readonly conns = new Set<Connection>();
  private upgrading = 0;
  /** Connections waiting for their `auth` message. */
  private unidentified = 0;
  private onEmpty: (() => void) | null = null;
  readonly ctx: GatewayContext;

  constructor(opts: GatewayOptions) {
    const { commandCounters, ...ctx } = opts;
    const { heartbeat, limits } = ctx.config;
    const repeats = new LogThrottle(ctx.log, ctx.config.log.repeatIntervalMs);
    this.ctx = {
      ...ctx,
      repeats,
      slowCloses: new SlowCloseLog(ctx.log, 1000, ctx.now),
      tallies: { closes: new Map(), opened: { token: 0, dev: 0 } },
      commands: { hub: ctx.hub, limits, log: repeats, now: ctx.now, counters: commandCounters },
      encodeConnected: connectedEncoders({
        heartbeat: { intervalMs: heartbeat.intervalMs, timeoutMs: heartbeat.timeoutMs },
        limits: {
          maxFrameBytes: limits.maxFrameBytes,
          messagesPerSecond: limits.messagesPerSecond,
          burst: limits.burst,
          roomsPerSession: limits.roomsPerSession,
          maxTextLength: limits.maxTextLength,
        },
      }),
      welcomeText: ctx.config.welcome.enabled ? welcomeText(ctx.config.welcome.text) : null,
      encodeNoUnread: noUnreadEncoder(),
      forget: (c) => {
        this.conns.delete(c as Connection);
        if (this.conns.size === 0) this.onEmpty?.();
      },
      identifiedOrGone: () => this.unidentified--,
    };
    const { config } = ctx;
    const options: ServerOptions & { closeTimeout: number } = {
      noServer: true,
      clientTracking: false,
      maxPayload: config.limits.maxFrameBytes,
      // Each connection ends its close handshake on its own deadlines (Connection.due); ws's timer is only a
      // backstop well after the longest of them, not its fixed 30 s, which would cut a longer closeTimeoutMs short.
      // (ws has the option; @types/ws does not list it yet.)
      closeTimeout: Math.min(2 * (1 + SLOW_CLOSE_LINGER_PERIODS) * config.limits.closeTimeoutMs, MAX_TIMER_MS),
      perMessageDeflate: config.compression.enabled
        ? { threshold: config.compression.thresholdBytes, serverNoContextTakeover: true, clientNoContextTakeover: true }
        : false,
      // The encoding: the first subprotocol offered that this server speaks (codecs.ts). None offered, or none
      // known, answers without one, and the connection speaks version 1's JSON.
      handleProtocols: (offered) => chooseSubprotocol(offered)?.name ?? false,
    };
    this.wss = new WebSocketServer(options);
  }

  get connections(): number {
    return this.conns.size;
  }

  /** Closes by code and sessions opened since start (counted by the connections). */
  get tallies(): ConnectionTallies {
    return this.ctx.tallies;
  }

  /** The latest slow-consumer closes (oldest first) and how many there were since start. */
  get slowCloses(): { total: number; recent: SlowCloseLog['recent'] } {
    return this.ctx.slowCloses;
  }

  /**
   * Open sessions by how they authenticated, and the bytes waiting to reach their clients (in the sockets, and held
   * by outboxes while their sockets drain). A walk over the connections: for a scrape or a stats call, not a turn.
   */
  sessionsAndQueues(): { token: number; dev: number; queueBytes: number; byEncoding: Record<string, number> } {
    const out = { token: 0, dev: 0, queueBytes: 0, byEncoding: {} as Record<string, number> };
    for (const c of this.conns) {
      if (c.state === 'open') {
        out[c.via]++;
        out.byEncoding[c.codec.name] = (out.byEncoding[c.codec.name] ?? 0) + 1;
      }
      if (c.state !== 'closed') out.queueBytes += c.queuedBytes;
    }
    return out;
  }

  /**
   * Identifies the handshake and upgrades it. A token's check is asynchronous (the returned promise settles once the
   * connection is set up); a dev identity, or none, is answered in this turn, as the upgrade event is handled.
   */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> | void {
    // Until ws takes the socket over, a reset from the peer must not become an uncaught error.
    socket.on('error', ignore);
    const full = this.conns.size + this.upgrading >= this.ctx.config.limits.maxConnections;
    const query = queryOf(req.url);
    const resume = query.get('resume') === '1';
    let identity: AuthResult | null | Promise<AuthResult> = null;
    try {
      if (!full) identity = identifyRequest(this.ctx.auth, req.headers, { searchParams: query });
    } catch (err) {
      identity = this.identifyFailed(err);
    }
    if (!(identity instanceof Promise)) return this.upgrade(req, socket, head, full, resume, identity);
    this.upgrading++;
    return identity
      .catch((err: unknown) => this.identifyFailed(err))
      .then((id) => {
        this.upgrading--;
        this.upgrade(req, socket, head, full, resume, id);
      });
  }

  private identifyFailed(err: unknown): AuthResult {
    this.ctx.repeats.error({ err }, 'identifying a connection failed');
    return { ok: false, code: CloseCode.Unauthorized, reason: 'could not verify credentials' };
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, full: boolean, resume: boolean, identity: AuthResult | null): void {
    if (socket.destroyed) return;
    // The 101 response and what the session is told first (connected, the welcome, or the close) leave in one
    // write: in a connect storm a write is a good part of each connection's cost. (A refused handshake ends
    // the socket, which uncorks it.)
    socket.cork();
    try {
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        try {
          socket.off('error', ignore);
          const conn = new Connection(sessionId(), ws, this.ctx, codecOfSubprotocol(ws.protocol));
          this.conns.add(conn);
          conn.forwardedFor = forwardedFor(req);
          if (full) {
            this.warnFull();
            conn.close(CloseCode.TryAgainLater, 'server is at its connection limit');
          }
          else if (identity === null) {
            if (this.unidentified >= this.ctx.config.limits.maxUnidentified) {
              this.warnFull();
              conn.close(CloseCode.TryAgainLater, 'too many connections waiting to identify');
            }
            else {
              this.unidentified++;
              conn.awaitAuth();
            }
          }
          else if (!identity.ok) conn.close(identity.code, identity.reason);
          else {
            conn.open(identity.identity, resume);
            conn.flushNow();
          }
        } catch (err) {
          // One connection's failure must not take the server down with it.
          this.ctx.repeats.error({ err }, 'setting up a session failed');
          ws.terminate();
        }
      });
    } finally {
      // ws calls back synchronously; whatever happened, nothing stays corked.
      socket.uncork();
    }
  }

  /** Connections refused with 1013 since the last warning, and when that was: one line per 10 s at most. */
  private fullRefusals = 0;
  private fullWarnedAt = -Infinity;

  private warnFull(): void {
    this.fullRefusals++;
    const now = this.ctx.now();
    if (now - this.fullWarnedAt < 10_000) return;
    this.ctx.log.warn(
      { refused: this.fullRefusals, connections: this.conns.size, unidentified: this.unidentified },
      'connections refused (1013): at limits.maxConnections or limits.maxUnidentified',
    );
    this.fullWarnedAt = now;
    this.fullRefusals = 0;
  }

  /** Closes every connection with `code` and resolves once all have gone (or `graceMs` has passed). */
  async closeAll(code: number, reason: string, graceMs: number): Promise<void> {
    for (const c of [...this.conns]) c.close(code, reason);
    if (this.conns.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.onEmpty = resolve;
        timer = setTimeout(resolve, graceMs);
      });
      clearTimeout(timer);
      this.onEmpty = null;
    }
    for (const c of [...this.conns]) c.terminate();
    this.ctx.slowCloses.flush();
    this.ctx.repeats.flush();
  }
}

/**
 * What a proxy in front says the client's address is (as given: the server cannot tell whether the proxy set it
 * or the client did); the socket's own address is read when a log line needs it (Connection.peer).
 */
function forwardedFor(req: IncomingMessage): string | undefined {
  const forwarded = req.headers['x-forwarded-for'];
  return typeof forwarded === 'string' ? forwarded : undefined;
}

/**
 * `text` with every `{user}` replaced by the user id as it is (split once: `replaceAll` took a good part of a
 * session's greeting, and would read `$&` and the like in an id as replacement patterns).
 */
export function welcomeText(text: string): (user: string) => string {
  const parts = text.split('{user}');
  return parts.length === 1 ? () => text : (user) => parts.join(user);
}

/** The empty `unread` summary in each codec, encoded on first use: the same bytes for every such session. */
function noUnreadEncoder(): (codec: Codec) => Buffer {
  const encoded: Buffer[] = [];
  return (codec) => (encoded[codec.id] ??= codec.encode({ type: 'unread', conversations: [] }));
}

/** The `connected` push of this server in each codec, its settings encoded once per codec on first use. */
function connectedEncoders(settings: ConnectedSettings): (codec: Codec, session: string, user: string) => Buffer {
  const encoders: ((session: string, user: string) => Buffer)[] = [];
  return (codec, session, user) => (encoders[codec.id] ??= codec.connectedEncoder(settings))(session, user);
}
