/**
 * The client's own liveness check. Browsers cannot see WebSocket pings, so a
 * connection whose peer vanished (a laptop lid closed, a NAT entry expired)
 * could look open for minutes: when the server has been silent for `interval`,
 * send `ping`; when it stays silent `timeout` longer, drop the connection so
 * the client reconnects.
 */
import type { ClientOptions } from './options.js';

export interface HeartbeatLink {
  /** The connection to watch, while a session is open (null: nothing to check). */
  live(): { drop(reason: string): void } | null;
  /** Sends `ping` (its `pong`, like any other line, counts as heard). */
  ping(): void;
}

export class Heartbeat {
  private timer: ReturnType<typeof setInterval> | null = null;
  private lastHeard = 0;
  private pingOut = false;

  constructor(
    private readonly options: Pick<ClientOptions, 'heartbeat'>,
    private readonly link: HeartbeatLink,
  ) {}

  /** Starts watching a new session, with the server's values unless the options override them. */
  start(server: { intervalMs: number; timeoutMs: number }): void {
    this.stop();
    const own = this.options.heartbeat;
    if (own === false) return;
    const interval = Math.max(50, (typeof own === 'object' ? own.intervalMs : undefined) ?? server.intervalMs);
    const timeout = Math.max(50, (typeof own === 'object' ? own.timeoutMs : undefined) ?? server.timeoutMs);
    this.heard();
    this.timer = setInterval(() => {
      const t = this.link.live();
      if (!t) return;
      const silent = Date.now() - this.lastHeard;
      if (silent >= interval + timeout) t.drop('heartbeat timeout: the server stopped answering');
      else if (silent >= interval && !this.pingOut) {
        this.pingOut = true;
        this.link.ping();
      }
    }, Math.max(50, Math.floor(Math.min(interval, timeout) / 2)));
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** The server said something. */
  heard(): void {
    this.lastHeard = Date.now();
    this.pingOut = false;
  }
}
