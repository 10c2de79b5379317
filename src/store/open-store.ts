import { resolve } from 'node:path';
import { ConfigError } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { SqliteStore } from './sqlite/sqlite-store.js';
import type { Store } from './store.js';

/** The store the config asks for: PostgreSQL for a postgres:// URL, else the embedded SQLite file. */
export async function openStore(
  cfg: Config['store'],
  warn: (message: string) => void = () => {},
  /** The store stopped working for good (the embedded store's writer thread ended). PostgreSQL reconnects instead. */
  lost: (err: Error) => void = () => {},
): Promise<Store> {
  // pg is loaded only for PostgreSQL: with the embedded store it would only cost start-up time and memory.
  const store: Store = cfg.url
    ? new (await import('./postgres/postgres-store.js')).PostgresStore(cfg.url)
    : new SqliteStore({ file: resolve(cfg.file), synchronous: cfg.synchronous, cacheMiB: cfg.cacheMiB }, warn, lost);
  try {
    await store.open();
  } catch (err) {
    // A refusal that already says what to do (another process holds the SQLite file: sqlite/file-lock.ts).
    if (err instanceof ConfigError) throw err;
    // The driver's message ("unable to open database file", "connect ECONNREFUSED") does not say which setting.
    const message = `cannot open the store ${describeStore(cfg)} (${cfg.url ? 'store.url' : 'store.file'}): ${(err as Error).message}`;
    throw new Error(message, { cause: err });
  }
  return store;
}

/** Where the store is, for logs: never the password. */
export function describeStore(cfg: Config['store']): string {
  if (!cfg.url) return `sqlite:${resolve(cfg.file)}`;
  const u = new URL(cfg.url);
  u.password = '';
  return u.toString();
}
