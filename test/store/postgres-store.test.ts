import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { retentionPass } from '../../src/store/retention.js';
import { emptyBatch } from '../../src/store/store.js';
import { createTestDatabase } from '../helpers/postgres.js';
import { storeSuite } from './store-suite.js';

storeSuite('PostgreSQL', async (purpose) => {
  const db = await createTestDatabase(purpose === 'retention' ? { icuLocale: 'en-US' } : {});
  if (!db) return null;
  let store = new PostgresStore(db.url);
  await store.open();
  return {
    store,
    reopen: async () => {
      await store.close();
      store = new PostgresStore(db.url);
      await store.open();
      return store;
    },
    cleanup: async () => {
      await store.close();
      await db.drop();
    },
  };
});

describe('PostgreSQL retention on several nodes', () => {
  it('lets two nodes trim the same database at once without a deadlock', async (t) => {
    const db = await createTestDatabase();
    if (!db) return t.skip('PostgreSQL unavailable');
    const [a, b] = [new PostgresStore(db.url), new PostgresStore(db.url)];
    try {
      await a.open();
      await b.open();
      // One node trims by age while the other trims by count and by age: without turns, their deletes lock
      // overlapping rows in different orders (seen: one deadlock in 15 such rounds).
      let removed = 0;
      for (let round = 0; round < 15; round++) {
        const messages = [];
        for (let c = 0; c < 300; c++)
          for (let i = 0; i < 20; i++) messages.push({ id: `m${round}-${c}-${i}`, conv: `r:c${c}`, from: 'u', contentType: 'text', body: '"x"', ts: round * 100 + i, key: null, fileId: null });
        await a.commit({ ...emptyBatch(), messages });
        const now = round * 100 + 15;
        const passes = await Promise.all([retentionPass(a, { maxAgeMs: 10 }, now, 50), retentionPass(b, { maxCount: 5 }, now, 50), retentionPass(b, { maxAgeMs: 5 }, now, 50)]);
        removed += passes.reduce((x, y) => x + y, 0);
      }
      assert.equal(removed, 15 * 300 * 20 - 300 * 5, 'every conversation keeps its last 5');
    } finally {
      await a.close();
      await b.close();
      await db.drop();
    }
  });
});

describe('PostgreSQL uploads being shared', () => {
  it('does not take an upload that a commit under way is sharing for unused', async (t) => {
    const db = await createTestDatabase();
    if (!db) return t.skip('PostgreSQL unavailable');
    const store = new PostgresStore(db.url);
    const commit = new pg.Client({ connectionString: db.url });
    try {
      await store.open();
      await commit.connect();
      await store.addUpload({ id: 'f1', owner: 'u1', name: 'a.png', mime: 'image/png', size: 1, ts: 10 });
      // What a commit that shares f1 holds from its check of the upload until it ends.
      await commit.query('BEGIN');
      await commit.query("SELECT 1 FROM uploads WHERE id = 'f1' FOR SHARE");
      const step = store.trimUploads(1_000, 10);
      const first = await Promise.race([step, sleep(5_000).then(() => 'still waiting for the commit' as const)]);
      assert.deepEqual(first, { removed: [], more: false }, 'skipped, without waiting');
      await commit.query("INSERT INTO upload_links (file, conv, last_seq) VALUES ('f1', 'r:x', 1)");
      await commit.query('COMMIT');
      await step;
      assert.deepEqual(await store.trimUploads(1_000, 10), { removed: [], more: false }, 'in use now');
      assert.notEqual(await store.getUpload('f1'), null);
    } finally {
      await commit.end();
      await store.close();
      await db.drop();
    }
  });
});
