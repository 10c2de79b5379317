/**
 * The outbox: `publish` and `send` as the offline queue (offline-queue.ts)
 * plays them over sessions. A message goes out when a session is open and its
 * conversation is ready, waits when not, is sent again (same key) after a drop,
 * and is retried with a growing delay when the server is briefly unable to
 * store it (`unavailable`, `rate_limited`, `internal`).
 */
import { TimeoutError } from './errors.js';
import { OfflineQueue, type QueuedTarget } from './offline-queue.js';
import type { MessageOptions } from './options.js';
import type { SessionLink } from './requests.js';
import { MAX_TIMER, type Timer } from './timers.js';
import type { CommandInput, MessageAck } from './types.js';

export type OutgoingMessage = CommandInput<'publish'> | CommandInput<'send'>;

/** Sends before a message is refused for good with the server's error. */
const MAX_ATTEMPTS = 20;

export class Outbox {
  private readonly queue: OfflineQueue<OutgoingMessage, MessageAck>;
  private retryTimer: Timer | null = null;
  private flushScheduled = false;

  constructor(
    limit: number,
    private readonly session: SessionLink,
    /** Whether a conversation's messages may go out now; a later message never overtakes an earlier one held back. */
    private readonly canSend: (target: QueuedTarget) => boolean,
    /** The idempotency key of a message given none. */
    private readonly newKey: () => string,
  ) {
    this.queue = new OfflineQueue(limit);
  }

  /** Messages not yet acknowledged. */
  get size(): number {
    return this.queue.size;
  }

  /** Queues a message; resolves with its ack. Rejects with QueueFullError, the server's error, or TimeoutError (`opts.timeoutMs`). */
  add(target: QueuedTarget, cmd: OutgoingMessage, opts: MessageOptions): Promise<MessageAck> {
    const key = opts.key ?? this.newKey();
    return new Promise<MessageAck>((resolve, reject) => {
      let timer: Timer | undefined;
      try {
        this.queue.add({
          key,
          target,
          command: { ...cmd, key },
          resolve: (ack) => {
            if (timer) clearTimeout(timer);
            resolve(ack);
          },
          reject: (err) => {
            if (timer) clearTimeout(timer);
            reject(err);
          },
        });
      } catch (err) {
        reject(err as Error);
        return;
      }
      if (opts.timeoutMs !== undefined)
        timer = setTimeout(() => {
          const e = this.queue.settle(key);
          e?.reject(new TimeoutError(`${cmd.type}: not acknowledged within ${opts.timeoutMs} ms`, opts.timeoutMs!));
        }, Math.min(MAX_TIMER, opts.timeoutMs));
      // A burst of publishes in one tick is scanned and framed once.
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        queueMicrotask(() => {
          this.flushScheduled = false;
          this.flush();
        });
      }
    });
  }

  /** Sends what may go out now: call when a session opens or a conversation becomes ready. */
  flush(): void {
    if (!this.session.open()) return;
    this.cancelRetry();
    const now = Date.now();
    for (const e of this.queue.ready(now, this.canSend)) {
      const key = e.key;
      const epoch = this.session.epoch();
      try {
        const id = this.session.send(e.command as Record<string, unknown>, {
          type: e.command.type,
          onReply: (data) => {
            const entry = this.queue.settle(key);
            entry?.resolve({ ...(data as MessageAck), key });
          },
          onError: (err) => {
            const entry = this.queue.get(key);
            if (!entry) return;
            if (err.code === 'unavailable' || err.code === 'rate_limited' || err.code === 'internal') {
              if (entry.attempts < MAX_ATTEMPTS) {
                this.queue.retryLater(key, Date.now() + Math.min(10_000, 500 * entry.attempts));
                if (epoch === this.session.epoch()) this.scheduleRetry();
                return;
              }
            }
            this.queue.settle(key);
            entry.reject(err);
          },
          onLost: () => {
            // connectionLost() already put it back: it goes out again after the next connect.
          },
        });
        if (id === null) return;
        this.queue.markSent(key, id);
      } catch (err) {
        this.queue.settle(key)?.reject(err as Error);
      }
    }
    this.scheduleRetry();
  }

  /** The connection dropped: what was sent without an ack is queued again, to go out with the same key. */
  connectionLost(): void {
    this.cancelRetry();
    this.queue.requeueSent();
  }

  /** The client closed: every message still queued fails with `err`. */
  close(err: Error): void {
    this.cancelRetry();
    for (const e of this.queue.drain()) e.reject(err);
  }

  private scheduleRetry(): void {
    if (this.retryTimer || !this.session.open()) return;
    const at = this.queue.nextRetryAt(Date.now());
    if (at === undefined) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.flush();
    }, Math.max(1, at - Date.now()));
  }

  private cancelRetry(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }
}
