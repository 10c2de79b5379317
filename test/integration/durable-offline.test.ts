// test-encodings: json proto lean
/**
 * Offline delivery: a user who joined a room and went away, or who has DMs,
 * gets an `unread` summary on connect, fetches what it missed with `history`,
 * and `read` moves the read position for its next connections. Leaving a room
 * on purpose ends the membership; disconnecting does not.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { closeAllClients, connectUser, type Msg, type TestClient } from '../helpers/client.js';
import { range, seqs, sqliteFlags, tempDir, type HistoryData } from '../helpers/durable.js';
import { startServer } from '../helpers/server.js';

interface UnreadEntry {
  room?: string;
  with?: string;
  lastSeq: number;
  readSeq: number;
  unread: number;
}

/** Connects and returns the unread summary, checking it comes after `connected` and the welcome. */
async function connectWithUnread(wsUrl: string, user: string): Promise<{ c: TestClient; unread: UnreadEntry[] }> {
  const c = await connectUser(wsUrl, user);
  const push = await c.waitFor('unread');
  const types = c.messages.map((m) => m.type);
  assert.deepEqual(types.slice(0, 3), ['connected', 'notice', 'unread'], `order on connect: ${types.join(', ')}`);
  return { c, unread: push.conversations as UnreadEntry[] };
}

function entry(list: UnreadEntry[], target: { room: string } | { with: string }): UnreadEntry | undefined {
  return list.find((e) => ('room' in target ? e.room === target.room : e.with === target.with));
}

