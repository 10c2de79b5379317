/**
 * The SDK's delivery guarantee over real sockets: connections cut mid-stream
 * (TCP socket destroyed, no close frame), clients kept offline, lost acks, the
 * server's replay limit, and a server restart — through all of which the app
 * receives every message exactly once, in order, and every message published
 * while offline arrives exactly once.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MessageAck } from '../../client/src/types.js';
import { NO_RATE_LIMIT, sqliteFlags, tempDir } from '../helpers/durable.js';
import { startServer } from '../helpers/server.js';
import { cut, deafen, freePort, Gate, range, Recorder, sdk, seqsOf, sleep, tcpSocket } from './sdk-helpers.js';

const BASE = ['--auth.dev', 'true', ...NO_RATE_LIMIT];

/** Starts `n` publishes spread over time (a few per tick), returning every ack promise. */
async function publishStream(n: number, publish: (i: number) => Promise<MessageAck>, perTick = 3, tickMs = 2): Promise<Promise<MessageAck>[]> {
  const acks: Promise<MessageAck>[] = [];
  for (let i = 1; i <= n; i++) {
    acks.push(publish(i));
    if (i % perTick === 0) await sleep(tickMs);
  }
  return acks;
}

function assertExactlyOnceInOrder(bodies: unknown[], seqs: number[], n: number, prefix: string, what: string): void {
  assert.deepEqual(seqs, range(1, n), `${what}: seqs 1..${n}, each once, in order`);
  assert.equal(new Set(bodies).size, n, `${what}: no body twice`);
  assert.deepEqual([...bodies].sort(), range(1, n).map((i) => `${prefix}${i}`).sort(), `${what}: every body`);
}

