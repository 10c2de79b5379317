/**
 * What stands between a broker and the node's handlers, the same for every implementation: nothing reaches them
 * after `stop()` (the library may still be emitting while its sockets close), `state` is told only on a change
 * and never before `start()` has resolved (its outcome says that much), and a handler that throws costs a warning,
 * not the broker's connection: the libraries call us from inside their socket parsers.
 */
import type { BrokerHandlers } from './broker.js';

export class HandlerGate {
  private handlers: BrokerHandlers | null = null;
  private live = false;
  /** What the node was last told; a resolved `start()` counts as up. */
  private told = true;

  /** From the beginning of `start()`: messages and warnings pass, state changes wait for `started()`. */
  open(handlers: BrokerHandlers): void {
    this.handlers = handlers;
  }

  /** `start()` resolves now, connected. */
  started(): void {
    this.live = true;
    this.told = true;
  }

  /** `stop()` or a failed `start()`: the handlers hear nothing more. */
  close(): void {
    this.handlers = null;
  }

  get closed(): boolean {
    return this.handlers === null;
  }

  state(up: boolean): void {
    if (!this.live || up === this.told) return;
    this.told = up;
    this.call((h) => h.state(up));
  }

  message(channel: string, payload: Buffer): void {
    this.call((h) => h.message(channel, payload));
  }

  warn(message: string, err?: unknown): void {
    try {
      this.handlers?.warn?.(message, err);
    } catch {
      // a logger that throws has nobody left to tell
    }
  }

  private call(fn: (h: BrokerHandlers) => void): void {
    const h = this.handlers;
    if (!h) return;
    try {
      fn(h);
    } catch (err) {
      this.warn('a broker handler threw', err);
    }
  }
}

/** Prefixes are one token on every engine (no `:` or `.`), so that two of them can never overlap. */
export function checkPrefix(prefix: string): string {
  if (!/^[A-Za-z0-9_-]{1,32}$/.test(prefix)) throw new Error(`broker prefix must be 1-32 characters of A-Z a-z 0-9 _ -, not ${JSON.stringify(prefix)}`);
  return prefix;
}

/** Host and port of a broker URL, for messages: never its credentials. */
export function where(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return '(unparsable URL)';
  }
}

/** An error in a few words. Node's failed connection to several addresses (an AggregateError) has no message of its own. */
export function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  if (err.message) return err.message;
  if (err instanceof AggregateError && err.errors.length > 0) return errorText(err.errors[0]);
  const { code } = err as { code?: unknown };
  return typeof code === 'string' ? code : err.name;
}
