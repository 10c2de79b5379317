/**
 * Crash safety with the embedded SQLite store: SIGKILL in the middle of a
 * stream of publishes and DMs loses nothing that was acknowledged or
 * delivered, leaves no gap, and a resend with the same key is not stored twice.
 */
import { describe, it } from 'node:test';
import { crashScenario } from '../helpers/crash.js';
import { sqliteFlags, tempDir } from '../helpers/durable.js';

describe('crash (SQLite)', () => {
  it('keeps every acknowledged message across a SIGKILL, gap-free, with idempotent resends', async (t) => {
    await crashScenario(t, { storeFlags: sqliteFlags(tempDir(t)), total: 2000 });
  });

  it('the same with group commits split into small transactions (store.maxBatch 7)', async (t) => {
    await crashScenario(t, { storeFlags: [...sqliteFlags(tempDir(t)), '--store.maxBatch', '7'], total: 1200 });
  });
});
