import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
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

/** Two nodes' stores on a database of their own, closed and dropped after `run`. */
async function withTwoNodes(t: TestContext, run: (a: PostgresStore, b: PostgresStore, url: string) => Promise<void>): Promise<void> {
  const db = await createTestDatabase();
  if (!db) return t.skip('PostgreSQL unavailable');
  const [a, b] = [new PostgresStore(db.url), new PostgresStore(db.url)];
  try {
    await a.open();
    await b.open();
    await run(a, b, db.url);
  } finally {
    await a.close();
    await b.close();
    await db.drop();
  }
}

describe('PostgreSQL retention on several nodes', () => {
  it('lets two nodes trim the same database at once without a deadlock', (t) =>
    withTwoNodes(t, async (a, b) => {
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
    }));
});

describe('PostgreSQL commits from several nodes', () => {
  it('stores the first direct messages that two users send each other from two nodes at once (no deadlock)', (t) =>
    withTwoNodes(t, async (a, b) => {
      // Each send joins both users, sender first; so two nodes' first commits in a new conversation had inserted
      // the same two member rows in opposite orders, and PostgreSQL aborted one as a deadlock (CI, 12-07: 11 sends
      // refused in the cluster test; one round in 100–1,000 before the fix). Fresh conversations, both sides at once.
      const dm = (from: string, to: string, conv: string, i: number) => ({
        joins: [{ user: from, conv }, { user: to, conv }],
        message: { id: `${conv}-${from}-${i}`, conv, from, contentType: 'text', body: '"hi"', ts: i, key: null, fileId: null },
      });
      const batch = (sends: ReturnType<typeof dm>[]) => ({ ...emptyBatch(), joins: sends.flatMap((s) => s.joins), messages: sends.map((s) => s.message) });
      for (let round = 0; round < 600; round++) {
        const conv = `d:ann${round}:bob${round}`;
        const [ann, bob] = [`ann${round}`, `bob${round}`];
        const [fromA, fromB] = await Promise.all([
          a.commit(batch([0, 1, 2].map((i) => dm(ann, bob, conv, i)))),
          b.commit(batch([0, 1, 2].map((i) => dm(bob, ann, conv, i)))),
        ]);
        assert.deepEqual([...fromA, ...fromB].map((r) => r.seq).sort((x, y) => x - y), [1, 2, 3, 4, 5, 6], `${conv}: six messages, seqs 1..6`);
      }
    }));

  it('numbers the messages of batches committed from two nodes at once gap-free, and a stored key once', (t) =>
    withTwoNodes(t, async (a, b, url) => {
      // A batch of messages alone is one statement in its own transaction (append.ts): the seq bumps and inserts of
      // two nodes' statements interleave without BEGIN around them; a resend from the other node finds the key.
      const convs = ['r:one', 'r:two', 'r:three'];
      const msg = (node: string, round: number, i: number) => {
        const conv = convs[(round + i) % convs.length]!;
        return { id: `${node}-${round}-${i}`, conv, from: `u-${node}`, contentType: 'text', body: '"x"', ts: i, key: i === 0 ? `k-${round}` : null, fileId: null };
      };
      const stored = new Map<string, number>();
      for (let round = 0; round < 200; round++) {
        const ma = [0, 1, 2, 3].map((i) => msg('a', round, i));
        const mb = [0, 1, 2, 3].map((i) => msg('b', round, i));
        const again = { ...ma[0]!, id: `again-${round}` };
        const [ra, rb] = await Promise.all([a.commit({ ...emptyBatch(), messages: ma }), b.commit({ ...emptyBatch(), messages: mb })]);
        const rc = await b.commit({ ...emptyBatch(), messages: [again] });
        assert.equal(rc[0]!.seq, ra[0]!.seq, 'a resend of a stored key gets the original');
        assert.equal(rc[0]!.duplicate, true);
        for (const [m, r] of [...ma.map((m, i) => [m, ra[i]!] as const), ...mb.map((m, i) => [m, rb[i]!] as const)]) {
          assert.equal(r.duplicate, false);
          stored.set(`${m.conv}:${r.seq}`, round);
        }
      }
      const c = new pg.Client(url);
      await c.connect();
      try {
        const { rows } = await c.query<{ conv: string; n: string; max: string; last: string }>(
          'SELECT m.conv, count(*) AS n, max(m.seq) AS max, c.last_seq AS last FROM messages m JOIN conversations c ON c.id = m.conv GROUP BY m.conv, c.last_seq',
        );
        assert.equal(rows.reduce((x, r) => x + Number(r.n), 0), 200 * 8, 'every message stored once');
        for (const r of rows) assert.deepEqual([Number(r.n), Number(r.max)], [Number(r.last), Number(r.last)], `${r.conv}: seqs 1..last_seq, no gap`);
        assert.equal(stored.size, 200 * 8, 'no seq given twice');
      } finally {
        await c.end();
      }
    }));
});

