import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { SQLITE_MIGRATIONS } from '../../src/store/sqlite/schema.js';
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

/** The WAL header's salt: SQLite draws a new one each time the WAL starts over from its beginning. */
function walSalt(file: string): string {
  const fd = openSync(`${file}-wal`, 'r');
  try {
    const header = Buffer.alloc(32);
    readSync(fd, header, 0, 32, 0);
    return header.subarray(16, 24).toString('hex');
  } finally {
    closeSync(fd);
  }
}

/**
 * A store in a folder of its own, removed after `fn`. synchronous=normal: these tests are about the WAL, not
 * about syncs. The writer's own backstop checkpoint is moved out of reach, so that what the tests see is the
 * checkpointer's work alone.
 */
async function withStore(fn: (store: SqliteStore, file: string) => Promise<void>, walSizeLimitBytes?: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-sqlite-wal-'));
  const file = join(dir, 'switchboard.db');
  const store = new SqliteStore({ file, synchronous: 'normal', backstopPages: 1e9, walSizeLimitBytes });
  try {
    await store.open();
    await fn(store, file);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('SQLite WAL checkpoints', () => {
  it('starts the WAL over again and again under sustained commits (it would otherwise grow without end)', async () => {
    await withStore(async (store, file) => {
      const salts = new Set<string>();
      let n = 0;
      // Commits always queued, as under steady load, so that the writer is hardly ever idle: a restart needs
      // every frame copied when a commit begins (checkpointer.ts). Rounds are 500 ms apart; three restarts are
      // asked for, with a generous deadline.
      const batch = () => {
        const messages = Array.from({ length: 20 }, () => {
          n++;
          return { id: `m${n}`, conv: `r:room-${n % 2}`, from: 'u1', contentType: 'text', body: JSON.stringify('x'.repeat(100)), ts: n, key: null, fileId: null };
        });
        return store.commit({ ...emptyBatch(), messages });
      };
      const deadline = Date.now() + 20_000;
      const inFlight = [batch(), batch(), batch()];
      while (salts.size < 4 && Date.now() < deadline) {
        inFlight.push(batch());
        await inFlight.shift();
        salts.add(walSalt(file));
      }
      await Promise.all(inFlight);
      assert.ok(salts.size >= 4, `the WAL started over ${salts.size - 1} times in 20 s of commits (${n} messages)`);
      const page = await store.history({ conv: 'r:room-1', before: n + 1, limit: 1 });
      assert.equal(page.messages.length, 1, 'what was written before the restarts is still there');
    });
  });

  it('cuts the -wal file back to its size limit when the WAL starts over after a burst', async () => {
    const limit = 256 * 1024;
    await withStore(async (store, file) => {
      let n = 0;
      const commit = (count: number, bodyLength: number) =>
        store.commit({
          ...emptyBatch(),
          messages: Array.from({ length: count }, () => {
            n++;
            return { id: `m${n}`, conv: `r:room-${n % 2}`, from: 'u1', contentType: 'text', body: JSON.stringify('x'.repeat(bodyLength)), ts: n, key: null, fileId: null };
          }),
        });
      await commit(2_000, 1_000);
      const peak = statSync(`${file}-wal`).size;
      assert.ok(peak > 4 * limit, `the burst made a WAL of ${peak} bytes`);
      const salt = walSalt(file);
      // Small commits, one at a time, until the WAL has started over; no event tells when, hence the deadline.
      const deadline = Date.now() + 10_000;
      while (walSalt(file) === salt && Date.now() < deadline) await commit(1, 10);
      assert.notEqual(walSalt(file), salt, 'the WAL started over');
      assert.ok(statSync(`${file}-wal`).size <= limit, `-wal file ${statSync(`${file}-wal`).size} bytes after the restart (peak ${peak})`);
    }, limit);
  });

  it('copies committed pages into the database file from its own thread while the store stays open', async () => {
    await withStore(async (store, file) => {
      const before = statSync(file).size;
      let n = 0;
      for (let b = 0; b < 20; b++) {
        const messages = Array.from({ length: 50 }, () => {
          n++;
          return { id: `m${n}`, conv: `r:room-${n % 40}`, from: 'u1', contentType: 'text', body: JSON.stringify('x'.repeat(200)), ts: n, key: null, fileId: null };
        });
        await store.commit({ ...emptyBatch(), messages });
      }
      // The writer's own backstop is out of reach (withStore): the file grows only by the checkpoints the
      // checkpointer drives.
      // There is no event to wait for, so poll the file with a deadline.
      const deadline = Date.now() + 10_000;
      while (statSync(file).size <= before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      assert.ok(statSync(file).size > before, `database file still ${statSync(file).size} bytes after commits (was ${before})`);
      const page = await store.history({ conv: 'r:room-1', after: 0, limit: 100 });
      assert.equal(page.messages.length, 25);
    });
  });
});

describe('SQLite writer thread', () => {
  it('reports its end once: what was in flight and what comes after fails, acknowledged commits stay stored', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchboard-sqlite-lost-'));
    const file = join(dir, 'switchboard.db');
    const losses: Error[] = [];
    const message = (n: number) => ({ id: `m${n}`, conv: 'r:general', from: 'u1', contentType: 'text', body: '"hi"', ts: n, key: null, fileId: null });
    let store = new SqliteStore({ file, synchronous: 'full', exitAfterCommits: 1 }, () => {}, (err) => losses.push(err));
    try {
      await store.open();
      const [first] = await store.commit({ ...emptyBatch(), messages: [message(1)] });
      assert.equal(first!.seq, 1);
      // The loss is reported as the calls in flight are failed, before their rejections are seen.
      await assert.rejects(store.commit({ ...emptyBatch(), messages: [message(2)] }), /SQLite writer thread exited with code 70/);
      await assert.rejects(store.lastSeq('r:general'), /not open/);
      assert.equal(losses.length, 1);
      assert.match(losses[0]!.message, /SQLite writer thread exited/);
      await store.close();
      // What was acknowledged before the end is there after a restart.
      store = new SqliteStore({ file, synchronous: 'full' });
      await store.open();
      assert.equal(await store.lastSeq('r:general'), 1);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('does not report a loss when it is closed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchboard-sqlite-lost-'));
    const losses: Error[] = [];
    const store = new SqliteStore({ file: join(dir, 'switchboard.db'), synchronous: 'full' }, () => {}, (err) => losses.push(err));
    await store.open();
    await store.close();
    assert.deepEqual(losses, []);
    rmSync(dir, { recursive: true, force: true });
  });
});

/**
 * A database file as a server that had run the first `version` migrations left it (`fill` adds its rows), and
 * a store on it, not yet opened: `run` opens it.
 */
async function withOldDatabase(version: number, fill: (db: Database.Database) => void, run: (store: SqliteStore) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-sqlite-migrate-'));
  const file = join(dir, 'switchboard.db');
  const old = new Database(file);
  for (const m of SQLITE_MIGRATIONS.slice(0, version)) old.exec(m);
  old.pragma(`user_version = ${version}`);
  fill(old);
  old.close();
  const store = new SqliteStore({ file, synchronous: 'full' });
  try {
    await run(store);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('SQLite migrations', () => {
  it('a database from before the key index change keeps its keys: a resend is still recognised', async () => {
    // The first schema, with one keyed message, as a server of that version left it.
    const fill = (old: Database.Database): void => {
      old.prepare("INSERT INTO conversations (id, last_seq) VALUES ('r:general', 1)").run();
      old.prepare("INSERT INTO messages VALUES ('r:general', 1, 'm1', 'ann', 'text', '\"hi\"', 1000, 'k-1')").run();
    };
    await withOldDatabase(1, fill, async (store) => {
      await store.open();
      const resend = { id: 'm2', conv: 'r:general', from: 'ann', contentType: 'text', body: '"hi"', ts: 2000, key: 'k-1', fileId: null };
      const otherSender = { ...resend, id: 'm3', from: 'bob' };
      const [dup, fresh] = await store.commit({ ...emptyBatch(), messages: [resend, otherSender] });
      assert.deepEqual(dup, { seq: 1, id: 'm1', ts: 1000, duplicate: true });
      assert.deepEqual(fresh, { seq: 2, id: 'm3', ts: 2000, duplicate: false }, 'a key is the sender’s own: the same key from someone else is a new message');
    });
  });

  it('a database from before links remembered their last message keeps a shared file until everything stored then is gone', async () => {
    const fill = (old: Database.Database): void => {
      old.prepare("INSERT INTO conversations (id, last_seq) VALUES ('r:pics', 3)").run();
      for (const seq of [1, 2, 3]) old.prepare(`INSERT INTO messages VALUES ('r:pics', ?, ?, 'ann', 'text', '"x"', ?, NULL)`).run(seq, `m${seq}`, 1000 + seq);
      old.prepare("INSERT INTO members VALUES ('bob', 'r:pics', 3)").run();
      old.prepare("INSERT INTO uploads VALUES ('f1', 'ann', 'a.png', 'image/png', 1, 10)").run();
      // The first message referred to it; which one, the old schema did not say.
      old.prepare("INSERT INTO upload_links VALUES ('f1', 'r:pics')").run();
      // A conversation that retention had emptied before the upgrade: nothing refers to its file any more.
      old.prepare("INSERT INTO conversations (id, last_seq) VALUES ('r:emptied', 2)").run();
      old.prepare("INSERT INTO members VALUES ('bob', 'r:emptied', 2)").run();
      old.prepare("INSERT INTO uploads VALUES ('f2', 'ann', 'b.png', 'image/png', 1, 10)").run();
      old.prepare("INSERT INTO upload_links VALUES ('f2', 'r:emptied')").run();
    };
    await withOldDatabase(2, fill, async (store) => {
      await store.open();
      assert.equal(await store.canReadUpload('f2', 'bob'), false);
      assert.equal(await store.trimOlder(1003, 10), 2);
      assert.equal(await store.canReadUpload('f1', 'bob'), true, 'kept while a message from before the change is left');
      assert.deepEqual(await store.trimUploads(100, 10), { removed: ['f2'], more: false });
      assert.equal(await store.trimOlder(1004, 10), 1);
      assert.equal(await store.canReadUpload('f1', 'bob'), false);
      assert.deepEqual(await store.trimUploads(100, 10), { removed: ['f1'], more: false });
    });
  });

  it('a database it cannot use is refused with what SQLite said', async () => {
    // Claims every migration, has none of the tables.
    const fill = (broken: Database.Database): void => void broken.pragma(`user_version = ${SQLITE_MIGRATIONS.length}`);
    await withOldDatabase(0, fill, async (store) => {
      await assert.rejects(store.open(), /the SQLite writer thread failed: SQLITE_ERROR: no such table/);
    });
  });
});
