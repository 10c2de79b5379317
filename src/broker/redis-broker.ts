/**
 * The broker on Redis publish/subscribe. Two connections, because a connection that subscribes on RESP2 can do
 * nothing else, and so that a publisher's pipeline never waits behind a flood of incoming messages. A channel is
 * `${prefix}:${channel}` in UTF-8 bytes (Redis channels are binary-safe), payloads stay bytes (`messageBuffer`).
 *
 * Losses: neither connection queues while it is down (ioredis's offline queue is off, nor does it resend
 * commands that were in flight), so a publish then is refused at once and counted as dropped. ioredis reconnects
 * for ever; the subscriptions are restored by this class rather than by ioredis's autoResubscribe, because
 * ioredis says 'ready' before its SUBSCRIBE is answered, and `up` must mean that every subscription is in place.
 */
import { Redis, type RedisOptions } from 'ioredis';
import type { Broker, BrokerHandlers } from './broker.js';
import { checkPrefix, errorText, HandlerGate, where } from './gate.js';

export interface RedisBrokerOptions {
  /** How long `start()` keeps trying before it gives up (ms). */
  startTimeoutMs?: number;
}

/** Reconnect delay: 100 ms doubling to 2 s, each between half and all of that, so nodes do not retry in step. */
function backoff(attempt: number): number {
  const cap = Math.min(2_000, 100 * 2 ** Math.min(attempt - 1, 5));
  return Math.round(cap / 2 + (Math.random() * cap) / 2);
}

function connectionOptions(startTimeoutMs: number): RedisOptions {
  return {
    lazyConnect: true,
    connectTimeout: startTimeoutMs,
    retryStrategy: backoff,
    enableOfflineQueue: false,
    // What was in flight when the connection dropped fails instead of being sent again later (at most once).
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    autoResubscribe: false,
    // A peer that vanished without a FIN is noticed by TCP keepalive rather than never.
    keepAlive: 10_000,
  };
}

const noop = (): void => {};

export class RedisBroker implements Broker {
  readonly kind = 'redis';
  private readonly gate = new HandlerGate();
  private pub: Redis | null = null;
  private sub: Redis | null = null;
  /** Every subscription wanted, by its Redis channel's bytes (as latin1: one character a byte) → its name. */
  private readonly wanted = new Map<string, string>();
  private readonly channels = new Map<string, Buffer>();
  /** The subscriber is connected and has answered the SUBSCRIBE of every channel wanted when it connected. */
  private subscribed = false;
  /** Counts the subscriber's connections, so that a resubscription answered after a loss changes nothing. */
  private subEpoch = 0;
  private readonly startTimeoutMs: number;
  /** While `start()` waits: told true when up, false when `stop()` comes first. */
  private whenUp: ((up: boolean) => void) | null = null;

  constructor(
    private readonly url: string,
    private readonly prefix: string,
    opts: RedisBrokerOptions = {},
  ) {
    checkPrefix(prefix);
    this.startTimeoutMs = opts.startTimeoutMs ?? 5_000;
  }

  get up(): boolean {
    return !this.gate.closed && this.pub?.status === 'ready' && this.subscribed;
  }

  async start(handlers: BrokerHandlers): Promise<void> {
    if (this.pub) throw new Error('RedisBroker.start() called twice');
    this.gate.open(handlers);
    const options = connectionOptions(this.startTimeoutMs);
    // Every PUBLISH of one event-loop turn leaves in one write (a room message per turn each cost a syscall).
    const pub = (this.pub = new Redis(this.url, { ...options, connectionName: `${this.prefix}-pub`, enableAutoPipelining: true }));
    const sub = (this.sub = new Redis(this.url, { ...options, connectionName: `${this.prefix}-sub` }));
    let lastError: unknown = null;
    for (const [conn, role] of [[pub, 'publisher'], [sub, 'subscriber']] as const) {
      conn.on('error', (err: unknown) => {
        lastError = err;
        this.gate.warn(`redis ${role} connection (${where(this.url)}): ${errorText(err)}`, err);
      });
    }
    pub.on('close', () => this.changed());
    pub.on('ready', () => this.changed());
    sub.on('close', () => {
      this.subEpoch++;
      this.subscribed = false;
      this.changed();
    });
    sub.on('ready', () => void this.resubscribe(sub));
    sub.on('messageBuffer', (channel: Buffer, payload: Buffer) => {
      const name = this.wanted.get(channel.toString('latin1'));
      if (name !== undefined) this.gate.message(name, payload);
    });
    pub.connect().catch(noop);
    sub.connect().catch(noop);

    let timer: NodeJS.Timeout | undefined;
    const connected = await new Promise<boolean>((resolve) => {
      this.whenUp = resolve;
      timer = setTimeout(() => resolve(false), this.startTimeoutMs);
    });
    clearTimeout(timer);
    this.whenUp = null;
    if (connected) {
      this.gate.started();
      return this.changed(); // lost again since it resolved: say so now
    }
    const stopped = this.gate.closed;
    await this.stop();
    if (stopped) throw new Error('RedisBroker stopped before it was connected');
    const why = lastError === null ? 'no answer' : errorText(lastError);
    throw new Error(`could not connect to Redis at ${where(this.url)} within ${this.startTimeoutMs} ms: ${why}`);
  }

