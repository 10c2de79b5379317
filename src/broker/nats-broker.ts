/**
 * The broker on core NATS (no JetStream: at most once is what the interface promises). One connection does both;
 * the client reconnects for ever and sends its subscriptions again itself. A channel is the subject
 * `${prefix}.${token}` (see `subjectToken`).
 *
 * Publishing while disconnected returns false and hands nothing to the client. The nats.js v2 client has no
 * reconnect buffer limit (`reconnectBufSize` is the Go client's): what it is given while down waits in an outbound
 * buffer that grows without bound until the next dial attempt throws it away. Between the socket's loss and the
 * status event that tells us, a few messages may still go into that buffer; they are discarded the same way.
 */
import { connect, Events, type ConnectionOptions, type NatsConnection, type Subscription } from 'nats';
import type { Broker, BrokerHandlers } from './broker.js';
import { checkPrefix, errorText, HandlerGate, where } from './gate.js';

export interface NatsBrokerOptions {
  /** How long `start()` keeps trying before it gives up (ms). */
  startTimeoutMs?: number;
}

/**
 * A channel as one subject token: itself when it is a plain token, else `x` + base64url of its UTF-8 bytes. Plain
 * tokens that begin with `x` are encoded too: otherwise the channel `xIA` and the channel " " (base64url `IA`)
 * would be one subject.
 */
export function subjectToken(channel: string): string {
  if (/^(?!x)[A-Za-z0-9_-]+$/.test(channel)) return channel;
  return `x${Buffer.from(channel, 'utf8').toString('base64url')}`;
}

/** The server closes a connection whose protocol line is longer than max_control_line (4 KiB by default). */
const MAX_SUBJECT_BYTES = 3_072;
const RETRY_MS = 250;

export class NatsBroker implements Broker {
  readonly kind = 'nats';
  private readonly gate = new HandlerGate();
  private nc: NatsConnection | null = null;
  /** Every subscription wanted; null until there is a connection to make it on. */
  private readonly subs = new Map<string, Subscription | null>();
  /** Connected, and the server has answered a PING sent after the client's SUBs. */
  private ready = false;
  private readonly startTimeoutMs: number;

  constructor(
    private readonly url: string,
    private readonly prefix: string,
    opts: NatsBrokerOptions = {},
  ) {
    checkPrefix(prefix);
    this.startTimeoutMs = opts.startTimeoutMs ?? 5_000;
  }

  get up(): boolean {
    return this.ready && !this.gate.closed;
  }

  async start(handlers: BrokerHandlers): Promise<void> {
    if (this.nc) throw new Error('NatsBroker.start() called twice');
    this.gate.open(handlers);
    const nc = await this.connectWithin(this.startTimeoutMs);
    this.nc = nc;
    if (this.gate.closed) {
      await nc.close().catch(() => {});
      throw new Error('NatsBroker stopped before it was connected');
    }
    for (const channel of this.subs.keys()) this.subs.set(channel, this.subscribeOn(nc, channel));
    try {
      await nc.flush(); // the SUBs are in place once the server has answered what was sent after them
    } catch (err) {
      await this.stop();
      throw new Error(`NATS at ${where(this.url)} went away during start: ${errorText(err)}`);
    }
    if (this.gate.closed) throw new Error('NatsBroker stopped before it was connected');
    this.ready = true;
    this.gate.started();
    this.watch(nc).catch((err: unknown) => this.gate.warn('nats: status watch failed', err));
  }

  publish(channel: string, payload: Buffer): boolean {
    const nc = this.nc;
    if (!nc || !this.ready || this.gate.closed) return false;
    try {
      nc.publish(this.subject(channel), payload);
      return true;
    } catch (err) {
      // Closed under us, or larger than the server's max_payload.
      this.gate.warn(`nats: could not publish to ${JSON.stringify(channel)}`, err);
      return false;
    }
  }

  subscribe(channel: string): void {
    if (this.subs.has(channel)) return;
    // While disconnected the client records it and sends it on reconnect.
    this.subs.set(channel, this.nc ? this.subscribeOn(this.nc, channel) : null);
  }

