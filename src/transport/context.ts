import type { Logger } from 'pino';
import type { Authenticator } from '../auth/authenticator.js';
import type { Config } from '../config/schema.js';
import type { CommandCounters, PipelineDeps } from '../commands/pipeline.js';
import type { Hub } from '../hub/hub.js';
import type { Codec } from '../protocol/codec.js';
import type { Flusher } from '../outbound/flusher.js';
import type { LogThrottle } from '../observe/log-throttle.js';
import type { TimerWheel } from './heartbeat.js';
import type { HubSession } from '../hub/session.js';
import type { SlowCloseLog } from './slow-close-log.js';

/** What every connection shares: built once by the gateway. */
export interface GatewayContext {
  readonly config: Config;
  readonly hub: Hub;
  readonly flusher: Flusher;
  readonly wheel: TimerWheel;
  readonly auth: Authenticator;
  readonly log: Logger;
  /** The `connected` push for a session of this server, in its codec (Codec.connectedEncoder, made once per codec). */
  readonly encodeConnected: (codec: Codec, session: string, user: string) => Buffer;
  /** The welcome notice's text for a user (`welcome.text` with `{user}` replaced), or null when it is off. */
  readonly welcomeText: ((user: string) => string) | null;
  /** The `unread` summary of a user who belongs to no conversation, in a codec: encoded once per codec. */
  readonly encodeNoUnread: (codec: Codec) => Buffer;
  /** What every connection's command pipeline shares. */
  readonly commands: PipelineDeps;
  /** Slow-consumer closes, logged without flooding. */
  readonly slowCloses: SlowCloseLog;
  /** Errors that can repeat per connection or command (a store that is down fails each): logged once per interval with a count. */
  readonly repeats: LogThrottle;
  /** What the connections count for the metrics and the admin stats (plain additions; read when asked). */
  readonly tallies: ConnectionTallies;
  now(): number;
  /** The connection has fully closed; drop it from the gateway's set. */
  forget(c: HubSession): void;
  /** A connection that was waiting for its `auth` message stopped waiting (identified, or closed). */
  identifiedOrGone(): void;
}

export interface ConnectionTallies {
  /** Connections the server closed (or refused), by close code: a small fixed set of codes. */
  readonly closes: Map<number, number>;
  /** Sessions opened since start, by how they authenticated. */
  readonly opened: { token: number; dev: number };
}

/** What the gateway is given; it builds the rest of the context. */
export type GatewayOptions = Omit<
  GatewayContext,
  'forget' | 'identifiedOrGone' | 'slowCloses' | 'encodeConnected' | 'welcomeText' | 'encodeNoUnread' | 'commands' | 'tallies' | 'repeats'
> & {
  /** The command pipelines' counters (metrics). */
  commandCounters?: CommandCounters;
};
