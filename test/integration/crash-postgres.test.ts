/**
 * Crash safety with the PostgreSQL store: the same scenario as the SQLite
 * crash test, against a database of its own (dropped afterwards). Skipped
 * outside CI when no PostgreSQL server is reachable.
 */
import { describe, it } from 'node:test';
import { crashScenario } from '../helpers/crash.js';
import { tempDir } from '../helpers/durable.js';
import { createTestDatabase } from '../helpers/postgres.js';
import { join } from 'node:path';

describe('crash (PostgreSQL)', () => {
  it('keeps every acknowledged message across a SIGKILL, gap-free, with idempotent resends', async (t) => {
    const db = await createTestDatabase();
    if (!db) return t.skip('PostgreSQL is not reachable');
    // After-hooks run in registration order: on success the servers have stopped by then; after a failure
    // DROP … WITH (FORCE) cuts off a server still connected (the server's own after-hook then kills it).
    t.after(() => db.drop());
    const dir = tempDir(t);
    await crashScenario(t, { storeFlags: ['--store.url', db.url, '--uploads.dir', join(dir, 'uploads')], total: 2000 });
  });
});
