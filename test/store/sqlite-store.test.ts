import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { emptyBatch } from '../../src/store/store.js';
import { storeSuite } from './store-suite.js';

storeSuite('SQLite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-sqlite-'));
  const file = join(dir, 'data', 'switchboard.db');
  let store = new SqliteStore({ file, synchronous: 'full' });
  await store.open();
  return {
    store,
    reopen: async () => {
      await store.close();
      store = new SqliteStore({ file, synchronous: 'full' });
      await store.open();
      return store;
    },
    cleanup: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

describe('SQLite WAL checkpoints', () => {
  it('copies committed pages into the database file from its own thread while the store stays open', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchboard-sqlite-ckpt-'));
    const file = join(dir, 'switchboard.db');
    const store = new SqliteStore({ file, synchronous: 'normal' });
    try {
      await store.open();
      const before = statSync(file).size;
      let n = 0;
      for (let b = 0; b < 20; b++) {
        const messages = Array.from({ length: 50 }, () => {
          n++;
          return { id: `m${n}`, conv: `r:room-${n % 40}`, from: 'u1', contentType: 'text', body: JSON.stringify('x'.repeat(200)), ts: n, key: null, fileId: null };
        });
        await store.commit({ ...emptyBatch(), messages });
      }
      // The writer's own automatic checkpoint is far away (a backstop): only the checkpointer grows the file.
      // There is no event to wait for, so poll the file with a deadline.
      const deadline = Date.now() + 10_000;
      while (statSync(file).size <= before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      assert.ok(statSync(file).size > before, `database file still ${statSync(file).size} bytes after commits (was ${before})`);
      const page = await store.history({ conv: 'r:room-1', after: 0, limit: 100 });
      assert.equal(page.messages.length, 25);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
