// test-encodings: json proto lean
/**
 * `history`: pages of stored messages (oldest first within a page) with
 * before/after/limit and hasMore; only for members of a room or the two
 * parties of a DM; ephemeral rooms (rooms.rules durable: false) store nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { closeAllClients, connectUser, type Msg } from '../helpers/client.js';
import { NO_RATE_LIMIT, isRoomMsg, range, seqs, type HistoryData } from '../helpers/durable.js';
import { startServer, type TestServer } from '../helpers/server.js';

describe('durable: history', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startServer([
      '--auth.dev',
      'true',
      ...NO_RATE_LIMIT,
      '--store.historyMaxLimit',
      '20',
      '--rooms.rules',
      JSON.stringify([{ match: 'live-*', durable: false }]),
    ]);
  });
  after(async () => {
    closeAllClients();
    await srv?.stop();
  });

  it('pages with before/after/limit, oldest first, with hasMore, capped at store.historyMaxLimit', async () => {
    const alice = await connectUser(srv.wsUrl, 'alice');
    await alice.call({ type: 'join', room: 'hist' });
    for (let i = 1; i <= 25; i++) await alice.call({ type: 'publish', room: 'hist', body: `h${i}` });
    await alice.barrier();
    const live = alice.all(isRoomMsg('hist'));
    assert.deepEqual(seqs(live), range(1, 25));

    const page = async (q: Record<string, unknown>): Promise<HistoryData> => alice.call<HistoryData>({ type: 'history', room: 'hist', ...q });
    const shape = (h: HistoryData) => ({ seqs: seqs(h.messages), hasMore: h.hasMore, oldestSeq: h.oldestSeq, lastSeq: h.lastSeq });

    // Newest first window, returned oldest first.
    const newest = await page({ limit: 10 });
    assert.deepEqual(shape(newest), { seqs: range(16, 25), hasMore: true, oldestSeq: 1, lastSeq: 25 });
    assert.equal(newest.room, 'hist');
    // History carries every message's id in every encoding; a version 2 push has none.
    assert.deepEqual(newest.messages.map((m) => alice.asReceived(m)), live.slice(15), 'stored messages are the pushes as delivered live');
    assert.deepEqual(shape(await page({ before: 16, limit: 10 })), { seqs: range(6, 15), hasMore: true, oldestSeq: 1, lastSeq: 25 });
    assert.deepEqual(shape(await page({ before: 6, limit: 10 })), { seqs: range(1, 5), hasMore: false, oldestSeq: 1, lastSeq: 25 });
    assert.deepEqual(shape(await page({ before: 1, limit: 10 })), { seqs: [], hasMore: false, oldestSeq: 1, lastSeq: 25 });

    // Forward paging.
    assert.deepEqual(shape(await page({ after: 0, limit: 10 })), { seqs: range(1, 10), hasMore: true, oldestSeq: 1, lastSeq: 25 });
    assert.deepEqual(shape(await page({ after: 10, limit: 10 })), { seqs: range(11, 20), hasMore: true, oldestSeq: 1, lastSeq: 25 });
    assert.deepEqual(shape(await page({ after: 20, limit: 10 })), { seqs: range(21, 25), hasMore: false, oldestSeq: 1, lastSeq: 25 });
    assert.deepEqual(shape(await page({ after: 25, limit: 10 })), { seqs: [], hasMore: false, oldestSeq: 1, lastSeq: 25 });
    assert.deepEqual(shape(await page({ after: 15, limit: 10 })), { seqs: range(16, 25), hasMore: false, oldestSeq: 1, lastSeq: 25 });

    // Capped at historyMaxLimit (20 here), with or without a limit.
    assert.deepEqual(shape(await page({ limit: 1000 })), { seqs: range(6, 25), hasMore: true, oldestSeq: 1, lastSeq: 25 });
    assert.deepEqual(shape(await page({})), { seqs: range(6, 25), hasMore: true, oldestSeq: 1, lastSeq: 25 });

    // Bad requests.
    for (const bad of [
      { type: 'history', room: 'hist', before: 5, after: 1 },
      { type: 'history' },
      { type: 'history', room: 'hist', with: 'bob' },
      { type: 'history', room: 'hist', limit: 0 },
    ]) {
      const r = await alice.request(bad);
      assert.equal(r.type, 'error', JSON.stringify(bad));
      assert.equal(r.code, 'invalid_request', JSON.stringify(bad));
    }
    await alice.close();
  });

  it("refuses a room's history to a user who never joined it, and serves it once they have", async () => {
    const owner = await connectUser(srv.wsUrl, 'owner');
    await owner.call({ type: 'join', room: 'secret-ish' });
    await owner.call({ type: 'publish', room: 'secret-ish', body: 'one' });
    await owner.call({ type: 'publish', room: 'secret-ish', body: 'two' });

    const nosy = await connectUser(srv.wsUrl, 'nosy');
    const r = await nosy.request({ type: 'history', room: 'secret-ish' });
    assert.equal(r.type, 'error');
    assert.equal(r.code, 'forbidden');
    // A room that has never existed is no different.
    const r2 = await nosy.request({ type: 'history', room: 'nobody-here' });
    assert.equal(r2.code, 'forbidden');

    await nosy.call({ type: 'join', room: 'secret-ish' });
    const h = await nosy.call<HistoryData>({ type: 'history', room: 'secret-ish' });
    assert.deepEqual(h.messages.map((m) => m.body), ['one', 'two'], 'members read what came before they joined');
    await Promise.all([owner.close(), nosy.close()]);
  });

  it("a DM's history is only the pair's own conversation", async () => {
    const alice = await connectUser(srv.wsUrl, 'dm-alice');
    for (const text of ['a→b 1', 'a→b 2']) await alice.call({ type: 'send', to: 'dm-bob', body: text });
    const bob = await connectUser(srv.wsUrl, 'dm-bob');
    await bob.call({ type: 'send', to: 'dm-alice', body: 'b→a 3' });
    for (const text of ['a→c 1', 'a→c 2']) await alice.call({ type: 'send', to: 'dm-carol', body: text });
    const carol = await connectUser(srv.wsUrl, 'dm-carol');
    const dave = await connectUser(srv.wsUrl, 'dm-dave');

    const bodies = (h: HistoryData): unknown[] => h.messages.map((m: Msg) => m.body);
    const ofCarol = await carol.call<HistoryData>({ type: 'history', with: 'dm-alice' });
    assert.deepEqual(bodies(ofCarol), ['a→c 1', 'a→c 2'], "carol sees her conversation with alice, not alice and bob's");
    assert.equal(ofCarol.with, 'dm-alice');
    assert.deepEqual(seqs(ofCarol.messages), [1, 2]);
    assert.deepEqual(bodies(await bob.call<HistoryData>({ type: 'history', with: 'dm-alice' })), ['a→b 1', 'a→b 2', 'b→a 3']);
    assert.deepEqual(bodies(await alice.call<HistoryData>({ type: 'history', with: 'dm-bob' })), ['a→b 1', 'a→b 2', 'b→a 3']);
    assert.deepEqual(bodies(await alice.call<HistoryData>({ type: 'history', with: 'dm-carol' })), ['a→c 1', 'a→c 2']);
    const none = await dave.call<HistoryData>({ type: 'history', with: 'dm-alice' });
    assert.deepEqual(none.messages, []);
    assert.equal(none.hasMore, false);
    await Promise.all([alice, bob, carol, dave].map((c) => c.close()));
  });

  it('an ephemeral room (rooms.rules durable: false) joins with durable: false, delivers live, stores nothing', async () => {
    const a = await connectUser(srv.wsUrl, 'eph-a');
    const b = await connectUser(srv.wsUrl, 'eph-b');
    assert.deepEqual(await a.call({ type: 'join', room: 'live-1' }), { room: 'live-1', kind: 'public', durable: false, seq: 0 });
    assert.deepEqual(await b.call({ type: 'join', room: 'live-1' }), { room: 'live-1', kind: 'public', durable: false, seq: 0 });
    for (let i = 1; i <= 3; i++) assert.equal((await a.call<{ seq: number }>({ type: 'publish', room: 'live-1', body: `e${i}` })).seq, i);
    await b.waitFor((m) => isRoomMsg('live-1')(m) && m.seq === 3);
    assert.deepEqual(seqs(b.all(isRoomMsg('live-1'))), [1, 2, 3], 'live delivery works');

    const h = await a.call<HistoryData>({ type: 'history', room: 'live-1' });
    assert.deepEqual(h.messages, []);
    assert.equal(h.hasMore, false);
    // Nothing to recover from, and the room is not in the unread summary.
    await b.close();
    const b2 = await connectUser(srv.wsUrl, 'eph-b');
    const unread = await b2.waitFor('unread');
    assert.deepEqual(unread.conversations, []);
    const j = await b2.call<{ durable: boolean; recovered: boolean }>({ type: 'join', room: 'live-1', since: 1 });
    assert.equal(j.durable, false);
    assert.equal(j.recovered, false);
    await b2.barrier();
    assert.equal(b2.all('message').length, 0);
    await Promise.all([a.close(), b2.close()]);
  });
});
