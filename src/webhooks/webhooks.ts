/**
 * Webhooks: the hub's events (HubEvents) to the app's backend, at least once.
 *
 * The hub calls `events` synchronously; each call only pushes the event onto an in-memory array and returns. Once
 * per event-loop turn, everything pushed during it is written to the store's webhook queue in one
 * `enqueueWebhooks` call (while one is being written the next collects, as the message committer does), one row
 * per event and endpoint, the event's JSON serialized once. Only then are the endpoints' loops (dispatcher.ts)
 * told: an event is in the store before its first attempt, so a crash loses nothing that was queued.
 *
 * Bounds: each endpoint keeps at most `maxQueued` events in the store (the oldest go past it), and at most
 * `maxQueued` events wait in memory for a store that cannot take them (the oldest go first). Whatever goes is
 * counted and logged per endpoint (drop-log.ts).
 */
import type { Logger } from 'pino';
import { matchesAny } from '../access/patterns.js';
import type { Config } from '../config/schema.js';
import type { HubEvents } from '../hub/events.js';
import { LogThrottle } from '../observe/log-throttle.js';
import type { WebhookEvent } from '../store/store.js';
import { EndpointDispatcher, type WebhookQueue } from './dispatcher.js';
import { DropLog } from './drop-log.js';
import { eventIdSource, messageData, serialize, type WebhookEnvelope, type WebhookEventData, type WebhookEventType } from './event.js';

export type WebhooksConfig = Config['webhooks'];
export type EndpointConfig = WebhooksConfig['endpoints'][number];

export interface WebhooksOptions {
  config: WebhooksConfig;
  queue: WebhookQueue;
  log: Logger;
  now?: () => number;
  /** For tests; the global fetch by default. */
  fetch?: typeof fetch;
  random?: () => number;
  /** Deliveries in flight per endpoint at most (default 4). */
  concurrency?: number;
  /** Due events an endpoint reads from the store at a time (default 64). */
  readBatch?: number;
  /** A store error that repeats is logged at once, then once per this many ms with a count (default 10 s). */
  repeatIntervalMs?: number;
}

interface Endpoint {
  config: EndpointConfig;
  dispatcher: EndpointDispatcher;
  drops: DropLog;
}

interface Pending {
  event: WebhookEnvelope;
  targets: Endpoint[];
}

const STORE_RETRY_MS = 1000;

export class Webhooks {
  /** What the hub calls (HubOptions.events). */
  readonly events: HubEvents;
  private readonly endpoints: Endpoint[];
  private readonly byType = new Map<WebhookEventType, Endpoint[]>();
  private readonly nextId: () => string;
  private readonly now: () => number;
  private pending: Pending[] = [];
  private scheduled = false;
  private writing: Promise<void> | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private readonly storeErrors: LogThrottle;
  private closed = false;

  constructor(private readonly opts: WebhooksOptions) {
    const { config, queue, log } = opts;
    this.now = opts.now ?? Date.now;
    this.nextId = eventIdSource(this.now);
    this.storeErrors = new LogThrottle(log, opts.repeatIntervalMs);
    this.endpoints = config.endpoints.map((c) => {
      const drops = new DropLog(c.name, log, this.now);
      const dispatcher = new EndpointDispatcher({
        endpoint: { name: c.name, url: c.url, secret: c.secret, timeoutMs: c.timeoutMs },
        queue,
        log,
        drops,
        now: this.now,
        fetch: opts.fetch ?? globalThis.fetch,
        random: opts.random ?? Math.random,
        retryBaseMs: config.retryBaseMs,
        retryMaxMs: config.retryMaxMs,
        maxAttempts: config.maxAttempts,
        maxQueued: config.maxQueued,
        concurrency: opts.concurrency ?? 4,
        readBatch: opts.readBatch ?? 64,
        repeatIntervalMs: opts.repeatIntervalMs,
      });
      return { config: c, dispatcher, drops };
    });
    for (const ep of this.endpoints)
      for (const type of new Set(ep.config.events)) {
        const list = this.byType.get(type) ?? [];
        list.push(ep);
        this.byType.set(type, list);
      }
    this.events = {
      userOnline: (user) => this.add('user.online', null, () => ({ user })),
      userOffline: (user) => this.add('user.offline', null, () => ({ user })),
      memberJoined: (room, user) => this.add('room.member.joined', null, () => ({ room, user })),
      memberLeft: (room, user) => this.add('room.member.left', null, () => ({ room, user })),
      sessionDisconnected: (session, user, code, reason) => this.add('session.disconnected', null, () => ({ session, user, code, reason })),
      messageCreated: (message, recipientOnline) => {
        // A room's messages go to the endpoints that chose the room; a direct message only when its recipient had
        // no session (what an app sends a mobile push notification for).
        if (message.room !== undefined) this.add('message.created', message.room, () => messageData(message));
        else if (!recipientOnline) this.add('message.created', null, () => messageData(message));
      },
    };
  }

