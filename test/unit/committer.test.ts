/** The Committer's grouping of unread-summary queries (memberships) against a store that records its calls. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import { Committer } from '../../src/store/committer.js';
import type { Appended, Membership, Store, WriteBatch } from '../../src/store/store.js';

class RecordingStore {
  readonly kind = 'sqlite' as const;
  queries: string[][] = [];
  commits: WriteBatch[] = [];
  failNext = false;
  /** Resolvers of queries still out, in order. */
  private out: (() => void)[] = [];
  hold = false;

  memberships(users: readonly string[]): Promise<Map<string, Membership[]>> {
    this.queries.push([...users]);
    const fail = this.failNext;
    this.failNext = false;
    return new Promise((resolve, reject) => {
      const answer = (): void => {
        if (fail) return reject(new Error('store down'));
        resolve(new Map(users.map((u) => [u, [{ conv: `r:${u}`, lastSeq: 3, readSeq: 1 }]])));
      };
      if (this.hold) this.out.push(answer);
      else answer();
    });
  }
  release(): void {
    const out = this.out;
    this.out = [];
    for (const a of out) a();
  }
  commit(batch: WriteBatch): Promise<Appended[]> {
    this.commits.push(batch);
    return Promise.resolve(batch.messages.map((m, i) => ({ seq: i + 1, id: m.id, ts: m.ts, duplicate: false })));
  }
}

function committer(store: RecordingStore): Committer {
  return new Committer(store as unknown as Store, { maxPending: 100, maxBatch: 100 }, pino({ level: 'silent' }));
}

describe('Committer memberships', () => {
  it('answers the asks of one turn with one query, each user its own list', async () => {
    const store = new RecordingStore();
    const c = committer(store);
    const [a, b, a2] = await Promise.all([c.memberships('ann'), c.memberships('bob'), c.memberships('ann')]);
    assert.deepEqual(store.queries, [['ann', 'bob']]);
    assert.deepEqual(a, [{ conv: 'r:ann', lastSeq: 3, readSeq: 1 }]);
    assert.deepEqual(a2, a);
    assert.deepEqual(b, [{ conv: 'r:bob', lastSeq: 3, readSeq: 1 }]);
  });

  it('groups asks that arrive while a query is out, and answers every one', async () => {
    const store = new RecordingStore();
    store.hold = true;
    const c = committer(store);
    const first = c.memberships('u0');
    await new Promise((r) => setImmediate(r));
    assert.equal(store.queries.length, 1, 'the first ask goes out at once');
    const later = Array.from({ length: 30 }, (_, i) => c.memberships(`u${i + 1}`));
    await new Promise((r) => setImmediate(r));
    assert.equal(store.queries.length, 1, 'nothing more goes out while the first query is out');
    store.hold = false;
    store.release();
    const all = await Promise.all([first, ...later]);
    assert.equal(all.length, 31);
    all.forEach((list, i) => assert.equal(list[0]!.conv, `r:u${i}`));
    assert.deepEqual(store.queries[1], Array.from({ length: 30 }, (_, i) => `u${i + 1}`), 'the waiting asks went as one query');
  });

  it('rejects the asks of a failed query, and the next ask still gets an answer', async () => {
    const store = new RecordingStore();
    const c = committer(store);
    store.failNext = true;
    await assert.rejects(c.memberships('ann'), /store down/);
    assert.deepEqual(await c.memberships('bob'), [{ conv: 'r:bob', lastSeq: 3, readSeq: 1 }]);
  });

  it('reads after the writes queued before it', async () => {
    const store = new RecordingStore();
    const c = committer(store);
    c.join({ user: 'ann', conv: 'r:x' });
    await c.memberships('ann');
    assert.equal(store.commits.length, 1, 'the join was written before the query');
    assert.deepEqual(store.commits[0]!.joins, [{ user: 'ann', conv: 'r:x' }]);
  });
});