describe('durable: offline delivery and unread', () => {
  it('lists missed room messages and DMs on connect; history fetches them; read clears them', async (t) => {
    t.after(closeAllClients);
    const srv = await startServer(['--auth.dev', 'true'], { t });

    // A first-time user belongs to nothing yet.
    const first = await connectWithUnread(srv.wsUrl, 'bob');
    assert.deepEqual(first.unread, []);
    assert.deepEqual(await first.c.call({ type: 'join', room: 'team' }), { room: 'team', kind: 'public', durable: true, seq: 0 });
    await first.c.close();

    const alice = await connectUser(srv.wsUrl, 'alice');
    await alice.call({ type: 'join', room: 'team' });
    const published: Msg[] = [];
    for (const text of ['standup at 10', 'moved to 11', 'cancelled']) await alice.call({ type: 'publish', room: 'team', body: text });
    for (const text of ['hi bob', 'call me']) await alice.call({ type: 'send', to: 'bob', body: text });
    await alice.barrier();
    published.push(...alice.all('message'));
    assert.equal(published.length, 5);

    const { c: bob, unread } = await connectWithUnread(srv.wsUrl, 'bob');
    assert.deepEqual(entry(unread, { room: 'team' }), { room: 'team', lastSeq: 3, readSeq: 0, unread: 3 });
    assert.deepEqual(entry(unread, { with: 'alice' }), { with: 'alice', lastSeq: 2, readSeq: 0, unread: 2 });
    assert.equal(unread.length, 2, JSON.stringify(unread));
    // Nothing was pushed live: bob was away.
    await bob.barrier();
    assert.equal(bob.all('message').length, 0);

    // History without joining again: bob is still a member of the room.
    const room = await bob.call<HistoryData>({ type: 'history', room: 'team' });
    assert.deepEqual(room.messages.map((m) => m.body), ['standup at 10', 'moved to 11', 'cancelled']);
    // History carries every message's id in every encoding; a version 2 push has none.
    assert.deepEqual(room.messages.map((m) => alice.asReceived(m)), published.filter((m) => m.room === 'team'), 'stored = what was pushed live');
    const dms = await bob.call<HistoryData>({ type: 'history', with: 'alice' });
    assert.deepEqual(dms.messages.map((m) => [m.from, m.to, m.body]), [
      ['alice', 'bob', 'hi bob'],
      ['alice', 'bob', 'call me'],
    ]);
    assert.equal(dms.with, 'alice');

    // The sender has read its own messages.
    const { unread: aliceUnread } = await connectWithUnread(srv.wsUrl, 'alice');
    assert.deepEqual(entry(aliceUnread, { room: 'team' }), { room: 'team', lastSeq: 3, readSeq: 3, unread: 0 });
    assert.deepEqual(entry(aliceUnread, { with: 'bob' }), { with: 'bob', lastSeq: 2, readSeq: 2, unread: 0 });

    // Reading part of the room, then all of it; read positions only move forward.
    assert.deepEqual(await bob.call({ type: 'read', room: 'team', seq: 2 }), {});
    let next = await connectWithUnread(srv.wsUrl, 'bob');
    assert.deepEqual(entry(next.unread, { room: 'team' }), { room: 'team', lastSeq: 3, readSeq: 2, unread: 1 });
    await bob.call({ type: 'read', room: 'team', seq: 3 });
    await bob.call({ type: 'read', with: 'alice', seq: 2 });
    await bob.call({ type: 'read', room: 'team', seq: 1 });
    next = await connectWithUnread(srv.wsUrl, 'bob');
    assert.deepEqual(entry(next.unread, { room: 'team' }), { room: 'team', lastSeq: 3, readSeq: 3, unread: 0 });
    assert.deepEqual(entry(next.unread, { with: 'alice' }), { with: 'alice', lastSeq: 2, readSeq: 2, unread: 0 });

    // A new message counts again.
    await alice.call({ type: 'publish', room: 'team', body: 'back on' });
    next = await connectWithUnread(srv.wsUrl, 'bob');
    assert.deepEqual(entry(next.unread, { room: 'team' }), { room: 'team', lastSeq: 4, readSeq: 3, unread: 1 });
  });

  it('survives a restart of the server', async (t) => {
    t.after(closeAllClients);
    const flags = ['--auth.dev', 'true', ...sqliteFlags(tempDir(t))];
    const srv1 = await startServer(flags, { t });
    const bob1 = await connectUser(srv1.wsUrl, 'bob');
    await bob1.call({ type: 'join', room: 'ops' });
    await bob1.close();
    const alice = await connectUser(srv1.wsUrl, 'alice');
    await alice.call({ type: 'join', room: 'ops' });
    for (let i = 1; i <= 4; i++) await alice.call({ type: 'publish', room: 'ops', body: `o${i}` });
    await alice.call({ type: 'send', to: 'bob', body: 'ping' });
    assert.equal(await srv1.stop(), 0);

    const srv2 = await startServer(flags, { t });
    const { c: bob, unread } = await connectWithUnread(srv2.wsUrl, 'bob');
    assert.deepEqual(entry(unread, { room: 'ops' }), { room: 'ops', lastSeq: 4, readSeq: 0, unread: 4 });
    assert.deepEqual(entry(unread, { with: 'alice' }), { with: 'alice', lastSeq: 1, readSeq: 0, unread: 1 });
    const h = await bob.call<HistoryData>({ type: 'history', room: 'ops' });
    assert.deepEqual(seqs(h.messages), range(1, 4));
  });

  it('an explicit leave ends the membership (no unread, no history); a disconnect does not', async (t) => {
    t.after(closeAllClients);
    const srv = await startServer(['--auth.dev', 'true'], { t });
    const carol = await connectUser(srv.wsUrl, 'carol');
    await carol.call({ type: 'join', room: 'kept' });
    await carol.call({ type: 'join', room: 'left' });
    // Two sessions: leaving with one of them keeps the membership.
    const carol2 = await connectUser(srv.wsUrl, 'carol');
    await carol2.call({ type: 'join', room: 'left' });
    await carol2.call({ type: 'leave', room: 'left' });
    await carol2.close();
    let seen = await connectWithUnread(srv.wsUrl, 'carol');
    assert.ok(entry(seen.unread, { room: 'left' }), `still a member while another session is in the room: ${JSON.stringify(seen.unread)}`);
    await seen.c.close();
    // The last session leaves: membership ends.
    await carol.call({ type: 'leave', room: 'left' });
    await carol.close();

    const dave = await connectUser(srv.wsUrl, 'dave');
    await dave.call({ type: 'join', room: 'kept' });
    await dave.call({ type: 'join', room: 'left' });
    await dave.call({ type: 'publish', room: 'kept', body: 'k' });
    await dave.call({ type: 'publish', room: 'left', body: 'l' });

    seen = await connectWithUnread(srv.wsUrl, 'carol');
    assert.deepEqual(seen.unread, [{ room: 'kept', lastSeq: 1, readSeq: 0, unread: 1 }]);
    const refused = await seen.c.request({ type: 'history', room: 'left' });
    assert.equal(refused.type, 'error');
    assert.equal(refused.code, 'forbidden');
    const ok = await seen.c.call<HistoryData>({ type: 'history', room: 'kept' });
    assert.deepEqual(ok.messages.map((m) => m.body), ['k']);
  });

  it('a rejoin after a leave is a membership again, while the room stays in use on the node; rejoins after disconnects keep it', async (t) => {
    t.after(closeAllClients);
    const srv = await startServer(['--auth.dev', 'true'], { t });
    // dave stays in the room throughout, so the node keeps what it knows of the room between carol's visits.
    const dave = await connectUser(srv.wsUrl, 'dave');
    await dave.call({ type: 'join', room: 'lounge' });
    for (let visit = 1; visit <= 2; visit++) {
      const carol = await connectUser(srv.wsUrl, 'carol');
      await carol.call({ type: 'join', room: 'lounge' });
      await carol.close();
    }
    let seen = await connectWithUnread(srv.wsUrl, 'carol');
    assert.ok(entry(seen.unread, { room: 'lounge' }), `a member after rejoins: ${JSON.stringify(seen.unread)}`);
    await seen.c.call({ type: 'join', room: 'lounge' });
    await seen.c.call({ type: 'leave', room: 'lounge' });
    await seen.c.close();
    seen = await connectWithUnread(srv.wsUrl, 'carol');
    assert.equal(entry(seen.unread, { room: 'lounge' }), undefined, 'the leave ended it');
    await seen.c.call({ type: 'join', room: 'lounge' });
    await seen.c.close();
    await dave.call({ type: 'publish', room: 'lounge', body: 'while carol is away' });
    seen = await connectWithUnread(srv.wsUrl, 'carol');
    assert.deepEqual(entry(seen.unread, { room: 'lounge' }), { room: 'lounge', lastSeq: 1, readSeq: 0, unread: 1 }, 'joined again: the message counts');
  });
});
