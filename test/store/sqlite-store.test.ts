import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { SQLITE_MIGRATIONS } from '../../src/store/sqlite/schema.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { emptyBatch, type Appended, type HistoryPage, type NewMessage, type WriteBatch } from '../../src/store/store.js';
import { storeSuite } from './store-suite.js';

/**
 * A store that folds its message log (message-log.ts) into `messages` after every commit, so that the suite
 * reads what it wrote from there; the other run keeps everything in the log (no folding until close).
 */
class FoldingStore extends SqliteStore {
  override commit(b: WriteBatch): Promise<Appended[]> {
    // Both asked for now, so that a call made after this one is still answered after it.
    const res = super.commit(b);
    return this.foldLog().then(() => res);
  }
}

for (const folded of [false, true]) {
  storeSuite(folded ? 'SQLite (every message folded from the log)' : 'SQLite (every message in the log)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchboard-sqlite-'));
    const file = join(dir, 'data', 'switchboard.db');
    const make = (): SqliteStore => (folded ? new FoldingStore({ file, synchronous: 'full', foldIntervalMs: 0 }) : new SqliteStore({ file, synchronous: 'full', foldIntervalMs: 0 }));
    let store = make();
    await store.open();
    return {
      store,
      reopen: async () => {
        await store.close();
        store = make();
        await store.open();
        return store;
      },
      cleanup: async () => {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  });
}

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

