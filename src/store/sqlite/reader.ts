/**
 * A read-only connection in the event loop's own thread, for the small indexed reads that sessions wait on (a
 * recovering join's page, the unread summary's memberships, a history page). Through the writer thread each cost
 * a round trip: about 100 µs of CPU in postMessage, cloning and waking two threads, against 15 µs for the query
 * itself — in a reconnect storm, most of a session's set-up. WAL lets it read beside the writer's commits.
 *
 * It never waits: when SQLite answers busy (the WAL being started over, briefly), the read goes to the writer
 * thread instead, as every read did before.
 */
import Database from 'better-sqlite3';
import { readQueries, type ReadQueries } from './reads.js';

export class Reader {
  private readonly db: Database.Database;
  readonly reads: ReadQueries;

  constructor(file: string, cacheMiB: number) {
    this.db = new Database(file, { readonly: true, fileMustExist: true });
    this.db.pragma('busy_timeout = 0');
    this.db.pragma(`cache_size = -${cacheMiB * 1024}`);
    this.reads = readQueries(this.db);
  }

  /** `read` on this connection, or `fallback` when SQLite is busy; other errors reject. */
  run<T>(read: (q: ReadQueries) => T, fallback: () => Promise<T>): Promise<T> {
    try {
      return Promise.resolve(read(this.reads));
    } catch (err) {
      if (isBusy(err)) return fallback();
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  close(): void {
    this.db.close();
  }
}

function isBusy(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'));
}
