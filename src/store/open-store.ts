import { resolve } from 'node:path';
import type { Config } from '../config/schema.js';
import { PostgresStore } from './postgres/postgres-store.js';
import { SqliteStore } from './sqlite/sqlite-store.js';
import type { Store } from './store.js';

/** The store the config asks for: PostgreSQL for a postgres:// URL, else the embedded SQLite file. */
export async function openStore(cfg: Config['store'], warn: (message: string) => void = () => {}): Promise<Store> {
  const store: Store = cfg.url ? new PostgresStore(cfg.url) : new SqliteStore({ file: resolve(cfg.file), synchronous: cfg.synchronous }, warn);
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