describe('SQLite message log', () => {
  let n = 0;
  const message = (conv: string, key: string | null = null, ts = 1_000 + n): NewMessage => {
    n++;
    return { id: `log-${n}`, conv, from: 'u1', contentType: 'text', body: JSON.stringify(`body ${n}`), ts, key, fileId: null };
  };
  /** A store that folds only when told to (and at close). */
  async function withLogStore(fn: (store: SqliteStore, file: string, reopen: () => Promise<SqliteStore>) => Promise<void>): Promise<void> {
    const dir = mkdtempSync(join(tmpdir(), 'switchboard-sqlite-log-'));
    const file = join(dir, 'switchboard.db');
    let store = new SqliteStore({ file, synchronous: 'normal', foldIntervalMs: 0 });
    try {
      await store.open();
      await fn(store, file, async () => {
        await store.close();
        store = new SqliteStore({ file, synchronous: 'normal', foldIntervalMs: 0 });
        await store.open();
        return store;
      });
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const seqs = (page: HistoryPage): number[] => page.messages.map((m) => m.seq);
  const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

  it('pages history across messages folded from the log and messages still in it, without a gap or a repeat', async () => {
    await withLogStore(async (store) => {
      await store.commit({ ...emptyBatch(), messages: Array.from({ length: 5 }, () => message('r:mixed')) });
      await store.foldLog();
      await store.commit({ ...emptyBatch(), messages: Array.from({ length: 5 }, () => message('r:mixed')) });
      assert.deepEqual(seqs(await store.history({ conv: 'r:mixed', after: 0, limit: 3 })), [1, 2, 3]);
      assert.deepEqual(seqs(await store.history({ conv: 'r:mixed', after: 3, limit: 4 })), [4, 5, 6, 7]);
      assert.deepEqual(seqs(await store.history({ conv: 'r:mixed', after: 7, limit: 10 })), [8, 9, 10]);
      assert.deepEqual(seqs(await store.history({ conv: 'r:mixed', limit: 4 })), [7, 8, 9, 10]);
      assert.deepEqual(seqs(await store.history({ conv: 'r:mixed', before: 8, limit: 4 })), [4, 5, 6, 7]);
      assert.deepEqual(seqs(await store.history({ conv: 'r:mixed', before: 3, limit: 4 })), [1, 2]);
      const page = await store.history({ conv: 'r:mixed', limit: 20 });
      assert.deepEqual(seqs(page), range(1, 10));
      assert.deepEqual([page.oldestSeq, page.lastSeq], [1, 10]);
      assert.deepEqual(page.messages.map((m) => m.body), range(n - 9, n).map((i) => JSON.stringify(`body ${i}`)));
    });
  });

  it('recognises a resend while its original is in the log, once it is folded, and after a restart', async () => {
    await withLogStore(async (first, _file, reopen) => {
      const [original] = await first.commit({ ...emptyBatch(), messages: [message('r:keys', 'k-1')] });
      const resend = async (store: SqliteStore): Promise<Appended | undefined> => (await store.commit({ ...emptyBatch(), messages: [message('r:keys', 'k-1')] }))[0];
      assert.deepEqual(await resend(first), { ...original, duplicate: true });
      await first.foldLog();
      assert.deepEqual(await resend(first), { ...original, duplicate: true });
      const again = await reopen();
      await again.commit({ ...emptyBatch(), messages: [message('r:keys', 'k-2')] });
      const restarted = await reopen();
      assert.deepEqual(await resend(restarted), { ...original, duplicate: true });
      assert.equal((await restarted.history({ conv: 'r:keys', limit: 10 })).messages.length, 2);
    });
  });

  it('forgets the keys of a commit that failed: a resend is stored, under the sequence number it would have had', async () => {
    await withLogStore(async (store) => {
      // A body the database refuses (NOT NULL) fails the whole commit, after the keyed message went into the log.
      const broken = { ...message('r:rollback'), body: null as unknown as string };
      await assert.rejects(store.commit({ ...emptyBatch(), messages: [message('r:rollback', 'k-r'), broken] }), /NOT NULL/);
      const [stored] = await store.commit({ ...emptyBatch(), messages: [message('r:rollback', 'k-r')] });
      assert.equal(stored!.seq, 1);
      assert.notEqual(stored!.duplicate, true);
      await store.foldLog();
      assert.deepEqual(seqs(await store.history({ conv: 'r:rollback', limit: 10 })), [1]);
    });
  });

  it('trims by count and by age across the log and what was folded from it', async () => {
    await withLogStore(async (store) => {
      await store.commit({ ...emptyBatch(), messages: Array.from({ length: 6 }, () => message('r:trim', null, 100)) });
      await store.foldLog();
      await store.commit({ ...emptyBatch(), messages: Array.from({ length: 6 }, (_, i) => message('r:trim', null, i < 3 ? 100 : 5_000)) });
      // Keep 8: seqs 1-4 go, all folded.
      assert.equal((await store.trimToCount(8, { after: '' }, 100)).removed, 4);
      // Keep 3: seqs 5-6 (folded) and 7-9 (in the log) go.
      assert.equal((await store.trimToCount(3, { after: '' }, 100)).removed, 5);
      let page = await store.history({ conv: 'r:trim', limit: 20 });
      assert.deepEqual([seqs(page), page.oldestSeq], [[10, 11, 12], 10]);
      await store.commit({ ...emptyBatch(), messages: [message('r:trim', null, 200)] });
      // By age: the message sent at 200 goes, although it is the newest and still in the log.
      assert.equal(await store.trimOlder(1_000, 100), 1);
      page = await store.history({ conv: 'r:trim', limit: 20 });
      assert.deepEqual([seqs(page), page.lastSeq], [[10, 11, 12], 13]);
    });
  });

  it('trims by age oldest first across buckets, whichever of them is still in the log', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchboard-sqlite-log-age-'));
    const store = new SqliteStore({ file: join(dir, 'switchboard.db'), synchronous: 'normal', foldIntervalMs: 0, logBuckets: 64 });
    try {
      await store.open();
      // Two conversations in different buckets: the older message stays in the log, the newer is folded.
      const convs = ['r:age-a', 'r:age-b', 'r:age-c', 'r:age-d'];
      await store.commit({ ...emptyBatch(), messages: convs.map((conv, i) => message(conv, null, 100 + i)) });
      await store.foldLog();
      await store.commit({ ...emptyBatch(), messages: [message('r:age-e', null, 50)] });
      assert.equal(await store.trimOlder(1_000, 1), 1);
      assert.deepEqual(seqs(await store.history({ conv: 'r:age-e', limit: 10 })), []);
      assert.deepEqual(seqs(await store.history({ conv: 'r:age-a', limit: 10 })), [1]);
      assert.equal(await store.trimOlder(1_000, 2), 2);
      assert.deepEqual(
        await Promise.all(convs.map(async (conv) => seqs(await store.history({ conv, limit: 10 })).length)),
        [0, 0, 1, 1],
      );
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('forgets the key of a message retention removed from the log, whatever the key holds (a lone surrogate)', async () => {
    await withLogStore(async (store) => {
      const key = 'k-\ud800';
      await store.commit({ ...emptyBatch(), messages: [message('r:gone', key, 10)] });
      assert.equal(await store.trimOlder(1_000, 10), 1);
      const [resent] = await store.commit({ ...emptyBatch(), messages: [message('r:gone', key, 2_000)] });
      assert.deepEqual([resent!.seq, resent!.duplicate], [2, false]);
      assert.deepEqual(seqs(await store.history({ conv: 'r:gone', limit: 10 })), [2]);
    });
  });

  it('folds a bucket into messages once it holds foldAtRows messages, after the commit that filled it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchboard-sqlite-log-full-'));
    const file = join(dir, 'switchboard.db');
    const store = new SqliteStore({ file, synchronous: 'normal', foldIntervalMs: 0, foldAtRows: 5, logBuckets: 2 });
    try {
      await store.open();
      const reader = new Database(file, { readonly: true });
      const count = (table: string): number => (reader.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
      await store.commit({ ...emptyBatch(), messages: Array.from({ length: 4 }, () => message('r:one-room')) });
      assert.deepEqual([count('message_log'), count('messages')], [4, 0]);
      await store.commit({ ...emptyBatch(), messages: [message('r:one-room')] });
      // The fold follows the commit's answer: the next call is answered after it.
      assert.deepEqual(seqs(await store.history({ conv: 'r:one-room', limit: 10 })), [1, 2, 3, 4, 5]);
      assert.deepEqual([count('message_log'), count('messages')], [0, 5]);
      reader.close();
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('folds what a crash left in the log when the store opens again', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchboard-sqlite-log-crash-'));
    const file = join(dir, 'switchboard.db');
    let store = new SqliteStore({ file, synchronous: 'full', foldIntervalMs: 0, exitAfterCommits: 2 });
    try {
      await store.open();
      await store.commit({ ...emptyBatch(), messages: [message('r:crash', 'k-c'), message('r:crash')] });
      await store.commit({ ...emptyBatch(), messages: [message('r:other')] });
      await assert.rejects(store.commit({ ...emptyBatch(), messages: [message('r:crash')] }), /exited with code 70/);
      await store.close();
      const db = new Database(file, { readonly: true });
      const count = (table: string): number => (db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
      assert.deepEqual([count('message_log'), count('messages')], [3, 0]);
      db.close();
      store = new SqliteStore({ file, synchronous: 'full', foldIntervalMs: 0 });
      await store.open();
      const reopened = new Database(file, { readonly: true });
      const after = (table: string): number => (reopened.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
      assert.deepEqual([after('message_log'), after('messages')], [0, 3]);
      reopened.close();
      assert.deepEqual(seqs(await store.history({ conv: 'r:crash', limit: 10 })), [1, 2]);
      const [resent, next] = await store.commit({ ...emptyBatch(), messages: [message('r:crash', 'k-c'), message('r:crash')] });
      assert.deepEqual([resent!.seq, resent!.duplicate, next!.seq], [1, true, 3]);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
