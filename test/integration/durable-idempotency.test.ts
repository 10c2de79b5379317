// test-encodings: json proto lean
/**
 * Idempotent publish: a publish or send whose `key` is already stored is not
 * stored again; the reply carries the original id/seq/ts with duplicate: true
 * and nothing is delivered again — also when both copies arrive in one frame,
 * and across a restart (the key lives in the store).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { closeAllClients, connectUser } from '../helpers/client.js';
import { isDmWith, isRoomMsg, sqliteFlags, tempDir, type Ack, type HistoryData } from '../helpers/durable.js';
import { startServer } from '../helpers/server.js';

describe('durable: idempotent publish', () => {
  it('a repeated key is answered with the original ack, marked duplicate, and delivered once', async (t) => {
    t.after(closeAllClients);
    const srv = await startServer(['--auth.dev', 'true'], { t });
    const alice = await connectUser(srv.wsUrl, 'alice');
    const bob = await connectUser(srv.wsUrl, 'bob');
    await alice.call({ type: 'join', room: 'idem' });
    await bob.call({ type: 'join', room: 'idem' });

    const first = await alice.call<Ack>({ type: 'publish', room: 'idem', body: 'once', key: 'k-1' });
    assert.equal(first.duplicate, undefined);
    assert.equal(first.seq, 1);
    const again = await alice.call<Ack>({ type: 'publish', room: 'idem', body: 'once', key: 'k-1' });
    assert.deepEqual(again, { id: first.id, seq: first.seq, ts: first.ts, duplicate: true });
    // Even from another session of the same user (a reconnect that resends).
    const alice2 = await connectUser(srv.wsUrl, 'alice');
    await alice2.call({ type: 'join', room: 'idem' });
    assert.deepEqual(await alice2.call<Ack>({ type: 'publish', room: 'idem', body: 'once', key: 'k-1' }), again);

    // Both copies in one frame: one commit, still stored once.
    const ids = [alice.newId(), alice.newId()];
    alice.sendBatch(ids.map((id) => ({ type: 'publish', id, room: 'idem', body: 'twin', key: 'k-2' })));
    const [a, b] = await Promise.all(ids.map((id) => alice.next((m) => m.type === 'reply' && m.id === id)));
    const [da, db] = [a!.data as Ack, b!.data as Ack];
    assert.equal(da.seq, 2);
    assert.equal(da.duplicate, undefined);
    assert.deepEqual(db, { ...da, duplicate: true });

    const next = await alice.call<Ack>({ type: 'publish', room: 'idem', body: 'next', key: 'k-3' });
    assert.equal(next.seq, 3, 'duplicates take no sequence number');

    for (const c of [alice, alice2, bob]) await c.barrier();
    for (const [name, c] of [['alice', alice], ['bob', bob]] as const)
      assert.deepEqual(
        c.all(isRoomMsg('idem')).map((m) => [m.seq, m.body, m.key]),
        // A version 2 push leaves the key out (the sender's ack answers it); history below keeps it.
        [
          [1, 'once', c.carriesMessageIds ? 'k-1' : undefined],
          [2, 'twin', c.carriesMessageIds ? 'k-2' : undefined],
          [3, 'next', c.carriesMessageIds ? 'k-3' : undefined],
        ],
        `${name} received each message once`,
      );
    assert.deepEqual(alice2.all(isRoomMsg('idem')).map((m) => m.seq), [2, 3]);
    const h = await bob.call<HistoryData>({ type: 'history', room: 'idem' });
    assert.deepEqual(h.messages.map((m) => m.key), ['k-1', 'k-2', 'k-3']);

    // Direct messages too.
    const dm1 = await alice.call<Ack>({ type: 'send', to: 'bob', body: 'psst', key: 'd-1' });
    const dm2 = await alice.call<Ack>({ type: 'send', to: 'bob', body: 'psst', key: 'd-1' });
    assert.deepEqual(dm2, { ...dm1, duplicate: true });
    await bob.barrier();
    assert.equal(bob.all(isDmWith('bob', 'alice')).length, 1);
  });

  it('remembers keys across a restart', async (t) => {
    t.after(closeAllClients);
    const flags = ['--auth.dev', 'true', ...sqliteFlags(tempDir(t))];
    const srv1 = await startServer(flags, { t });
    const alice1 = await connectUser(srv1.wsUrl, 'alice');
    await alice1.call({ type: 'join', room: 'idem-r' });
    const p1 = await alice1.call<Ack>({ type: 'publish', room: 'idem-r', body: 'before', key: 'r-1' });
    const d1 = await alice1.call<Ack>({ type: 'send', to: 'bob', body: 'before', key: 'rd-1' });
    assert.equal(await srv1.stop(), 0);

    const srv2 = await startServer(flags, { t });
    const alice = await connectUser(srv2.wsUrl, 'alice');
    const bob = await connectUser(srv2.wsUrl, 'bob');
    await alice.call({ type: 'join', room: 'idem-r' });
    await bob.call({ type: 'join', room: 'idem-r' });
    assert.deepEqual(await alice.call<Ack>({ type: 'publish', room: 'idem-r', body: 'before', key: 'r-1' }), { ...p1, duplicate: true });
    assert.deepEqual(await alice.call<Ack>({ type: 'send', to: 'bob', body: 'before', key: 'rd-1' }), { ...d1, duplicate: true });
    const p2 = await alice.call<Ack>({ type: 'publish', room: 'idem-r', body: 'after', key: 'r-2' });
    assert.equal(p2.seq, p1.seq + 1);
    await bob.waitFor((m) => isRoomMsg('idem-r')(m) && m.seq === p2.seq);
    await bob.barrier();
    assert.deepEqual(bob.all('message').map((m) => m.body), ['after'], 'the duplicates were not delivered again');
  });
});