describe('PostgreSQL retention lease', () => {
  it('lets one node at a time run a pass; the others skip theirs', (t) =>
    withTwoNodes(t, async (a, b) => {
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      let started!: () => void;
      const running = new Promise<void>((resolve) => (started = resolve));
      const first = a.retentionLease(async () => {
        started();
        await held;
        return 'a';
      });
      await running;
      let ran = false;
      assert.equal(await b.retentionLease(async () => (ran = true)), null, "b's pass is skipped while a's runs");
      assert.equal(ran, false);
      release();
      assert.equal(await first, 'a');
      assert.equal(await b.retentionLease(async () => 'b'), 'b', 'the lease is free once the pass ended');
      await assert.rejects(a.retentionLease(async () => Promise.reject(new Error('step failed'))), /step failed/);
      assert.equal(await b.retentionLease(async () => 'b again'), 'b again', 'a failed pass gives the lease back');
    }));

  it('gives the lease back when the connection holding it closes', (t) =>
    withTwoNodes(t, async (a, b, url) => {
      let started!: () => void;
      const running = new Promise<void>((resolve) => (started = resolve));
      const pass = a.retentionLease(async () => {
        started();
        // The node's connection is cut (a network failure, a restart of the node): the server drops its locks.
        const admin = new pg.Client({ connectionString: url });
        await admin.connect();
        try {
          await admin.query(
            `SELECT pg_terminate_backend(pid) FROM pg_locks
             WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid()
               AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
          );
        } finally {
          await admin.end();
        }
        let taken: string | null = null;
        for (let i = 0; i < 100 && taken === null; i++) {
          taken = await b.retentionLease(async () => 'b');
          if (taken === null) await sleep(20);
        }
        return taken;
      });
      await running;
      assert.equal(await pass, 'b', 'another node could run a pass once the holder was gone');
    }));
});

/**
 * A store on a database of its own, with f1 (an upload of u1, from long ago) in it, and plain clients beside it:
 * `commit` plays a commit caught half-way, `probe` watches.
 */
async function withUpload(
  t: TestContext,
  run: (store: PostgresStore, commit: pg.Client, probe: pg.Client) => Promise<void>,
): Promise<void> {
  const db = await createTestDatabase();
  if (!db) return t.skip('PostgreSQL unavailable');
  const store = new PostgresStore(db.url);
  const commit = new pg.Client({ connectionString: db.url });
  const probe = new pg.Client({ connectionString: db.url });
  try {
    await store.open();
    await commit.connect();
    await probe.connect();
    await store.addUpload({ id: 'f1', owner: 'u1', name: 'a.png', mime: 'image/png', size: 1, ts: 10 });
    await run(store, commit, probe);
  } finally {
    await Promise.all([commit.end(), probe.end()]);
    await store.close();
    await db.drop();
  }
}

describe('PostgreSQL uploads being shared', () => {
  it('does not take an upload that a commit under way is sharing for unused', async (t) => {
    await withUpload(t, async (store, commit) => {
      // What a commit that shares f1 holds from its check of the upload until it ends.
      await commit.query('BEGIN');
      await commit.query("SELECT 1 FROM uploads WHERE id = 'f1' FOR KEY SHARE");
      const step = store.trimUploads(1_000, 10);
      const first = await Promise.race([step, sleep(5_000).then(() => 'still waiting for the commit' as const)]);
      assert.deepEqual(first, { removed: [], more: false }, 'skipped, without waiting');
      await commit.query("INSERT INTO upload_links (file, conv, last_seq) VALUES ('f1', 'r:x', 1)");
      await commit.query('COMMIT');
      await step;
      assert.deepEqual(await store.trimUploads(1_000, 10), { removed: [], more: false }, 'in use now');
      assert.notEqual(await store.getUpload('f1'), null);
    });
  });

  it('keeps a link that a commit moves to a new message while retention empties the conversation', async (t) => {
    await withUpload(t, async (store, commit, probe) => {
      const share = (id: string, ts: number) => ({ id, conv: 'r:x', from: 'u1', contentType: 'image', body: '{}', ts, key: null, fileId: 'f1' });
      await store.commit({ ...emptyBatch(), joins: [{ user: 'u2', conv: 'r:x' }, { user: 'u1', conv: 'r:x' }], messages: [share('m1', 100)] });
      // A commit sharing f1 again, caught between moving the link to its message and its end.
      await commit.query('BEGIN');
      await commit.query("UPDATE conversations SET last_seq = 2 WHERE id = 'r:x'");
      await commit.query("INSERT INTO messages (conv, seq, id, sender, content_type, body, ts, key) VALUES ('r:x', 2, 'm2', 'u1', 'image', '{}', 5000, NULL)");
      await commit.query("UPDATE upload_links SET last_seq = 2 WHERE file = 'f1' AND conv = 'r:x'");
      // Removes m1, after which (as its snapshot sees it) the conversation is empty; the link row is the commit's.
      const trimming = store.trimOlder(1_000, 10);
      for (let i = 0; ; i++) {
        const { rows } = await probe.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
        );
        if (rows[0]!.n > 0) break;
        assert.ok(i < 500, 'retention waits for the link row');
        await sleep(10);
      }
      await commit.query('COMMIT');
      assert.equal(await trimming, 1);
      assert.equal(await store.canReadUpload('f1', 'u2'), true, 'the link, moved to m2, stays');
      assert.deepEqual(await store.trimUploads(1_000, 10), { removed: [], more: false });
    });
  });

  it('never leaves a stored message referring to a removed upload when commits share old uploads during removal', async (t) => {
    const db = await createTestDatabase();
    if (!db) return t.skip('PostgreSQL unavailable');
    // Four nodes commit while a fifth removes unused uploads: each on connections of its own.
    const nodes = Array.from({ length: 5 }, () => new PostgresStore(db.url));
    const [remover, ...writers] = nodes as [PostgresStore, ...PostgresStore[]];
    try {
      for (const n of nodes) await n.open();
      const outcomes = { shared: 0, refused: 0 };
      for (let round = 0; round < 20; round++) {
        const ids = Array.from({ length: 40 }, (_, i) => `r${round}-${i}`);
        for (const id of ids) await remover.addUpload({ id, owner: 'u1', name: 'a.png', mime: 'image/png', size: 1, ts: 10 });
        const sharing = writers.map(async (w, k) => {
          const mine = ids.filter((_, i) => i % writers.length === k);
          const results = [];
          // One message per commit: many short transactions, each holding its upload only while it runs.
          for (const id of mine) {
            const [r] = await w.commit({
              ...emptyBatch(),
              messages: [{ id: `m-${id}`, conv: `r:${id}`, from: 'u1', contentType: 'image', body: '{}', ts: 1_000_000, key: null, fileId: id }],
            });
            results.push({ id, refused: r!.refused === true });
          }
          return results;
        });
        const removing = (async () => {
          while ((await remover.trimUploads(1_000, 2)).more);
        })();
        const [results] = await Promise.all([Promise.all(sharing), removing]);
        for (const { id, refused } of results.flat()) {
          outcomes[refused ? 'refused' : 'shared']++;
          if (!refused) assert.notEqual(await remover.getUpload(id), null, `${id} was removed after a message referring to it was stored`);
        }
      }
      t.diagnostic(`shared ${outcomes.shared}, refused ${outcomes.refused}`);
    } finally {
      for (const n of nodes) await n.close();
      await db.drop();
    }
  });

  it('marks an upload for a look when its last link goes, even while a commit holds it (a commit can still fail)', async (t) => {
    await withUpload(t, async (store, commit) => {
      await store.commit({ ...emptyBatch(), messages: [{ id: 'm1', conv: 'r:y', from: 'u1', contentType: 'image', body: '{}', ts: 100, key: null, fileId: 'f1' }] });
      assert.deepEqual(await store.trimUploads(1_000, 10), { removed: [], more: false }, 'in use: looked at once');
      // A commit about to share f1 again holds it, as the store's commits do, then fails.
      await commit.query('BEGIN');
      await commit.query("SELECT 1 FROM uploads WHERE id = 'f1' FOR KEY SHARE");
      const trimmed = await Promise.race([store.trimOlder(1_000, 10), sleep(5_000).then(() => 'waiting for the commit' as const)]);
      assert.equal(trimmed, 1);
      await commit.query('ROLLBACK');
      assert.deepEqual(await store.trimUploads(1_000, 10), { removed: ['f1'], more: false });
    });
  });
});

describe('PostgreSQL room registry and webhook queue in a database whose text follows language rules', () => {
  it('lists and orders by bytes, as SQLite does', async (t) => {
    const db = await createTestDatabase({ icuLocale: 'en-US' });
    if (!db) return t.skip('PostgreSQL unavailable');
    const store = new PostgresStore(db.url);
    try {
      await store.open();
      const room = (name: string) => ({ name, kind: 'public' as const, durable: false, maxCount: null, maxAgeDays: null, createdAt: 1 });
      for (const name of ['b', 'a', 'B']) await store.createRoom(room(name));
      assert.deepEqual((await store.listRooms()).map((r) => r.name), ['B', 'a', 'b']);
      for (const user of ['bob', 'amy', 'Bob']) await store.addRoomMember('a', user);
      await store.addRoomMember('B', 'zoe');
      assert.deepEqual(await store.listRoomMembers('a'), ['Bob', 'amy', 'bob']);
      assert.deepEqual(
        (await store.allRoomMembers()).map((m) => `${m.room}/${m.user}`),
        ['B/zoe', 'a/Bob', 'a/amy', 'a/bob'],
      );
      const hook = (id: string) => ({ id, endpoint: 'e', body: '{}', attempts: 0, nextAt: 5, createdAt: 5 });
      await store.enqueueWebhooks(['x-b', 'x-a', 'x-B'].map(hook));
      assert.deepEqual((await store.dueWebhooks('e', 5, 10)).map((e) => e.id), ['x-B', 'x-a', 'x-b'], 'ties go by id, in bytes');
      assert.equal(await store.dropOldestWebhooks('e', 1), 2);
      assert.deepEqual((await store.dueWebhooks('e', 5, 10)).map((e) => e.id), ['x-b']);
    } finally {
      await store.close();
      await db.drop();
    }
  });
});
