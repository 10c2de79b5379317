/**
 * One endpoint's delivery loop. It reads the endpoint's due events from the store's queue, posts each (signed)
 * with `fetch`, at most `concurrency` at a time, and records the outcome: 2xx removes the event, anything else
 * (another status, a timeout, a network error) counts an attempt and sets when to try again (backoff.ts). Each
 * endpoint has its own loop, so a slow or dead receiver holds up only its own deliveries.
 *
 * While an endpoint fails it is tried with one delivery at a time, at most one per min(retryBaseMs, 1 s): a
 * receiver that is down costs a request and a store write a second, not one per queued event as fast as the
 * refusals come back. The first success lifts it.
 *
 * It keeps no event in memory beyond one read's worth: the store holds the queue, so what was not delivered
 * before a stop (or a crash) is delivered after the next start.
 */
import type { Logger } from 'pino';
import { LogThrottle } from '../observe/log-throttle.js';
import type { Store, WebhookEvent } from '../store/store.js';
import { retryDelay } from './backoff.js';
import type { DropLog } from './drop-log.js';
import { idAndType } from './event.js';
import { signatureHeader } from './signature.js';

/** The part of the Store the webhooks use. */
export type WebhookQueue = Pick<Store, 'enqueueWebhooks' | 'dueWebhooks' | 'deleteWebhook' | 'retryWebhook' | 'countWebhooks' | 'dropOldestWebhooks'>;

export interface EndpointTarget {
  name: string;
  url: string;
  secret: string;
  timeoutMs: number;
}

export interface DispatcherOptions {
  endpoint: EndpointTarget;
  queue: WebhookQueue;
  log: Logger;
  drops: DropLog;
  now: () => number;
  fetch: typeof fetch;
  random: () => number;
  retryBaseMs: number;
  retryMaxMs: number;
  /** Unset: never give up. */
  maxAttempts: number | undefined;
  maxQueued: number;
  /** Deliveries in flight at most. */
  concurrency: number;
  /** Due events read from the store at a time. */
  readBatch: number;
  /** A store error that repeats is logged at once, then once per this many ms with a count (default 10 s). */
  repeatIntervalMs?: number;
}

/** At most this much of an answer's body is read (and thrown away, so that the connection can be reused). */
const ANSWER_READ_LIMIT = 64 * 1024;
/** The loop looks at the store at least this often while it waits for a retry (a clock that jumped, say). */
const MAX_WAIT_MS = 60_000;
/** After a store error the loop tries again this much later. */
const STORE_RETRY_MS = 1000;

const TIMEOUT = Symbol('timeout');
const STOPPED = Symbol('stopped');

interface Delivery {
  ctl: AbortController;
  done: Promise<void>;
}

export class EndpointDispatcher {
  /** Events answered 2xx since start. */
  delivered = 0;
  /** Failed attempts since start. */
  failedAttempts = 0;
  /** About how many events the store holds for this endpoint (exact after start and after each cut). */
  queued = 0;
  private buffer: WebhookEvent[] = [];
  private readonly inFlight = new Map<string, Delivery>();
  private reading: Promise<void> | null = null;
  private again = false;
  private trimming: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Infinity;
  private started = false;
  private halted = false;
  /** The last delivery failed: one at a time, not before `notBefore`, until one succeeds. */
  private failing = false;
  private failedSince = 0;
  private notBefore = 0;
  /** Errors that repeat per event (store errors, for as long as the store is down). */
  private readonly errors: LogThrottle;

  constructor(private readonly opts: DispatcherOptions) {
    this.errors = new LogThrottle(opts.log, opts.repeatIntervalMs);
  }

  get name(): string {
    return this.opts.endpoint.name;
  }

  get deliveriesInFlight(): number {
    return this.inFlight.size;
  }

  /** Counts what the store already holds (cutting it to maxQueued), then delivers it. */
  async start(): Promise<void> {
    try {
      this.queued = await this.opts.queue.countWebhooks(this.name);
    } catch (err) {
      this.storeError(err, 'could not count the queued webhook events');
    }
    if (this.queued > this.opts.maxQueued) await this.trim();
    this.started = true;
    this.wake();
  }

