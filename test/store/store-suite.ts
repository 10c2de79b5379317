/** One behavioural suite for every Store implementation. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { retentionPass } from '../../src/store/retention.js';
import { emptyBatch, type CountCursor, type NewMessage, type Store, type WriteBatch } from '../../src/store/store.js';
import { registrySuite } from './registry-suite.js';

let n = 0;
function msg(conv: string, from: string, body: string, key: string | null = null, fileId: string | null = null): NewMessage {
  n++;
  return { id: `m${n}`, conv, from, contentType: 'text', body: JSON.stringify(body), ts: 1_000_000 + n, key, fileId };
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

function batch(part: Partial<WriteBatch>): WriteBatch {
  return { ...emptyBatch(), ...part };
}

interface OpenedStore {
  store: Store;
  reopen: () => Promise<Store>;
  cleanup: () => Promise<void>;
}

/**
 * `open` makes a new, empty store each time; `open('retention')` one for the retention tests, which need a store
 * to themselves (a pass looks at every conversation). PostgreSQL's orders text by a language's rules there
 * (ICU en-US) rather than by bytes, as many production databases do: retention's cursor walks conversations in
 * the database's own order.
 */
export function storeSuite(name: string, open: (purpose?: 'retention') => Promise<OpenedStore | null>): void {
  describe(`${name} store`, () => {
    let store: Store;
    let reopen: () => Promise<Store>;
    let cleanup: () => Promise<void>;
    let skip = false;

    before(async () => {
      const opened = await open();
      if (!opened) {
        skip = true;
        return;
      }
      ({ store, reopen, cleanup } = opened);
    });
    after(async () => {
      if (!skip) await cleanup();
    });

    it('assigns gap-free per-conversation sequence numbers in batch order', async (t) => {
      if (skip) return t.skip('store unavailable');
      const res = await store.commit(batch({ messages: [msg('r:a', 'u1', 'one'), msg('r:b', 'u1', 'x'), msg('r:a', 'u2', 'two'), msg('r:a', 'u1', 'three')] }));
      assert.deepEqual(
        res.map((r) => r.seq),
        [1, 1, 2, 3],
      );
      assert.ok(res.every((r) => !r.duplicate));
      const more = await store.commit(batch({ messages: [msg('r:a', 'u1', 'four')] }));
      assert.equal(more[0]!.seq, 4);
      assert.equal(await store.lastSeq('r:a'), 4);
      assert.equal(await store.lastSeq('r:none'), 0);
    });

    it('pages history before and after a sequence number, oldest first', async (t) => {
      if (skip) return t.skip('store unavailable');
      const latest = await store.history({ conv: 'r:a', limit: 2 });
      assert.deepEqual(
        latest.messages.map((m) => m.seq),
        [3, 4],
      );
      assert.equal(latest.lastSeq, 4);
      assert.equal(latest.oldestSeq, 1);
      const older = await store.history({ conv: 'r:a', before: 3, limit: 10 });
      assert.deepEqual(
        older.messages.map((m) => [m.seq, JSON.parse(m.body)]),
        [
          [1, 'one'],
          [2, 'two'],
        ],
      );
      const newer = await store.history({ conv: 'r:a', after: 2, limit: 10 });
      assert.deepEqual(
        newer.messages.map((m) => m.seq),
        [3, 4],
      );
      const m = newer.messages[0]!;
      assert.equal(m.from, 'u1');
      assert.equal(m.contentType, 'text');
      assert.equal(m.conv, 'r:a');
      assert.equal(typeof m.ts, 'number');
    });

    it('stores a message with a repeated idempotency key once and returns the original', async (t) => {
      if (skip) return t.skip('store unavailable');
      const [first] = await store.commit(batch({ messages: [msg('r:k', 'u1', 'hello', 'key-1')] }));
      const again = await store.commit(batch({ messages: [msg('r:k', 'u1', 'hello again', 'key-1'), msg('r:k', 'u1', 'other', 'key-2'), msg('r:k', 'u1', 'x', 'key-2')] }));
      assert.deepEqual(again[0], { ...first!, duplicate: true });
      assert.equal(again[1]!.seq, 2);
      assert.equal(again[2]!.duplicate, true);
      assert.equal(again[2]!.seq, 2);
      // The same key from another sender is a different message.
      const [other] = await store.commit(batch({ messages: [msg('r:k', 'u2', 'hi', 'key-1')] }));
      assert.equal(other!.duplicate, false);
      assert.equal(other!.seq, 3);
      assert.equal((await store.history({ conv: 'r:k', limit: 10 })).messages.length, 3);
    });

    it('tracks memberships, unread positions and read marks', async (t) => {
      if (skip) return t.skip('store unavailable');
      await store.commit(batch({ messages: [msg('r:m', 'u1', 'before anyone joined')] }));
      await store.commit(batch({ joins: [{ user: 'u2', conv: 'r:m' }, { user: 'u1', conv: 'r:m' }] }));
      await store.commit(batch({ messages: [msg('r:m', 'u1', 'a'), msg('r:m', 'u1', 'b')] }));
      const mine = ((await store.memberships(['u2'])).get('u2') ?? []);
      assert.deepEqual(mine, [{ conv: 'r:m', lastSeq: 3, readSeq: 1 }]);
      // A sender has read its own messages.
      assert.deepEqual(((await store.memberships(['u1'])).get('u1') ?? []), [{ conv: 'r:m', lastSeq: 3, readSeq: 3 }]);
      await store.commit(batch({ reads: [{ user: 'u2', conv: 'r:m', seq: 2 }] }));
      await store.commit(batch({ reads: [{ user: 'u2', conv: 'r:m', seq: 1 }] }));
      assert.equal((((await store.memberships(['u2'])).get('u2') ?? []))[0]!.readSeq, 2, 'read positions never move back');
      await store.commit(batch({ reads: [{ user: 'u2', conv: 'r:m', seq: 999 }] }));
      assert.deepEqual(((await store.memberships(['u2'])).get('u2') ?? []), [{ conv: 'r:m', lastSeq: 3, readSeq: 3 }], 'no further than the last message');
      await store.commit(batch({ messages: [msg('r:m', 'u1', 'c')] }));
      assert.deepEqual(((await store.memberships(['u2'])).get('u2') ?? []), [{ conv: 'r:m', lastSeq: 4, readSeq: 3 }], 'so the next one counts as unread');
      assert.deepEqual(await store.members('r:m'), ['u1', 'u2']);
      const both = await store.memberships(['u1', 'u2', 'nobody']);
      assert.deepEqual([...both.keys()].sort(), ['u1', 'u2']);
      assert.equal(await store.isMember('u2', 'r:m'), true);
      await store.commit(batch({ leaves: [{ user: 'u2', conv: 'r:m' }] }));
      assert.equal(await store.isMember('u2', 'r:m'), false);
      assert.deepEqual(((await store.memberships(['u2'])).get('u2') ?? []), []);
    });

    it('authorizes uploads for the owner and members of a conversation that refers to them', async (t) => {
      if (skip) return t.skip('store unavailable');
      await store.addUpload({ id: 'f1', owner: 'u1', name: 'cat.png', mime: 'image/png', size: 123, ts: 5 });
      assert.deepEqual(await store.getUpload('f1'), { id: 'f1', owner: 'u1', name: 'cat.png', mime: 'image/png', size: 123, ts: 5 });
      assert.equal(await store.getUpload('nope'), null);
      assert.equal(await store.canReadUpload('f1', 'u1'), true);
      assert.equal(await store.canReadUpload('f1', 'u3'), false);
      await store.commit(batch({ joins: [{ user: 'u3', conv: 'd:u1 u3' }, { user: 'u1', conv: 'd:u1 u3' }], messages: [msg('d:u1 u3', 'u1', 'pic', null, 'f1')] }));
      assert.equal(await store.canReadUpload('f1', 'u3'), true);
      assert.equal(await store.canReadUpload('f1', 'u4'), false);
      // Someone who cannot read the file cannot share it by referring to it.
      const [refused, fine] = await store.commit(batch({ messages: [msg('d:u4 u5', 'u4', 'grab', null, 'f1'), msg('d:u4 u5', 'u4', 'plain')] }));
      assert.equal(refused!.refused, true);
      assert.equal(fine!.seq, 1, 'a refused message takes no sequence number');
      assert.equal(await store.canReadUpload('f1', 'u4'), false);
    });

    it('trims by count per conversation and by age', async (t) => {
      if (skip) return t.skip('store unavailable');
      const many = Array.from({ length: 10 }, (_, i) => msg('r:trim', 'u1', `m${i}`));
      await store.commit(batch({ messages: many }));
      const removed = await retentionPass(store, { maxCount: 3 }, Date.now(), 2);
      assert.ok(removed >= 7);
      const page = await store.history({ conv: 'r:trim', limit: 100 });
      assert.deepEqual(
        page.messages.map((m) => m.seq),
        [8, 9, 10],
      );
      assert.equal(page.oldestSeq, 8);
      await retentionPass(store, { maxAgeMs: 1 }, 10_000_000, 2);
      assert.equal((await store.history({ conv: 'r:trim', limit: 100 })).messages.length, 0);
      // Sequence numbers continue after trimming.
      const [next] = await store.commit(batch({ messages: [msg('r:trim', 'u1', 'after')] }));
      assert.equal(next!.seq, 11);
    });

    it('keeps sequence numbers and messages across a reopen', async (t) => {
      if (skip) return t.skip('store unavailable');
      const [a] = await store.commit(batch({ messages: [msg('r:persist', 'u1', 'kept')] }));
      store = await reopen();
      const page = await store.history({ conv: 'r:persist', limit: 10 });
      assert.equal(page.messages[0]!.seq, a!.seq);
      const [b] = await store.commit(batch({ messages: [msg('r:persist', 'u1', 'next')] }));
      assert.equal(b!.seq, a!.seq + 1);
    });

    it('reads see every commit answered before them, and a commit in flight whole or not at all', async (t) => {
      if (skip) return t.skip('store unavailable');
      // A read made while a commit is out may be answered first (SQLite reads in the event loop's thread, beside
      // the writer): it sees all of that commit or none of it, with a lastSeq that matches its page.
      for (let round = 0; round < 20; round++) {
        const conv = `r:order-${round}`;
        const committed = store.commit(batch({ messages: ['x', 'y', 'z'].map((b) => msg(conv, 'u1', b)) }));
        const during = await store.history({ conv, limit: 10 });
        assert.ok([0, 3].includes(during.messages.length), `round ${round}: ${during.messages.length} of the commit's 3 messages`);
        assert.equal(during.lastSeq, during.messages.length, `round ${round}: lastSeq matches the page`);
        await committed;
        const after = await store.history({ conv, limit: 10 });
        assert.deepEqual(after.messages.map((m) => m.seq), [1, 2, 3], `round ${round}: the commit, once answered, is read`);
        assert.equal(after.lastSeq, 3);
      }
    });

    // The room registry and the webhook queue (registry-suite.ts), on this store.
    registrySuite({ store: () => store, reopen: async () => void (store = await reopen()), skip: () => skip });

    describe('retention steps', () => {
      let own: OpenedStore | null = null;
      before(async () => {
        if (!skip) own = await open('retention');
      });
      after(async () => {
        await own?.cleanup();
      });

      /** The seqs a conversation still has. */
      const kept = async (conv: string): Promise<number[]> => (await own!.store.history({ conv, limit: 1_000 })).messages.map((m) => m.seq);
      /** Runs trimToCount steps from the start until the pass is complete; `between` runs after each step. */
      const countPass = async (keep: number, limit: number, between = async (): Promise<void> => {}): Promise<number[]> => {
        const removed: number[] = [];
        for (let cursor: CountCursor | null = { after: '' }; cursor !== null && removed.length < 1_000; ) {
          const step = await own!.store.trimToCount(keep, cursor, limit);
          removed.push(step.removed);
          cursor = step.next;
          await between();
        }
        return removed;
      };

      it('trims to a count in steps that each remove no more than their limit, whatever order the ids sort in', async (t) => {
        if (skip) return t.skip('store unavailable');
        // Ids whose order differs between bytes and language rules: '-' first or ignored, 'B' before or after 'a', 'é' last or beside 'e'.
        const sizes: Record<string, number> = { 'r:-x': 10, 'r:B': 2, 'r:a': 7, 'r:é': 5, 'r:e': 4 };
        for (const [conv, size] of Object.entries(sizes)) await own!.store.commit(batch({ messages: Array.from({ length: size }, (_, i) => msg(conv, 'u1', `s${i}`)) }));
        const removed = await countPass(3, 4);
        assert.ok(
          removed.every((n) => n <= 4),
          `removed per step: ${removed.join(', ')}`,
        );
        assert.equal(
          removed.reduce((a, b) => a + b, 0),
          7 + 0 + 4 + 2 + 1,
        );
        for (const [conv, size] of Object.entries(sizes)) assert.deepEqual(await kept(conv), range(Math.max(1, size - 2), size), conv);
      });

      it('ends a pass over a conversation that gains more messages during it than a step removes', async (t) => {
        if (skip) return t.skip('store unavailable');
        await own!.store.commit(batch({ messages: Array.from({ length: 12 }, (_, i) => msg('r:busy', 'u1', `b${i}`)) }));
        const removed = await countPass(3, 2, async () => {
          await own!.store.commit(batch({ messages: Array.from({ length: 3 }, (_, i) => msg('r:busy', 'u1', `more${i}`)) }));
        });
        assert.ok(removed.length < 1_000, `the pass ended (${removed.length} steps)`);
        const seqs = await kept('r:busy');
        assert.ok(seqs[0]! >= 10, `the 9 over the limit when the pass began went (oldest kept: ${seqs[0]}); what came during it waits for the next pass`);
      });

      it('trims by age oldest first, a bounded step at a time', async (t) => {
        if (skip) return t.skip('store unavailable');
        // Older than anything else in this store (msg() stamps 1,000,000 and up).
        await own!.store.commit(batch({ messages: Array.from({ length: 10 }, (_, i) => ({ ...msg('r:age', 'u1', `a${i}`), ts: 1_000 + i })) }));
        assert.equal(await own!.store.trimOlder(1_005, 2), 2);
        assert.deepEqual(await kept('r:age'), range(3, 10), 'the two oldest went first');
        const steps = [2];
        do steps.push(await own!.store.trimOlder(1_005, 2));
        while (steps.at(-1) === 2);
        assert.deepEqual(steps, [2, 2, 1]);
        assert.deepEqual(await kept('r:age'), range(6, 10));
      });

      const upload = (id: string, ts: number): Promise<void> => own!.store.addUpload({ id, owner: 'u1', name: `${id}.png`, mime: 'image/png', size: 1, ts });
      /** One trimUploads step: the uploads it removed (sorted) and whether it looked at all it was allowed to. */
      const unused = async (before: number, limit: number): Promise<[string[], boolean]> => {
        const r = await own!.store.trimUploads(before, limit);
        return [[...r.removed].sort(), r.more];
      };
      const at = (m: NewMessage, ts: number): NewMessage => ({ ...m, ts });

      it('removes unused uploads made before the cut, oldest first, a bounded step at a time', async (t) => {
        if (skip) return t.skip('store unavailable');
        // Older than any upload of the tests after it.
        for (const [id, ts] of [['u-c', 3], ['u-a', 1], ['u-b', 2], ['u-late', 8]] as const) await upload(id, ts);
        assert.deepEqual(await unused(5, 2), [['u-a', 'u-b'], true]);
        assert.equal(await own!.store.getUpload('u-a'), null);
        assert.deepEqual(await unused(5, 2), [['u-c'], false]);
        assert.deepEqual(await unused(5, 2), [[], false]);
        assert.notEqual(await own!.store.getUpload('u-late'), null, 'made after the cut');
        assert.deepEqual(await unused(9, 2), [['u-late'], false]);
      });

      it('counts an upload in use against a step once, and then not again while it stays in use', async (t) => {
        if (skip) return t.skip('store unavailable');
        for (const [id, ts] of [['s-1', 40], ['s-2', 41], ['s-3', 42]] as const) await upload(id, ts);
        // A conversation each, so that the count trims of the next tests leave them be.
        await own!.store.commit(batch({ messages: ['s-1', 's-2', 's-3'].map((id) => at(msg(`r:${id}`, 'u1', id, null, id), 2_000_000)) }));
        assert.deepEqual(await unused(1_000, 2), [[], true], 'two looked at, both in use');
        assert.deepEqual(await unused(1_000, 2), [[], false], 'the third');
        assert.deepEqual(await unused(1_000, 2), [[], false], 'none of them again');
        for (const id of ['s-1', 's-2', 's-3']) assert.notEqual(await own!.store.getUpload(id), null);
      });

      it('lets a file go with the last message that referred to it, by age or by count', async (t) => {
        if (skip) return t.skip('store unavailable');
        const s = own!.store;
        await upload('f-shared', 10);
        await upload('f-never-sent', 20);
        await upload('f-recent', 5_000);
        // Older than every other message in this store (msg() stamps 1,000,000 and up; r:age 1,000 and up). Two
        // commits, so that the second reference moves the link on rather than creating it.
        await s.commit(
          batch({
            joins: [{ user: 'u2', conv: 'r:pics' }, { user: 'u1', conv: 'r:pics' }],
            messages: [at(msg('r:pics', 'u1', 'pic', null, 'f-shared'), 100), at(msg('r:pics', 'u1', 'text'), 101)],
          }),
        );
        await s.commit(batch({ messages: [at(msg('r:pics', 'u1', 'again', null, 'f-shared'), 102), at(msg('r:pics', 'u1', 'last'), 103)] }));
        assert.deepEqual(await unused(1_000, 10), [['f-never-sent'], false], 'a file a message refers to stays, however old');
        assert.equal(await s.canReadUpload('f-shared', 'u2'), true);

        assert.equal(await s.trimOlder(101, 10), 1);
        assert.deepEqual(await kept('r:pics'), [2, 3, 4]);
        assert.equal(await s.canReadUpload('f-shared', 'u2'), true, 'the second message still refers to it');
        assert.deepEqual(await unused(1_000, 10), [[], false]);

        await countPass(1, 100);
        assert.deepEqual(await kept('r:pics'), [4]);
        assert.equal(await s.canReadUpload('f-shared', 'u2'), false, 'no message refers to it any more');
        assert.equal(await s.canReadUpload('f-shared', 'u1'), true, 'its uploader can read it until it goes');
        assert.deepEqual(await unused(1_000, 10), [['f-shared'], false]);
        assert.equal(await s.getUpload('f-shared'), null);
        assert.equal(await s.canReadUpload('f-shared', 'u1'), false);
        assert.notEqual(await s.getUpload('f-recent'), null, 'made after the cut');

        // Shared again in a conversation that has lost every message before: the new link stays.
        await upload('f-again', 30);
        const [shared] = await s.commit(batch({ messages: [at(msg('r:pics', 'u1', 'new pic', null, 'f-again'), 104)] }));
        assert.equal(shared!.seq, 5);
        assert.equal(await s.trimOlder(104, 10), 1, 'the message before it');
        assert.equal(await s.canReadUpload('f-again', 'u2'), true);
        assert.deepEqual(await unused(1_000, 10), [[], false]);
      });

      it('lets a file go when its message went first and older ones later (times out of order)', async (t) => {
        if (skip) return t.skip('store unavailable');
        const s = own!.store;
        await upload('f-skew', 50);
        // The picture (seq 2) carries an earlier time than the message before it, as a clock stepped back can.
        await s.commit(
          batch({
            joins: [{ user: 'u2', conv: 'r:skew' }, { user: 'u1', conv: 'r:skew' }],
            messages: [at(msg('r:skew', 'u1', 'first'), 300), at(msg('r:skew', 'u1', 'pic', null, 'f-skew'), 200)],
          }),
        );
        assert.equal(await s.trimOlder(250, 100), 1 + 1, 'the picture (and what is left of r:pics)');
        assert.deepEqual(await kept('r:skew'), [1]);
        assert.equal(await s.canReadUpload('f-skew', 'u2'), true, 'kept while a message up to it is left');
        assert.equal(await s.trimOlder(350, 100), 1);
        assert.deepEqual(await kept('r:skew'), []);
        assert.equal(await s.canReadUpload('f-skew', 'u2'), false);
        assert.deepEqual(await unused(1_000, 10), [['f-again', 'f-skew'], false]);
      });

      it('trims one conversation to its last messages or by age, a bounded step at a time, and lets its files go', async (t) => {
        if (skip) return t.skip('store unavailable');
        const s = own!.store;
        await upload('f-room', 60);
        // Seq i is stamped 3,000 + i; the picture is seq 5. A neighbour with the same times must stay whole.
        await s.commit(
          batch({
            joins: [{ user: 'u2', conv: 'r:own' }, { user: 'u1', conv: 'r:own' }],
            messages: range(1, 10).map((i) => at(msg('r:own', 'u1', `o${i}`, null, i === 5 ? 'f-room' : null), 3_000 + i)),
          }),
        );
        await s.commit(batch({ messages: range(1, 10).map((i) => at(msg('r:own-next', 'u1', `n${i}`), 3_000 + i)) }));
        assert.deepEqual(await unused(1_000, 10), [[], false], 'in use: its mark goes, so only a trim can set it again');

        // By count: the last 6 stay, at most 3 go per step.
        assert.equal(await s.trimConversation('r:own', { keep: 6 }, 3), 3);
        assert.deepEqual(await kept('r:own'), range(4, 10));
        assert.equal(await s.trimConversation('r:own', { keep: 6 }, 3), 1);
        assert.equal(await s.trimConversation('r:own', { keep: 6 }, 3), 0, 'nothing beyond the last 6 left');
        assert.deepEqual(await kept('r:own'), range(5, 10));
        assert.equal(await s.canReadUpload('f-room', 'u2'), true, 'the picture is still there');

        // By age: older than 3,007 (seq 5 and 6), the picture with them.
        assert.equal(await s.trimConversation('r:own', { before: 3_007 }, 10), 2);
        assert.deepEqual(await kept('r:own'), range(7, 10));
        assert.equal(await s.canReadUpload('f-room', 'u2'), false, 'no message refers to it any more');
        assert.deepEqual(await unused(1_000, 10), [['f-room'], false]);

        // Both rules: whatever either says goes (the last 3 by count is 8–10, but 8 is older than 3,009).
        assert.equal(await s.trimConversation('r:own', { keep: 3, before: 3_009 }, 10), 2);
        assert.deepEqual(await kept('r:own'), [9, 10]);
        assert.equal(await s.trimConversation('r:own', {}, 10), 0, 'no rule, nothing goes');

        // The age rule stops at the first message that stays: one stamped earlier behind it waits for it.
        await s.commit(batch({ messages: [at(msg('r:own', 'u1', 'late clock'), 5_000), at(msg('r:own', 'u1', 'stepped back'), 4_000)] }));
        assert.equal(await s.trimConversation('r:own', { before: 4_500 }, 10), 2);
        assert.deepEqual(await kept('r:own'), [11, 12]);
        assert.equal(await s.trimConversation('r:own', { before: 5_001 }, 10), 2);
        assert.deepEqual(await kept('r:own'), []);
        const [next] = await s.commit(batch({ messages: [msg('r:own', 'u1', 'after')] }));
        assert.equal(next!.seq, 13, 'sequence numbers go on');

        assert.deepEqual(await kept('r:own-next'), range(1, 10), 'other conversations are left alone');
        assert.equal(await s.trimConversation('r:nothing-here', { keep: 1, before: 10_000_000 }, 10), 0);
      });
    });
  });
}
