import { resolve } from 'node:path';
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
  await store.open();
  return store;
}

/** Where the store is, for logs: never the password. */
export function describeStore(cfg: Config['store']): string {
  if (!cfg.url) return `sqlite:${resolve(cfg.file)}`;
  const u = new URL(cfg.url);
  u.password = '';
  return u.toString();
}
