/**
 * One PostgreSQL connection, used by one call at a time in the order the
 * calls were made. Connected on first use; a dropped connection is replaced
 * on the next call (the calls in flight fail and are reported to their
 * callers).
 */
import pg from 'pg';

export class SerialConnection {
  private client: pg.Client | null = null;
  private tail: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly url: string,
    /** Session settings for the connection, e.g. `statement_timeout`. */
    private readonly settings: Pick<pg.ClientConfig, 'statement_timeout' | 'lock_timeout'> = {},
  ) {}

  /** Runs `op` after every earlier call has finished, on a live connection. */
  run<T>(op: (c: pg.Client) => Promise<T>): Promise<T> {
    const run = this.tail.then(
      async () => op(await this.connection()),
      async () => op(await this.connection()),
    );
    this.tail = run.catch(() => {});
    return run;
  }

  /** Waits for the calls made so far, then closes the connection. A call made after this would open a new one. */
  async close(): Promise<void> {
    await this.tail.catch(() => {});
    const c = this.client;
    this.client = null;
    await c?.end();
  }

  private async connection(): Promise<pg.Client> {
    if (this.client) return this.client;
    const c = new pg.Client({ connectionString: this.url, ...this.settings });
    c.on('error', () => {
      if (this.client === c) this.client = null;
    });
    await c.connect();
    this.client = c;
    return c;
  }
}