  /** Each endpoint counts what the store holds for it and starts delivering it (what a stop or crash left too). */
  start(): void {
    for (const ep of this.endpoints) void ep.dispatcher.start();
  }

  /** Per endpoint: events held by the store (about), deliveries in flight, delivered, failed attempts, dropped. */
  stats(): Record<string, { queued: number; inFlight: number; delivered: number; failedAttempts: number; dropped: number }> {
    const out: ReturnType<Webhooks['stats']> = {};
    for (const { config, dispatcher, drops } of this.endpoints)
      out[config.name] = {
        queued: dispatcher.queued,
        inFlight: dispatcher.deliveriesInFlight,
        delivered: dispatcher.delivered,
        failedAttempts: dispatcher.failedAttempts,
        dropped: drops.total,
      };
    return out;
  }

  /**
   * Starts no new delivery, writes what is waiting in memory to the store, and gives the deliveries in flight up
   * to `graceMs` before aborting them (they stay queued). Call it after the last hub event and before the store
   * closes.
   */
  async stop(graceMs: number): Promise<void> {
    this.closed = true;
    for (const ep of this.endpoints) ep.dispatcher.halt();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    await this.writing;
    if (this.pending.length > 0) await this.write();
    await Promise.all(this.endpoints.map((ep) => ep.dispatcher.stop(graceMs)));
    this.storeErrors.flush();
  }

  private add<T extends WebhookEventType>(type: T, room: string | null, data: () => WebhookEventData[T]): void {
    const listening = this.byType.get(type);
    if (!listening || this.closed) return;
    const targets = room === null ? listening : listening.filter((ep) => ep.config.rooms === undefined || matchesAny(ep.config.rooms, room));
    if (targets.length === 0) return;
    this.pending.push({ event: { id: this.nextId(), type, ts: this.now(), data: data() } as WebhookEnvelope, targets });
    if (this.pending.length > this.opts.config.maxQueued) this.dropPending();
    this.schedule();
  }

  /** The store has not taken what waits in memory for so long that it passed maxQueued: the oldest tenth goes. */
  private dropPending(): void {
    const cut = Math.ceil(this.opts.config.maxQueued / 10);
    for (const { targets } of this.pending.splice(0, cut)) for (const ep of targets) ep.drops.add(1, 'queueFull');
  }

  private schedule(): void {
    if (this.scheduled || this.writing || this.retryTimer || this.closed) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (this.writing || this.pending.length === 0) return;
      this.writing = this.write().finally(() => {
        this.writing = null;
        if (this.pending.length > 0) this.schedule();
      });
    });
  }

  /** Writes every pending event in one enqueueWebhooks call, then tells each endpoint's loop. Never rejects. */
  private async write(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    const rows: WebhookEvent[] = [];
    const counts = new Map<Endpoint, number>();
    for (const { event, targets } of batch) {
      let body: string;
      try {
        body = serialize(event);
      } catch (err) {
        // A message body is JSON the server parsed, so this cannot happen; if it did, one event is lost, not all.
        this.opts.log.error({ err, event: event.id, type: event.type }, 'a webhook event could not be serialized and was dropped');
        continue;
      }
      for (const ep of targets) {
        rows.push({ id: `${event.id}/${ep.config.name}`, endpoint: ep.config.name, body, attempts: 0, nextAt: event.ts, createdAt: event.ts });
        counts.set(ep, (counts.get(ep) ?? 0) + 1);
      }
    }
    if (rows.length === 0) return;
    try {
      await this.opts.queue.enqueueWebhooks(rows);
    } catch (err) {
      if (this.closed) {
        this.opts.log.error({ err, events: batch.length }, 'webhook events could not be written to the store at stop and are lost');
        for (const [ep, n] of counts) ep.drops.add(n, 'storeFailed');
        return;
      }
      this.storeErrors.error({ err, events: batch.length }, 'webhook events could not be written to the store: kept in memory and tried again');
      // Kept, in order, ahead of what came meanwhile; tried again a little later.
      this.pending = batch.concat(this.pending);
      if (this.pending.length > this.opts.config.maxQueued) this.dropPending();
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null;
        this.schedule();
      }, STORE_RETRY_MS).unref();
      return;
    }
    for (const [ep, n] of counts) {
      ep.dispatcher.added(n);
      ep.dispatcher.wake();
    }
  }
}
