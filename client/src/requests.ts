/**
 * Requests in flight. A command sent with an id waits here for the answer
 * carrying that id (`reply`, `error` or `pong`, matched by the client); if the
 * connection drops first its owner hears `onLost` and decides whether to send
 * it again. `call` is the promise form behind `client.request()`: it also waits
 * for a session when there is none.
 */
import { ClientClosedError, ConnectionLostError, type ServerError, TimeoutError } from './errors.js';
import { MAX_TIMER, type Timer } from './timers.js';

export interface PendingRequest {
  /** The command's type, for error messages. */
  type: string;
  onReply(data: unknown): void;
  /** A ServerError, or a TimeoutError when a timeout was given. */
  onError(err: ServerError | TimeoutError): void;
  /** The connection dropped before the answer came. */
  onLost(): void;
}

/**
 * Sends a command on the current session and routes its answer to `handlers`.
 * Returns the request id, or null when there is no session (nothing was sent).
 * Throws MessageTooLargeError for a command the server would refuse.
 */
export type SendRequest = (cmd: Record<string, unknown>, handlers: PendingRequest, timeoutMs?: number) => number | null;

/** What a part that works on the session sees of it. */
export interface SessionLink {
  /** Changes whenever a session opens or the connection closes: work begun under another value belongs to a session that is gone. */
  epoch(): number;
  /** A session is open. */
  open(): boolean;
  send: SendRequest;
}

export interface RequestsLink {
  /** A session is open to send on. */
  live(): boolean;
  write(msg: Record<string, unknown>): void;
  /** close() was called: a request lost with the connection fails with ClientClosedError, not ConnectionLostError. */
  closed(): boolean;
}

interface InFlight {
  handlers: PendingRequest;
  timer?: Timer;
}

export class Requests {
  private nextId = 1;
  private readonly inFlight = new Map<number, InFlight>();
  private waiting: { send(): void; fail(e: Error): void }[] = [];

  constructor(private readonly link: RequestsLink) {}

  /** Requests waiting for their answer. */
  get size(): number {
    return this.inFlight.size;
  }

  readonly send: SendRequest = (cmd, handlers, timeoutMs) => {
    if (!this.link.live()) return null;
    const id = this.nextId++;
    this.link.write({ ...cmd, id });
    const entry: InFlight = { handlers };
    this.inFlight.set(id, entry);
    if (timeoutMs !== undefined && timeoutMs > 0 && Number.isFinite(timeoutMs))
      entry.timer = setTimeout(() => {
        if (this.inFlight.get(id) !== entry) return;
        this.inFlight.delete(id);
        handlers.onError(new TimeoutError(`no reply to ${handlers.type} within ${timeoutMs} ms`, timeoutMs));
      }, Math.min(MAX_TIMER, timeoutMs));
    return id;
  };

  /** The request an answer with this id is for, now no longer waiting; undefined when there is none (not ours, or timed out). */
  take(id: unknown): PendingRequest | undefined {
    const entry = typeof id === 'number' ? this.inFlight.get(id) : undefined;
    if (!entry) return undefined;
    this.inFlight.delete(id as number);
    if (entry.timer) clearTimeout(entry.timer);
    return entry.handlers;
  }

  /** The connection dropped: no answer will come to what is in flight. */
  loseAll(): void {
    const lost = [...this.inFlight.values()];
    this.inFlight.clear();
    for (const entry of lost) {
      if (entry.timer) clearTimeout(entry.timer);
      entry.handlers.onLost();
    }
  }

  /** A session opened: calls that waited for one go out now. */
  sendWaiting(): void {
    for (const w of this.waiting.splice(0)) w.send();
  }

  /** No session will come (closed, or stopped for good): calls that waited for one fail with `err`. */
  failWaiting(err: Error): void {
    for (const w of this.waiting.splice(0)) w.fail(err);
  }

  /**
   * Sends a command and resolves with its reply's data. Without a session it
   * waits for the next one; the timeout counts from the call. Rejects with
   * ServerError, TimeoutError, ConnectionLostError (dropped before the reply)
   * or ClientClosedError.
   */
  call(command: Record<string, unknown> & { type: string }, timeoutMs: number): Promise<unknown> {
    return new Promise<unknown>((resolve, reject) => {
      let settled = false;
      const deadline = Date.now() + timeoutMs;
      const done = (fn: () => void): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        fn();
      };
      const timer = setTimeout(
        () => done(() => reject(new TimeoutError(`no reply to ${command.type} within ${timeoutMs} ms`, timeoutMs))),
        Math.min(MAX_TIMER, timeoutMs),
      );
      const send = (): void => {
        if (settled) return;
        try {
          const id = this.send(command, {
            type: command.type,
            onReply: (data) => done(() => resolve(data)),
            onError: (err) => done(() => reject(err)),
            onLost: () => done(() => reject(this.link.closed() ? new ClientClosedError() : new ConnectionLostError())),
          });
          if (id === null) waitForSession();
        } catch (err) {
          done(() => reject(err as Error));
        }
      };
      // Not connected (or not yet connect()ed): wait for the next session, until the timeout.
      const waitForSession = (): void => {
        if (Date.now() >= deadline) return;
        this.waiting.push({ send, fail: (e) => done(() => reject(e)) });
      };
      send();
    });
  }
}
