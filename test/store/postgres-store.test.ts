import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { createTestDatabase } from '../helpers/postgres.js';
import { storeSuite } from './store-suite.js';

storeSuite('PostgreSQL', async () => {
  const db = await createTestDatabase();
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