  /** `n` events were queued for this endpoint. */
  added(n: number): void {
    this.queued += n;
    if (this.queued > this.opts.maxQueued) void this.trim();
  }

  /** Something may be due: events were queued, a delivery ended, or a retry's time came. */
  wake(): void {
    if (!this.started || this.halted) return;
    this.launch();
    if (this.buffer.length > 0 || this.free() === 0) return;
    if (this.reading) {
      this.again = true;
      return;
    }
    this.reading = this.read().finally(() => {
      this.reading = null;
      if (this.again) {
        this.again = false;
        this.wake();
      }
    });
  }

  /** Starts no more deliveries (the first step of a stop). */
  halt(): void {
    this.halted = true;
    this.disarm();
  }

  /**
   * Waits up to `graceMs` for the deliveries in flight, then aborts the rest: those stay queued as they were (the
   * attempt is not counted) and go after the next start.
   */
  async stop(graceMs: number): Promise<void> {
    this.halt();
    await this.reading;
    const flying = [...this.inFlight.values()];
    if (flying.length > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.all(flying.map((d) => d.done)), new Promise((resolve) => (timer = setTimeout(resolve, graceMs)))]);
      clearTimeout(timer);
      for (const d of flying) d.ctl.abort(STOPPED);
      await Promise.all(flying.map((d) => d.done));
    }
    await this.trimming;
    this.opts.drops.flush();
    this.errors.flush();
  }

  private free(): number {
    return (this.failing ? 1 : this.opts.concurrency) - this.inFlight.size;
  }

  private async read(): Promise<void> {
    const limit = this.opts.readBatch + this.inFlight.size;
    let rows: WebhookEvent[];
    try {
      // Everything, ordered by nextAt: the due ones first, then the first not yet due tells when to look again.
      rows = await this.opts.queue.dueWebhooks(this.name, Number.MAX_SAFE_INTEGER, limit);
    } catch (err) {
      this.storeError(err, 'could not read the webhook queue');
      this.arm(this.opts.now() + STORE_RETRY_MS);
      return;
    }
    if (this.halted) return;
    const now = this.opts.now();
    const fresh = rows.filter((r) => !this.inFlight.has(r.id));
    let due = 0;
    while (due < fresh.length && fresh[due]!.nextAt <= now) due++;
    this.buffer = fresh.slice(0, due);
    if (due < fresh.length) this.arm(fresh[due]!.nextAt);
    else if (rows.length === limit) this.again = true; // a full page, all due: there may be more
    this.launch();
  }

  private launch(): void {
    while (this.buffer.length > 0 && this.free() > 0 && !this.halted) {
      if (this.failing && this.opts.now() < this.notBefore) {
        this.arm(this.notBefore);
        return;
      }
      const ev = this.buffer.shift()!;
      if (this.inFlight.has(ev.id)) continue;
      const ctl = new AbortController();
      const done = this.deliver(ev, ctl).catch((err: unknown) => this.errors.error({ err, endpoint: this.name }, 'webhook delivery failed unexpectedly'));
      this.inFlight.set(ev.id, { ctl, done });
      void done.then(() => {
        this.inFlight.delete(ev.id);
        this.wake();
      });
    }
  }

  private async deliver(ev: WebhookEvent, ctl: AbortController): Promise<void> {
    const { url, secret, timeoutMs } = this.opts.endpoint;
    const { id, type } = idAndType(ev.body);
    const timer = setTimeout(() => ctl.abort(TIMEOUT), timeoutMs);
    let failure: string | null = null;
    try {
      const res = await this.opts.fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'Switchboard-Webhooks',
          'switchboard-event-id': id,
          'switchboard-event-type': type,
          'switchboard-signature': signatureHeader(secret, ev.body, this.opts.now()),
        },
        body: ev.body,
        signal: ctl.signal,
        // A redirect is not followed (the signature is for this URL's receiver): it is not a 2xx, so it is retried.
        redirect: 'manual',
      });
      await discard(res);
      if (res.status < 200 || res.status > 299) failure = `HTTP ${res.status}`;
    } catch (err) {
      failure = ctl.signal.reason === TIMEOUT ? `no answer within ${timeoutMs} ms` : describe(err);
    } finally {
      clearTimeout(timer);
    }
    // Aborted by a stop: not the receiver's fault, and the store is about to close. It stays queued as it was.
    if (ctl.signal.reason === STOPPED) return;
    const { queue, log } = this.opts;
    if (failure === null) {
      this.delivered++;
      if (this.failing) {
        this.failing = false;
        log.info({ endpoint: this.name, failedForMs: this.opts.now() - this.failedSince }, 'webhook endpoint answers 2xx again');
      }
      this.queued = Math.max(0, this.queued - 1);
      await queue.deleteWebhook(ev.id).catch((err: unknown) => this.storeError(err, 'could not remove a delivered webhook event (it will be sent again)'));
      return;
    }
    this.failedAttempts++;
    const now = this.opts.now();
    const attempts = ev.attempts + 1;
    if (!this.failing) {
      this.failing = true;
      this.failedSince = now;
      log.warn(
        { endpoint: this.name, url: safeUrl(url), event: id, attempts, error: failure },
        'webhook delivery failed: retrying with backoff, one delivery at a time until the endpoint answers 2xx',
      );
    } else {
      log.debug({ endpoint: this.name, event: id, attempts, error: failure }, 'webhook delivery failed');
    }
    this.notBefore = now + Math.min(this.opts.retryBaseMs, 1000);
    const { maxAttempts } = this.opts;
    if (maxAttempts !== undefined && attempts >= maxAttempts) {
      this.queued = Math.max(0, this.queued - 1);
      this.opts.drops.add(1, 'maxAttempts');
      await queue.deleteWebhook(ev.id).catch((err: unknown) => this.storeError(err, 'could not remove a webhook event given up'));
      return;
    }
    const nextAt = now + retryDelay(attempts, this.opts.retryBaseMs, this.opts.retryMaxMs, this.opts.random);
    await queue.retryWebhook(ev.id, attempts, nextAt).catch((err: unknown) => this.storeError(err, 'could not record a failed webhook attempt'));
  }

  /** Cuts the store's queue back to maxQueued, oldest first; the count is exact afterwards. One cut at a time. */
  private trim(): Promise<void> {
    return (this.trimming ??= (async () => {
      try {
        const dropped = await this.opts.queue.dropOldestWebhooks(this.name, this.opts.maxQueued);
        this.queued = await this.opts.queue.countWebhooks(this.name);
        this.opts.drops.add(dropped, 'queueFull');
      } catch (err) {
        this.storeError(err, 'could not cut the webhook queue back to webhooks.maxQueued');
      } finally {
        this.trimming = null;
      }
    })());
  }

  private arm(at: number): void {
    if (this.halted) return;
    if (this.timer && this.timerAt <= at) return;
    this.disarm();
    this.timerAt = at;
    const wait = Math.min(Math.max(at - this.opts.now(), 0), MAX_WAIT_MS);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.timerAt = Infinity;
      this.wake();
    }, wait).unref();
  }

  private disarm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = Infinity;
  }

  private storeError(err: unknown, message: string): void {
    this.errors.error({ err, endpoint: this.name }, message);
  }
}

/** Reads what the receiver answered (up to a limit) and throws it away, so that its connection can be reused. */
async function discard(res: Response): Promise<void> {
  if (!res.body) return;
  const reader = res.body.getReader();
  let read = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      read += value.byteLength;
      if (read > ANSWER_READ_LIMIT) {
        await reader.cancel();
        return;
      }
    }
  } catch {
    // The status is what counts; a body cut short (the timeout, say) changes nothing.
  }
}

/** The URL for a log line: without a password or a query, either of which may hold a credential. */
function safeUrl(url: string): string {
  const u = new URL(url);
  return `${u.protocol}//${u.host}${u.pathname}`;
}

function describe(err: unknown): string {
  const e = err as { message?: string; cause?: { code?: string; message?: string } };
  return e.cause?.code ?? e.cause?.message ?? e.message ?? String(err);
}
