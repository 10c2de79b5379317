/**
 * Resuming beyond one process and beyond what the server stores: a new client
 * started from persisted positions, a direct conversation that began while the
 * client was offline, and non-durable rooms (whose gaps are reported, and whose
 * sequence restarts with the server).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NO_RATE_LIMIT } from '../helpers/durable.js';
import { startServer } from '../helpers/server.js';
import { cut, freePort, Gate, range, Recorder, sdk, seqsOf, sleep } from './sdk-helpers.js';

const BASE = ['--auth.dev', 'true', ...NO_RATE_LIMIT];

describe('client SDK: resuming', () => {
  it('a new client started from persisted positions gets exactly what the old one had not seen', async (t) => {
    const srv = await startServer(BASE, { t });
    const alice = sdk(t, srv.wsUrl, { user: 'alice' });
    const bob1 = sdk(t, srv.wsUrl, { user: 'bob' });
    const r1 = new Recorder(bob1);
    await Promise.all([alice.connect(), bob1.connect()]);
    await alice.join('persist');
    await bob1.join('persist');
    for (let i = 1; i <= 10; i++) await alice.publish('persist', `p${i}`);
    for (let i = 1; i <= 5; i++) await alice.send('bob', `q${i}`);
    await r1.until(() => r1.messages.length === 15, 'bob1 up to date');
    const saved = JSON.parse(JSON.stringify(bob1.positions())) as ReturnType<typeof bob1.positions>;
    assert.deepEqual(saved, { rooms: { persist: 10 }, direct: { alice: 5 } });
    await bob1.close();

    for (let i = 11; i <= 30; i++) await alice.publish('persist', `p${i}`);
    for (let i = 6; i <= 12; i++) await alice.send('bob', `q${i}`);

    const bob2 = sdk(t, srv.wsUrl, { user: 'bob', positions: saved });
    const r2 = new Recorder(bob2);
    await bob2.connect();
    await bob2.join('persist');
    await r2.until(() => r2.of({ room: 'persist' }).length >= 20 && r2.of({ with: 'alice' }).length >= 7, 'bob2 caught up');
    await sleep(100);
    assert.deepEqual(seqsOf(r2.of({ room: 'persist' })), range(11, 30));
    assert.deepEqual(seqsOf(r2.of({ with: 'alice' })), range(6, 12));
  });

  it('a partner named __proto__ neither stops direct messages after a reconnect nor goes missing from positions()', async (t) => {
    const srv = await startServer(BASE, { t });
    const proto = sdk(t, srv.wsUrl, { user: '__proto__' });
    const carol = sdk(t, srv.wsUrl, { user: 'carol' });
    const bob = sdk(t, srv.wsUrl, { user: 'bob' });
    const rb = new Recorder(bob);
    await Promise.all([proto.connect(), carol.connect(), bob.connect()]);
    await proto.send('bob', 'hi from a tricky name');
    await rb.until(() => rb.of({ with: '__proto__' }).length === 1, 'bob has the first DM');
    assert.deepEqual(bob.positions().direct['__proto__'], 1);
    // A reconnect: bob's session asks the server to hold DMs until its sync, which must be sent.
    const back = rb.nextState('connected');
    cut(bob);
    await back;
    await carol.send('bob', 'after the reconnect');
    await proto.send('bob', 'and me');
    await rb.until(() => rb.of({ with: 'carol' }).length === 1 && rb.of({ with: '__proto__' }).length === 2, 'both DMs arrive');
  });

  it('a direct conversation that started while the client was offline is delivered from its first message', async (t) => {
    const srv = await startServer(BASE, { t });
    const gate = new Gate();
    const bob = sdk(t, srv.wsUrl, { user: 'bob', WebSocket: gate.WebSocket });
    const carol = sdk(t, srv.wsUrl, { user: 'carol' });
    const rb = new Recorder(bob);
    const unread = new Promise((r) => bob.once('unread', r));
    await Promise.all([bob.connect(), carol.connect()]);
    await unread;
    gate.open = false;
    const down = rb.nextState('disconnected');
    cut(bob);
    await down;
    for (let i = 1; i <= 4; i++) await carol.send('bob', `c${i}`);
    gate.open = true;
    await rb.until(() => rb.of({ with: 'carol' }).length >= 4, 'bob has carol’s messages');
    await carol.send('bob', 'c5');
    await rb.until(() => rb.of({ with: 'carol' }).length >= 5, 'and the live one');
    await sleep(100);
    assert.deepEqual(rb.of({ with: 'carol' }).map((m) => m.body), ['c1', 'c2', 'c3', 'c4', 'c5']);
  });

  it('non-durable rooms: missed messages are reported as a gap; after a server restart the restarted sequence is followed', async (t) => {
    const port = await freePort();
    const flags = [...BASE, '--port', String(port), '--rooms.rules', JSON.stringify([{ match: 'live-*', durable: false }])];
    let srv = await startServer(flags, { t });
    const url = `ws://127.0.0.1:${port}/ws`;
    const gate = new Gate();
    const alice = sdk(t, url, { user: 'alice' });
    const bob = sdk(t, url, { user: 'bob', WebSocket: gate.WebSocket });
    const rb = new Recorder(bob);
    await Promise.all([alice.connect(), bob.connect()]);
    const j = await bob.join('live-1');
    assert.equal(j.durable, false);
    await alice.join('live-1');
    for (let i = 1; i <= 5; i++) await alice.publish('live-1', `v${i}`);
    await rb.until(() => rb.of({ room: 'live-1' }).length === 5, 'live');

    gate.open = false;
    const down = rb.nextState('disconnected');
    cut(bob);
    await down;
    for (let i = 6; i <= 8; i++) await alice.publish('live-1', `v${i}`);
    gate.open = true;
    await rb.until(() => rb.recoveries.length === 1, 'bob rejoined');
    assert.deepEqual(rb.gaps, [{ conversation: { room: 'live-1' }, from: 6, to: 8, reason: 'not-durable' }]);
    await alice.publish('live-1', 'v9');
    await rb.until(() => rb.of({ room: 'live-1' }).length === 6, 'v9');

    // The server restarts: the room's in-memory sequence starts again at 1; the SDK follows it.
    await srv.stop();
    srv = await startServer(flags, { t });
    await rb.until(() => rb.recoveries.length === 2, 'bob rejoined the restarted server', 15_000);
    const aliceBack = new Recorder(alice);
    await aliceBack.until(() => alice.state === 'connected' && alice.rooms.includes('live-1'), 'alice back');
    await sleep(200);
    const ack = await alice.publish('live-1', 'after restart');
    assert.equal(ack.seq, 1);
    await rb.until(() => rb.of({ room: 'live-1' }).length === 7, 'bob gets the first message after the restart');
    assert.deepEqual(rb.of({ room: 'live-1' }).map((m) => m.body), ['v1', 'v2', 'v3', 'v4', 'v5', 'v9', 'after restart']);
  });
});