describe('client SDK: recovery, no gap and no duplicate', () => {
  it('room: the subscriber loses its connection twice mid-stream and the app still gets 1..N once, in order', async (t) => {
    const srv = await startServer(BASE, { t });
    const alice = sdk(t, srv.wsUrl, { user: 'alice' });
    const bob = sdk(t, srv.wsUrl, { user: 'bob' });
    const rb = new Recorder(bob);
    await Promise.all([alice.connect(), bob.connect()]);
    await alice.join('stream');
    await bob.join('stream');

    const N = 400;
    const cutsAt = [60, 220];
    let connections = 1;
    bob.on('message', () => {
      if (cutsAt.includes(rb.of({ room: 'stream' }).length) && bob.state === 'connected') {
        cutsAt.shift();
        setImmediate(() => cut(bob));
      }
    });
    bob.on('connected', () => connections++);
    const acks = await publishStream(N, (i) => alice.publish('stream', `r${i}`));
    const acked = await Promise.all(acks);
    assert.deepEqual(acked.map((a) => a.seq).sort((a, b) => a - b), range(1, N));
    await rb.until(() => rb.of({ room: 'stream' }).length >= N, 'bob has every message', 20_000);
    await sleep(100); // a late duplicate would show up here
    const got = rb.of({ room: 'stream' });
    assertExactlyOnceInOrder(got.map((m) => m.body), seqsOf(got), N, 'r', 'bob');
    assert.equal(connections, 3, 'bob was cut twice and came back twice');
    assert.deepEqual(rb.gaps, []);
    t.diagnostic(`duplicates dropped by bob's SDK: ${bob.duplicatesDropped}; recoveries: ${JSON.stringify(rb.recoveries)}`);
  });

  it('direct messages: the recipient is cut mid-stream (resume + sync) and gets 1..N once, in order', async (t) => {
    const srv = await startServer(BASE, { t });
    const alice = sdk(t, srv.wsUrl, { user: 'alice' });
    const bob = sdk(t, srv.wsUrl, { user: 'bob' });
    const rb = new Recorder(bob);
    await Promise.all([alice.connect(), bob.connect()]);
    const N = 400;
    const cutsAt = [50, 200, 201];
    bob.on('message', () => {
      if (cutsAt.length > 0 && rb.of({ with: 'alice' }).length >= cutsAt[0]! && bob.state === 'connected') {
        cutsAt.shift();
        setImmediate(() => cut(bob));
      }
    });
    const acks = await publishStream(N, (i) => alice.send('bob', `d${i}`));
    await Promise.all(acks);
    await rb.until(() => rb.of({ with: 'alice' }).length >= N, 'bob has every DM', 20_000);
    await sleep(100);
    const got = rb.of({ with: 'alice' });
    assertExactlyOnceInOrder(got.map((m) => m.body), seqsOf(got), N, 'd', 'bob');
    assert.deepEqual(rb.gaps, []);
    assert.ok(rb.states.filter((s) => s.state === 'connected').length >= 3, 'bob was cut and came back');
    // With resume=1 the server holds DMs until the sync: it never sends one twice (the SDK would drop it anyway).
    assert.equal(bob.duplicatesDropped, 0, 'resume + sync: no duplicate even reached the SDK');
  });

  it('offline queue: what a disconnected client publishes and sends arrives exactly once after it reconnects', async (t) => {
    const srv = await startServer(BASE, { t });
    const gate = new Gate();
    const alice = sdk(t, srv.wsUrl, { user: 'alice' });
    const bob = sdk(t, srv.wsUrl, { user: 'bob', WebSocket: gate.WebSocket });
    const ra = new Recorder(alice);
    const rb = new Recorder(bob);
    await Promise.all([alice.connect(), bob.connect()]);
    await alice.join('office');
    await bob.join('office');
    await bob.publish('office', 'before');

    gate.open = false;
    const down = rb.nextState('disconnected');
    cut(bob);
    await down;
    // While bob is away: he writes, and alice writes to him.
    const offline = [...range(1, 30).map((i) => bob.publish('office', `o${i}`)), ...range(1, 10).map((i) => bob.send('alice', `od${i}`))];
    const aliceWhileAway = await Promise.all(range(1, 20).map((i) => alice.publish('office', `a${i}`)));
    await alice.send('bob', 'dm while you were away');
    assert.equal(bob.queued, 40, 'everything waits in the offline queue');
    await sleep(300); // several failed reconnect attempts
    assert.ok(rb.states.filter((s) => s.state === 'connecting').length >= 3, 'kept retrying with backoff');
    assert.equal(bob.queued, 40);

    gate.open = true;
    const acks = await Promise.all(offline);
    assert.equal(bob.queued, 0);
    assert.ok(acks.every((a) => a.duplicate !== true), 'nothing had reached the server before');

    // Alice sees each of bob's offline messages once, in the order he wrote them.
    await ra.until(() => ra.of({ room: 'office' }).filter((m) => m.from === 'bob').length >= 31, 'alice gets bob’s messages');
    await ra.until(() => ra.of({ with: 'bob' }).filter((m) => m.from === 'bob').length >= 10, 'alice gets bob’s DMs');
    await sleep(100);
    const fromBob = ra.of({ room: 'office' }).filter((m) => m.from === 'bob').map((m) => m.body);
    assert.deepEqual(fromBob, ['before', ...range(1, 30).map((i) => `o${i}`)]);
    assert.deepEqual(ra.of({ with: 'bob' }).filter((m) => m.from === 'bob').map((m) => m.body), range(1, 10).map((i) => `od${i}`));
    // And bob's app got everything in the room exactly once, in order: his own, alice's while he was away.
    const lastSeq = Math.max(...acks.map((a) => a.seq), ...aliceWhileAway.map((a) => a.seq));
    await rb.until(() => rb.of({ room: 'office' }).length >= lastSeq, 'bob has the room', 10_000);
    await rb.until(() => rb.of({ with: 'alice' }).length >= 11, 'bob has the DMs');
    await sleep(100);
    assert.deepEqual(seqsOf(rb.of({ room: 'office' })), range(1, lastSeq));
    assert.deepEqual(seqsOf(rb.of({ with: 'alice' })), range(1, 11));
    // The store holds each message once.
    const stored = await alice.history({ room: 'office' }, { after: 0, limit: 200 });
    assert.equal(stored.messages.length, lastSeq);
    assert.equal(new Set(stored.messages.map((m) => m.key)).size, lastSeq, 'every stored message has its own key');
  });

  it('a long offline queue is paced under the server’s rate limit (default 50/s): no rate_limited, no 4006', async (t) => {
    const srv = await startServer(['--auth.dev', 'true'], { t });
    const gate = new Gate();
    const alice = sdk(t, srv.wsUrl, { user: 'alice' });
    const bob = sdk(t, srv.wsUrl, { user: 'bob', WebSocket: gate.WebSocket });
    const ra = new Recorder(alice);
    const rb = new Recorder(bob);
    await Promise.all([alice.connect(), bob.connect()]);
    await alice.join('paced');
    await bob.join('paced');
    gate.open = false;
    const down = rb.nextState('disconnected');
    cut(bob);
    await down;
    const N = 180;
    const acks = range(1, N).map((i) => bob.publish('paced', `p${i}`));
    gate.open = true;
    const started = Date.now();
    const acked = await Promise.all(acks);
    const took = Date.now() - started;
    assert.deepEqual(acked.map((a) => a.seq), range(1, N), 'in the order written');
    assert.ok(took >= 1_500, `paced (${took} ms for ${N} messages at 50/s with a burst of 50)`);
    assert.deepEqual(rb.errors.map((e) => e.message), [], 'the server never refused one');
    assert.equal(rb.states.filter((s) => s.state === 'connected').length, 2, 'no 4006 flood close');
    await ra.until(() => ra.of({ room: 'paced' }).length >= N, 'alice has them all');
    assert.deepEqual(ra.of({ room: 'paced' }).map((m) => m.body), range(1, N).map((i) => `p${i}`));
  });

  it('acks lost with the connection: the resends are recognized by key and nothing is doubled', async (t) => {
    const srv = await startServer(BASE, { t });
    const alice = sdk(t, srv.wsUrl, { user: 'alice' });
    const bob = sdk(t, srv.wsUrl, { user: 'bob' });
    const ra = new Recorder(alice);
    const rb = new Recorder(bob);
    // Bob's first unread summary sets where his direct conversations start; were it lost with the
    // connection, the SDK would take the DMs below as read (it cannot tell them from older history).
    const bobSummary = new Promise<void>((resolve) => bob.on('unread', () => resolve()));
    await Promise.all([alice.connect(), bob.connect()]);
    await alice.join('lost');
    await bob.join('lost');
    await bobSummary;
    // Bob stops reading: the server stores his messages and answers, but the answers never reach him.
    deafen(bob);
    const pending = range(1, 50).map((i) => bob.publish('lost', `l${i}`));
    const dms = range(1, 10).map((i) => bob.send('alice', `ld${i}`));
    await ra.until(() => ra.of({ room: 'lost' }).length === 50 && ra.of({ with: 'bob' }).length === 10, 'alice got them live');
    cut(bob);
    const acks = await Promise.all([...pending, ...dms]);
    assert.ok(acks.every((a) => a.duplicate === true), 'every resend was answered with the original ack');
    assert.deepEqual(acks.slice(0, 50).map((a) => a.seq), range(1, 50));
    await sleep(200);
    assert.equal(ra.of({ room: 'lost' }).length, 50, 'alice did not get any twice');
    assert.equal(ra.of({ with: 'bob' }).length, 10);
    // Rooms and DMs are recovered by different requests (join since, sync): wait for both.
    await rb.until(() => rb.of({ room: 'lost' }).length >= 50 && rb.of({ with: 'alice' }).length >= 10, 'bob recovered his own messages');
    assert.deepEqual(seqsOf(rb.of({ room: 'lost' })), range(1, 50));
    assert.deepEqual(seqsOf(rb.of({ with: 'alice' })), range(1, 10));
  });

  it('more missed than the server replays (recoveryLimit): the SDK pages history and still delivers 1..N once', async (t) => {
    const srv = await startServer([...BASE, '--store.recoveryLimit', '5'], { t });
    const gate = new Gate();
    const alice = sdk(t, srv.wsUrl, { user: 'alice' });
    const bob = sdk(t, srv.wsUrl, { user: 'bob', WebSocket: gate.WebSocket });
    const rb = new Recorder(bob);
    await Promise.all([alice.connect(), bob.connect()]);
    await alice.join('big');
    await bob.join('big');
    await alice.publish('big', 'b1');
    await alice.send('bob', 'db1');
    await rb.until(() => rb.messages.length === 2, 'bob is up to date');
    gate.open = false;
    const down = rb.nextState('disconnected');
    cut(bob);
    await down;
    const N = 450; // more than two history pages (200)
    await Promise.all(range(2, N).flatMap((i) => [alice.publish('big', `b${i}`), alice.send('bob', `db${i}`)]));
    gate.open = true;
    // Live traffic while bob recovers.
    const more = await publishStream(30, (i) => alice.publish('big', `b${N + i}`));
    await Promise.all(more);
    await rb.until(() => rb.of({ room: 'big' }).length >= N + 30 && rb.of({ with: 'alice' }).length >= N, 'bob caught up', 20_000);
    await sleep(100);
    const room = rb.of({ room: 'big' });
    assertExactlyOnceInOrder(room.map((m) => m.body), seqsOf(room), N + 30, 'b', 'room');
    const dm = rb.of({ with: 'alice' });
    assertExactlyOnceInOrder(dm.map((m) => m.body), seqsOf(dm), N, 'db', 'dm');
    const vias = (rb.recoveries as { via: string }[]).map((r) => r.via);
    assert.deepEqual(vias.sort(), ['history', 'history'], 'the server said recovered:false, the SDK filled from history');
    assert.deepEqual(rb.gaps, []);
  });

  it('a connection that goes silent (half-open) is dropped by the client heartbeat and recovered', async (t) => {
    const srv = await startServer(BASE, { t });
    const alice = sdk(t, srv.wsUrl, { user: 'alice' });
    const bob = sdk(t, srv.wsUrl, { user: 'bob', heartbeat: { intervalMs: 200, timeoutMs: 200 } });
    const rb = new Recorder(bob);
    await Promise.all([alice.connect(), bob.connect()]);
    await alice.join('quiet');
    await bob.join('quiet');
    // Bob's side stops hearing anything while the TCP connection stays up (as behind a dead NAT entry).
    tcpSocket(bob).pause();
    const started = Date.now();
    const down = rb.nextState('disconnected', 5_000);
    await Promise.all(range(1, 20).map((i) => alice.publish('quiet', `q${i}`)));
    const d = await down;
    assert.equal(d.closeCode, 1006);
    assert.ok(Date.now() - started < 3_000, 'detected well before the server’s own 25 s heartbeat');
    await rb.until(() => rb.of({ room: 'quiet' }).length >= 20, 'recovered after the drop');
    await sleep(50);
    assert.deepEqual(seqsOf(rb.of({ room: 'quiet' })), range(1, 20));
  });

  it('survives a server restart (SIGTERM, same store, same port): no gap, no duplicate, offline messages delivered once', async (t) => {
    const dir = tempDir(t);
    const port = await freePort();
    const flags = [...BASE, ...sqliteFlags(dir), '--port', String(port)];
    let srv = await startServer(flags, { t });
    const url = `ws://127.0.0.1:${port}/ws`;
    const alice = sdk(t, url, { user: 'alice' });
    const bob = sdk(t, url, { user: 'bob' });
    const ra = new Recorder(alice);
    const rb = new Recorder(bob);
    await Promise.all([alice.connect(), bob.connect()]);
    await alice.join('restart');
    await bob.join('restart');

    const N = 300;
    let restarted: Promise<void> | null = null;
    const acks = await publishStream(N, (i) => {
      if (i === 100)
        restarted = (async () => {
          await srv.stop();
          await sleep(300); // down for a while: both clients retry with backoff, alice keeps writing offline
          srv = await startServer(flags, { t });
        })();
      return i % 2 === 0 ? alice.publish('restart', `x${i}`) : alice.send('bob', `x${i}`);
    }, 2, 4);
    await restarted;
    const acked = await Promise.all(acks);
    const roomN = N / 2;
    const dmN = N / 2;
    assert.deepEqual(acked.filter((_, i) => (i + 1) % 2 === 0).map((a) => a.seq).sort((a, b) => a - b), range(1, roomN), 'room acks');
    await rb.until(() => rb.of({ room: 'restart' }).length >= roomN && rb.of({ with: 'alice' }).length >= dmN, 'bob has everything', 20_000);
    await ra.until(() => ra.of({ room: 'restart' }).length >= roomN && ra.of({ with: 'bob' }).length >= dmN, 'alice has everything', 20_000);
    await sleep(150);
    for (const [who, r] of [['bob', rb], ['alice', ra]] as const) {
      const room = r.of({ room: 'restart' });
      const dm = r.of({ with: who === 'bob' ? 'alice' : 'bob' });
      assert.deepEqual(seqsOf(room), range(1, roomN), `${who}: room 1..${roomN} once, in order`);
      assert.deepEqual(seqsOf(dm), range(1, dmN), `${who}: dm 1..${dmN} once, in order`);
      assert.equal(new Set([...room, ...dm].map((m) => m.body)).size, N, `${who}: every message once`);
      assert.deepEqual(r.gaps, []);
      assert.ok(r.states.some((s) => s.state === 'disconnected' && s.closeCode === 1001 && s.willReconnect), `${who} saw 1001 and reconnected`);
    }
    const stored = await bob.history({ room: 'restart' }, { after: 0, limit: 200 });
    assert.equal(stored.messages.length, roomN, 'stored once each');
  });
});
