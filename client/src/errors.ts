/**
 * Typed errors. Every error the SDK rejects a promise with, or emits as an
 * `error` event, is a {@link SwitchboardError}; switch on `instanceof` or on
 * `code`.
 */
import type { ErrorCode } from '../../src/protocol/codes.js';

export class SwitchboardError extends Error {
  constructor(
    /** A stable, machine-readable code. Server error codes (docs/protocol.md §6) keep their names. */
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** The server answered a request with `{"type":"error"}`. */
export class ServerError extends SwitchboardError {
  declare readonly code: ErrorCode;
  constructor(
    code: ErrorCode,
    message: string,
    /** The command type of the failed request, when known. */
    readonly command?: string,
  ) {
    super(code, message);
  }

  /** True for errors where sending the same request again later may succeed. */
  get retryable(): boolean {
    return this.code === 'unavailable' || this.code === 'rate_limited' || this.code === 'internal';
  }
}

/** No reply within the request's timeout. */
export class TimeoutError extends SwitchboardError {
  constructor(
    message: string,
    readonly timeoutMs: number,
  ) {
    super('timeout', message);
  }
}

/**
 * The connection dropped before the reply came: the request may or may not
 * have been carried out. (Publish and send are never rejected this way: they
 * are resent with their idempotency key.)
 */
export class ConnectionLostError extends SwitchboardError {
  constructor(message = 'the connection was lost before the reply came') {
    super('connection_lost', message);
  }
}

/** The request needs a live connection (e.g. call signaling) and there is none. */
export class NotConnectedError extends SwitchboardError {
  constructor(message = 'not connected') {
    super('not_connected', message);
  }
}

/** The client was closed with `close()`: nothing more will be sent. */
export class ClientClosedError extends SwitchboardError {
  constructor(message = 'the client is closed') {
    super('client_closed', message);
  }
}

/** The server closed the connection with a code that says not to reconnect (docs/protocol.md §7). */
export class CloseError extends SwitchboardError {
  constructor(
    readonly closeCode: number,
    readonly reason: string,
    message = `connection closed by the server: ${closeCode}${reason ? ` ${reason}` : ''}`,
    code = 'closed',
  ) {
    super(code, message);
  }
}

/** The credentials were refused (4001) or expired (4002) and no new token could be had. */
export class AuthError extends CloseError {
  constructor(closeCode: number, reason: string, message?: string) {
    super(closeCode, reason, message ?? `authentication failed (${closeCode}${reason ? ` ${reason}` : ''})`, 'auth_failed');
  }
}

/** The offline queue is full (`maxQueue`): the message was not accepted. */
export class QueueFullError extends SwitchboardError {
  constructor(readonly limit: number) {
    super('queue_full', `the offline queue holds at most ${limit} messages`);
  }
}

/** A single message would exceed the server's `limits.maxFrameBytes` (the server would close the connection with 1009). */
export class MessageTooLargeError extends SwitchboardError {
  constructor(
    readonly bytes: number,
    readonly limit: number,
  ) {
    super('message_too_large', `message of ${bytes} bytes exceeds the frame limit of ${limit} bytes`);
  }
}

/** An HTTP upload failed. `code` is the server's `error` field (`too_large`, `unsupported_type`, …) or `http_<status>`. */
export class UploadError extends SwitchboardError {
  constructor(
    code: string,
    message: string,
    readonly status: number,
  ) {
    super(code, message);
  }
}