  unsubscribe(channel: string): void {
    const sub = this.subs.get(channel);
    this.subs.delete(channel);
    try {
      sub?.unsubscribe();
    } catch (err) {
      this.gate.warn(`nats: could not unsubscribe from ${JSON.stringify(channel)}`, err);
    }
  }

  async stop(): Promise<void> {
    this.gate.close();
    this.ready = false;
    const nc = this.nc;
    if (nc && !nc.isClosed()) await nc.close().catch(() => {});
  }

  private subject(channel: string): string {
    return `${this.prefix}.${subjectToken(channel)}`;
  }

  private subscribeOn(nc: NatsConnection, channel: string): Subscription | null {
    const subject = this.subject(channel);
    if (Buffer.byteLength(subject) > MAX_SUBJECT_BYTES) {
      // Sent, it would cost the connection, and again at every reconnect.
      this.gate.warn(`nats: channel name too long to subscribe to (${subject.length} characters)`);
      return null;
    }
    try {
      return nc.subscribe(subject, {
        callback: (err, msg) => {
          if (err) return this.gate.warn(`nats: subscription to ${JSON.stringify(channel)} failed`, err);
          // The parser hands out a view of a buffer of its own for each read: no copy needed.
          const { data } = msg;
          if (this.subs.has(channel)) this.gate.message(channel, Buffer.from(data.buffer, data.byteOffset, data.byteLength));
        },
      });
    } catch (err) {
      this.gate.warn(`nats: could not subscribe to ${JSON.stringify(channel)}`, err);
      return null;
    }
  }

  /** The first connection, retried every RETRY_MS until `ms` have passed. */
  private async connectWithin(ms: number): Promise<NatsConnection> {
    const deadline = Date.now() + ms;
    for (;;) {
      const left = deadline - Date.now();
      try {
        return await connect({ ...this.connectionOptions(), timeout: Math.max(left, 100) });
      } catch (err) {
        if (this.gate.closed) throw new Error('NatsBroker stopped before it was connected');
        if (Date.now() + RETRY_MS >= deadline) {
          this.gate.close();
          throw new Error(`could not connect to NATS at ${where(this.url)} within ${ms} ms: ${errorText(err)}`);
        }
        await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
      }
    }
  }

  private connectionOptions(): ConnectionOptions {
    // nats.js takes no credentials from the URL itself.
    const u = new URL(this.url);
    const auth: ConnectionOptions =
      u.username && u.password
        ? { user: decodeURIComponent(u.username), pass: decodeURIComponent(u.password) }
        : u.username
          ? { token: decodeURIComponent(u.username) }
          : {};
    return {
      ...auth,
      servers: `${u.hostname}:${u.port || '4222'}`,
      name: `switchboard-${this.prefix}`,
      maxReconnectAttempts: -1,
      reconnectTimeWait: RETRY_MS,
      reconnectJitter: RETRY_MS,
      // Retried like any other failure (the client gives up after two by default).
      ignoreAuthErrorAbort: true,
      // A server that vanished without closing the socket is noticed within about 30 s, not 4 minutes.
      pingInterval: 10_000,
      maxPingOut: 3,
    };
  }

  private async watch(nc: NatsConnection): Promise<void> {
    void nc.closed().then((err) => {
      if (this.gate.closed) return;
      // Not expected (reconnects never run out): say so, since nothing will bring it back.
      this.ready = false;
      this.gate.warn(`nats: the connection to ${where(this.url)} closed for good`, err);
      this.gate.state(false);
    });
    for await (const s of nc.status()) {
      if (s.type === Events.Disconnect) {
        this.ready = false;
        this.gate.warn(`nats: disconnected from ${where(this.url)}`);
        this.gate.state(false);
      } else if (s.type === Events.Reconnect) {
        void this.confirm(nc);
      } else if (s.type === Events.Error) {
        this.gate.warn(`nats: ${String(s.data)}`);
      }
    }
  }

  /** Reconnected and the client has sent its SUBs: up once the server has answered a PING sent after them. */
  private async confirm(nc: NatsConnection): Promise<void> {
    try {
      await nc.flush();
    } catch {
      return; // lost again: the next reconnect confirms
    }
    if (nc.isClosed() || this.gate.closed) return;
    this.ready = true;
    this.gate.state(true);
  }
}
