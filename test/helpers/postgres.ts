/**
 * A PostgreSQL database of the tests' own on the shared server (127.0.0.1:5432,
 * or SWITCHBOARD_TEST_PG_URL). Under CI=true a missing server fails the tests;
 * elsewhere they are skipped with a message saying why.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

const ADMIN_URL = process.env['SWITCHBOARD_TEST_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

/**
 * Creates a fresh database; returns null (after explaining) when PostgreSQL is unreachable outside CI.
 * `icuLocale`: text compares by that language's rules (ICU) instead of the server's default.
 */
export async function createTestDatabase(opts: { icuLocale?: string } = {}): Promise<TestDatabase | null> {
  const admin = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 3000 });
  try {
    await admin.connect();
  } catch (e) {
    const msg = `PostgreSQL not reachable at ${ADMIN_URL}: ${(e as Error).message}`;
    if (process.env['CI'] === 'true') throw new Error(`${msg} (CI=true: PostgreSQL tests must run)`);
    console.warn(`skipping PostgreSQL tests: ${msg}`);
    return null;
  }
  const name = `switchboard_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  const collation = opts.icuLocale ? ` TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE '${opts.icuLocale}' LOCALE 'C.UTF-8'` : '';
  await admin.query(`CREATE DATABASE ${name}${collation}`);
  await admin.end();
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: ADMIN_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}