  publish(channel: string, payload: Buffer): boolean {
    const pub = this.pub;
    // Checked here, not left to ioredis, so that the refusal is a plain false rather than a rejected promise made
    // for every message while the connection is down.
    if (!pub || pub.status !== 'ready' || this.gate.closed) return false;
    // A rejection now means the connection dropped with the message in flight: lost, as the interface allows.
    pub.publish(this.channelBytes(channel), payload).catch(noop);
    return true;
  }

  subscribe(channel: string): void {
    const bytes = this.channelBytes(channel);
    const key = bytes.toString('latin1');
    if (this.wanted.has(key)) return;
    this.wanted.set(key, channel);
    // Not connected: the resubscription on connect includes it.
    if (this.sub?.status === 'ready') this.sub.subscribe(bytes).catch((err: unknown) => this.lost('subscribe to', channel, err));
  }

  unsubscribe(channel: string): void {
    const bytes = this.channelBytes(channel);
    // Deleted first: what is still on its way for the channel is dropped on arrival.
    if (!this.wanted.delete(bytes.toString('latin1'))) return;
    if (this.sub?.status === 'ready') this.sub.unsubscribe(bytes).catch((err: unknown) => this.lost('unsubscribe from', channel, err));
  }

  async stop(): Promise<void> {
    this.gate.close();
    this.whenUp?.(false);
    const conns = [this.pub, this.sub].filter((c): c is Redis => c !== null);
    await Promise.all(conns.map((c) => close(c)));
  }

  /** A channel's bytes, kept for the channels in use (a room's messages go to the same one again and again). */
  private channelBytes(channel: string): Buffer {
    let bytes = this.channels.get(channel);
    if (bytes === undefined) {
      // Bounded: a node that has seen very many rooms starts the cache again rather than keep them all.
      if (this.channels.size >= 10_000) this.channels.clear();
      this.channels.set(channel, (bytes = Buffer.from(`${this.prefix}:${channel}`, 'utf8')));
    }
    return bytes;
  }

  /** The subscriber (re)connected: one SUBSCRIBE for everything wanted, and up once Redis has answered it. */
  private async resubscribe(sub: Redis): Promise<void> {
    const epoch = this.subEpoch;
    if (sub.status !== 'ready') return; // lost again before 'ready' was emitted: its 'close' follows
    const channels = [...this.wanted.keys()].map((k) => Buffer.from(k, 'latin1'));
    try {
      if (channels.length > 0) await sub.subscribe(...channels);
    } catch (err) {
      if (epoch !== this.subEpoch) return;
      // Connected but refused: start over on a new connection rather than stay half subscribed.
      this.gate.warn(`redis: could not resubscribe ${channels.length} channels, reconnecting`, err);
      sub.disconnect(true);
      return;
    }
    if (epoch !== this.subEpoch || sub.status !== 'ready') return;
    this.subscribed = true;
    this.changed();
  }

  private changed(): void {
    const up = this.up;
    if (up && this.whenUp) this.whenUp(true);
    else this.gate.state(up);
  }

  /** A SUBSCRIBE or UNSUBSCRIBE failed: only worth a word if the connection is still there (else a reconnect redoes it). */
  private lost(what: string, channel: string, err: unknown): void {
    if (this.sub?.status === 'ready') this.gate.warn(`redis: could not ${what} ${JSON.stringify(channel)}`, err);
  }
}

/** QUIT when connected (what was sent is flushed first), else drop the socket and the retry timer; resolves at 'end'. */
async function close(conn: Redis): Promise<void> {
  if (conn.status === 'end') return;
  const ended = new Promise<void>((resolve) => conn.once('end', () => resolve()));
  if (conn.status === 'ready') await conn.quit().catch(() => conn.disconnect());
  else conn.disconnect();
  await ended;
}
