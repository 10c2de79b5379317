/**
 * Slow-consumer closes (4005) as an operator sees them. An overload can close
 * thousands of sessions within a second, so the first close of a burst is
 * logged at once with its details, and the rest are counted and summed into
 * one line per interval for as long as they keep coming: nothing is left out,
 * and the log does not flood.
 */
import type { Logger } from 'pino';

export interface SlowClose {
  session: string;
  user: string;
  /** Bytes already in the socket, not yet taken by the OS (the close frame follows these). */
  unsentBytes: number;
  /** Messages and bytes the outbox still held and dropped instead of sending. */
  droppedMessages: number;
  droppedBytes: number;
}

/** How many of the latest slow-consumer closes the stats show (`recent`). */
export const RECENT_SLOW_CLOSES = 20;

export class SlowCloseLog {
  /** Every slow-consumer close since start. */
  total = 0;
  /** The latest RECENT_SLOW_CLOSES, oldest first, with when they happened (ms): the admin stats show them. */
  readonly recent: (SlowClose & { ts: number })[] = [];
  private timer: NodeJS.Timeout | null = null;
  private closes = 0;
  private unsentBytes = 0;
  private droppedMessages = 0;
  private droppedBytes = 0;

  constructor(
    private readonly log: Logger,
    private readonly intervalMs = 1000,
    private readonly now: () => number = Date.now,
  ) {}

  record(c: SlowClose): void {
    this.total++;
    if (this.recent.length === RECENT_SLOW_CLOSES) this.recent.shift();
    this.recent.push({ ts: this.now(), ...c });
    if (this.timer === null) {
      this.log.warn(c, 'slow consumer: session closed (4005)');
      this.startInterval();
      return;
    }
    this.closes++;
    this.unsentBytes += c.unsentBytes;
    this.droppedMessages += c.droppedMessages;
    this.droppedBytes += c.droppedBytes;
  }

  /** Logs what was counted since the last line (at the end of each interval, and at shutdown). */
  flush(): void {
    if (this.closes === 0) return;
    this.log.warn(
      {
        closes: this.closes,
        unsentBytes: this.unsentBytes,
        droppedMessages: this.droppedMessages,
        droppedBytes: this.droppedBytes,
        intervalMs: this.intervalMs,
      },
      `slow consumer: ${this.closes} more session${this.closes === 1 ? '' : 's'} closed (4005)`,
    );
    this.closes = this.unsentBytes = this.droppedMessages = this.droppedBytes = 0;
  }

  private startInterval(): void {
    this.timer = setTimeout(this.endInterval, this.intervalMs);
    this.timer.unref();
  }

  private readonly endInterval = (): void => {
    this.timer = null;
    if (this.closes === 0) return;
    // Still coming: one summary line now, and the next interval counts too.
    this.flush();
    this.startInterval();
  };
}
