import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
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
