import type { Logger } from 'pino';
import type { Authenticator } from '../auth/authenticator.js';
import type { Config } from '../config/schema.js';
import type { Hub } from '../hub/hub.js';
import type { Flusher } from '../outbound/flusher.js';
import type { TimerWheel } from './heartbeat.js';
import type { Connection } from './connection.js';
import type { SlowCloseLog } from './slow-close-log.js';

/** What every connection shares: built once by the gateway. */
export interface GatewayContext {
  readonly config: Config;
  readonly hub: Hub;
  readonly flusher: Flusher;
  readonly wheel: TimerWheel;
  readonly auth: Authenticator;
  readonly log: Logger;
  /** The `connected` push for a session of this server (protocol/codec.ts connectedEncoder). */
  readonly encodeConnected: (session: string, user: string) => Buffer;
  /** Slow-consumer closes, logged without flooding. */
  readonly slowCloses: SlowCloseLog;
  now(): number;
  /** The connection has fully closed; drop it from the gateway's set. */
  forget(c: Connection): void;
  /** A connection that was waiting for its `auth` message stopped waiting (identified, or closed). */
  identifiedOrGone(): void;
}
