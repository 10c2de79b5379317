// test-encodings: json proto lean
/**
 * Recovery after a reconnect, over real sockets: `join` with `since` replays
 * exactly the missed messages, in order, before its reply, and live messages
 * follow with no gap and no duplicate — also while a publisher keeps sending
 * during the rejoin. Too old to recover (retention, recoveryLimit) is said so.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { closeAllClients, connectUser, type TestClient } from '../helpers/client.js';
import { NO_RATE_LIMIT, isRoomMsg, pump, range, seqs, type Ack, type HistoryData } from '../helpers/durable.js';
import { createTestDatabase } from '../helpers/postgres.js';
import { startServer } from '../helpers/server.js';

const BASE = ['--auth.dev', 'true', ...NO_RATE_LIMIT];

interface JoinReply {
  room: string;
  kind: string;
  durable: boolean;
  seq: number;
  recovered?: boolean;
  missed?: number;
}

async function publishN(c: TestClient, room: string, from: number, to: number): Promise<Ack[]> {
  const acks: Ack[] = [];
  for (let i = from; i <= to; i++) acks.push(await c.call<Ack>({ type: 'publish', room, body: `m${i}`, key: `k${i}` }));
  return acks;
}

/** Sends `join` with `since` and returns the reply and where it sits in the client's message list. */
async function rejoin(c: TestClient, room: string, since: number): Promise<{ reply: JoinReply; replyIndex: number }> {
  const r = await c.request({ type: 'join', room, since });
  assert.equal(r.type, 'reply', JSON.stringify(r));
  return { reply: r.data as JoinReply, replyIndex: c.messages.indexOf(r) };
}

/**
 * A publisher sends TOTAL messages without pause; meanwhile a subscriber drops
 * (after ~100 acks) and rejoins with since (after ~250), and a newcomer joins
 * without since (after ~400). Both must see an exact, contiguous stream.
 */
async function concurrentRejoin(t: { after(fn: () => unknown): void; diagnostic(msg: string): void }, flags: string[]): Promise<void> {
  t.after(closeAllClients);
  const srv = await startServer([...BASE, ...flags], { t });
  const pub = await connectUser(srv.wsUrl, 'pub');
  await pub.call({ type: 'join', room: 'busy' });
  const sub1 = await connectUser(srv.wsUrl, 'sub');
  await sub1.call({ type: 'join', room: 'busy' });

  const TOTAL = 1000;
  const cmds = range(1, TOTAL).map((i) => ({ type: 'publish', room: 'busy', body: `b${i}`, key: `b${i}` }));
  // Disconnect after ~100 acks, reconnect and rejoin after ~250, all while publishing goes on.
  let acks = 0;
  let disconnected!: () => void;
  const atDisconnect = new Promise<void>((r) => (disconnected = r));
  let reconnect!: () => void;
  const atReconnect = new Promise<void>((r) => (reconnect = r));
  let newcomer!: () => void;
  const atNewcomer = new Promise<void>((r) => (newcomer = r));
  const publishing = pump(pub, cmds, {
    window: 8,
    onAck: () => {
      acks++;
      if (acks === 100) disconnected();
      if (acks === 250) reconnect();
      if (acks === 400) newcomer();
    },
  });

  await atDisconnect;
  // Terminate (like a network loss): whatever reached the client before counts as seen.
  sub1.terminate();
  await sub1.closed;
  const seen1 = seqs(sub1.all(isRoomMsg('busy')));
  assert.ok(seen1.length > 0);
  assert.deepEqual(seen1, range(1, seen1.length), 'first session: contiguous from 1');
  const since = seen1[seen1.length - 1]!;

  await atReconnect;
  const sub2 = await connectUser(srv.wsUrl, 'sub');
  const { reply, replyIndex } = await rejoin(sub2, 'busy', since);
  assert.equal(reply.recovered, true, JSON.stringify(reply));
  assert.equal(reply.missed, reply.seq - since, 'missed = seq - since');
  assert.ok(reply.seq < TOTAL, `the rejoin happened while publishing (seq ${reply.seq})`);

  // A first-time joiner mid-stream: `seq` in its reply is exactly where its live stream starts.
  await atNewcomer;
  const late = await connectUser(srv.wsUrl, 'late');
  const lateJoin = await late.call<JoinReply>({ type: 'join', room: 'busy' });
  assert.ok(lateJoin.seq < TOTAL, `joined while publishing (seq ${lateJoin.seq})`);

  const result = await publishing;
  assert.equal(result.acks.filter(Boolean).length, TOTAL);
  await sub2.waitFor((m) => isRoomMsg('busy')(m) && m.seq === TOTAL, 10_000);
  await sub2.barrier();

  const got = sub2.all(isRoomMsg('busy'));
  assert.deepEqual(seqs(got), range(since + 1, TOTAL), `replayed + live after since=${since}: contiguous, no duplicate`);
  // Everything up to the reply's seq came before the reply (replay); the rest is live.
  for (const m of got) if (Number(m.seq) <= reply.seq) assert.ok(sub2.messages.indexOf(m) < replyIndex, `seq ${m.seq} before the reply`);
  // Bodies are the published ones.
  for (const m of got) assert.equal(m.body, `b${m.seq}`);

  await late.waitFor((m) => isRoomMsg('busy')(m) && m.seq === TOTAL, 10_000);
  await late.barrier();
  assert.deepEqual(seqs(late.all(isRoomMsg('busy'))), range(lateJoin.seq + 1, TOTAL), `a join at seq ${lateJoin.seq} gets exactly what follows, live`);
  t.diagnostic(`since=${since}, join seq=${reply.seq}, replayed ${reply.missed}, live ${TOTAL - reply.seq}; newcomer joined at ${lateJoin.seq}`);
  assert.equal(await srv.stop(), 0);
}

describe('durable rooms: recovery with join since', () => {
  it('replays exactly the missed messages in order before the reply, then live ones, no gap, no duplicate', async (t) => {
    t.after(closeAllClients);
    const srv = await startServer(BASE, { t });
    const pub = await connectUser(srv.wsUrl, 'pub');
    const sub1 = await connectUser(srv.wsUrl, 'sub');
    const j0 = await pub.call<JoinReply>({ type: 'join', room: 'rec' });
    assert.deepEqual(j0, { room: 'rec', kind: 'public', durable: true, seq: 0 });
    assert.equal((await sub1.call<JoinReply>({ type: 'join', room: 'rec' })).seq, 0);

    const first = await publishN(pub, 'rec', 1, 5);
    assert.deepEqual(first.map((a) => a.seq), [1, 2, 3, 4, 5]);
    await sub1.waitFor((m) => isRoomMsg('rec')(m) && m.seq === 5);
    const seen = sub1.all(isRoomMsg('rec'));
    assert.deepEqual(seqs(seen), [1, 2, 3, 4, 5]);
    const lastSeen = 5;
    await sub1.close();

    const missed = await publishN(pub, 'rec', 6, 12);

    const sub2 = await connectUser(srv.wsUrl, 'sub');
    const { reply, replyIndex } = await rejoin(sub2, 'rec', lastSeen);
    assert.deepEqual(reply, { room: 'rec', kind: 'public', durable: true, seq: 12, recovered: true, missed: 7 });
    const replayed = sub2.all(isRoomMsg('rec'));
    assert.deepEqual(seqs(replayed), range(6, 12), 'the missed messages, in order');
    for (const m of replayed) assert.ok(sub2.messages.indexOf(m) < replyIndex, `seq ${m.seq} replayed before the join reply`);
    // The replayed pushes are the messages as they were published.
    replayed.forEach((m, i) => {
      // Version 2 identifies a pushed message by its conversation and seq: no id, no key.
      assert.equal(m.id, sub2.carriesMessageIds ? missed[i]!.id : undefined);
      assert.equal(m.ts, missed[i]!.ts);
      assert.equal(m.body, `m${i + 6}`);
      assert.equal(m.key, sub2.carriesMessageIds ? `k${i + 6}` : undefined);
      assert.equal(m.from, 'pub');
    });
    // And they look exactly like live pushes (the publisher got them live).
    for (const m of replayed) assert.deepEqual(m, pub.all(isRoomMsg('rec')).find((x) => x.seq === m.seq));

    await publishN(pub, 'rec', 13, 15);
    await sub2.waitFor((m) => isRoomMsg('rec')(m) && m.seq === 15);
    await sub2.barrier();
    assert.deepEqual(seqs(sub2.all(isRoomMsg('rec'))), range(6, 15), 'missed then live, no gap, no duplicate');

    // Nothing missed: recovered with nothing replayed.
    const sub3 = await connectUser(srv.wsUrl, 'sub');
    const r3 = await rejoin(sub3, 'rec', 15);
    assert.deepEqual(r3.reply, { room: 'rec', kind: 'public', durable: true, seq: 15, recovered: true, missed: 0 });
    await sub3.barrier();
    assert.equal(sub3.all(isRoomMsg('rec')).length, 0);
  });

  it('is exactly contiguous while a publisher keeps sending during the disconnect and the rejoin (SQLite)', async (t) => {
    await concurrentRejoin(t, []);
  });

  it('is exactly contiguous with every recovering join read from the store (store.recentPerRoom 0)', async (t) => {
    await concurrentRejoin(t, ['--store.recentPerRoom', '0']);
  });

  it("answers alike whether what was missed is still in the room's recent messages (memory) or only in the store", async (t) => {
    t.after(closeAllClients);
    // A member stays, so the room keeps its recent messages here; store.recentPerRoom 4: 3 missed are in memory,
    // 9 only in the store; a client a whole tail behind, and one that claims a seq past the room's last.
    const srv = await startServer([...BASE, '--store.recentPerRoom', '4'], { t });
    const pub = await connectUser(srv.wsUrl, 'pub');
    await pub.call({ type: 'join', room: 'tail' });
    await publishN(pub, 'tail', 1, 20);
    for (const [since, expected] of [
      [17, { seq: 20, recovered: true, missed: 3 }],
      [16, { seq: 20, recovered: true, missed: 4 }],
      [15, { seq: 20, recovered: true, missed: 5 }],
      [11, { seq: 20, recovered: true, missed: 9 }],
      [20, { seq: 20, recovered: true, missed: 0 }],
      [0, { seq: 20, recovered: true, missed: 20 }],
    ] as const) {
      const c = await connectUser(srv.wsUrl, 'sub');
      const { reply, replyIndex } = await rejoin(c, 'tail', since);
      assert.deepEqual(reply, { room: 'tail', kind: 'public', durable: true, ...expected }, `since ${since}`);
      const replayed = c.all(isRoomMsg('tail'));
      assert.deepEqual(seqs(replayed), range(since + 1, 20), `since ${since}: the missed messages, in order`);
      for (const m of replayed) assert.ok(c.messages.indexOf(m) < replyIndex, `since ${since}: seq ${m.seq} before the reply`);
      for (const m of replayed) assert.deepEqual(m, pub.all(isRoomMsg('tail')).find((x) => x.seq === m.seq), `since ${since}: seq ${m.seq} as delivered live`);
      await c.close();
    }
    // Live messages after a rejoin from memory follow with no gap and no duplicate.
    const c = await connectUser(srv.wsUrl, 'sub');
    await rejoin(c, 'tail', 18);
    await publishN(pub, 'tail', 21, 23);
    await c.waitFor((m) => isRoomMsg('tail')(m) && m.seq === 23);
    await c.barrier();
    assert.deepEqual(seqs(c.all(isRoomMsg('tail'))), range(19, 23));
  });

  it('is exactly contiguous while a publisher keeps sending during the disconnect and the rejoin (PostgreSQL)', async (t) => {
    const db = await createTestDatabase();
    if (!db) return t.skip('PostgreSQL is not reachable');
    t.after(() => db.drop());
    await concurrentRejoin(t, ['--store.url', db.url]);
  });

  it('answers recovered: false past store.recoveryLimit, and the session is joined from the current seq', async (t) => {
    t.after(closeAllClients);
    const srv = await startServer([...BASE, '--store.recoveryLimit', '5'], { t });
    const pub = await connectUser(srv.wsUrl, 'pub');
    await pub.call({ type: 'join', room: 'limit' });
    await publishN(pub, 'limit', 1, 12);

    const sub = await connectUser(srv.wsUrl, 'sub');
    const tooOld = await rejoin(sub, 'limit', 2);
    assert.equal(tooOld.reply.recovered, false, JSON.stringify(tooOld.reply));
    assert.equal(tooOld.reply.seq, 12);
    assert.equal(tooOld.reply.missed, 10);
    await sub.barrier();
    assert.equal(sub.all(isRoomMsg('limit')).length, 0, 'nothing replayed when not recoverable');
    // Joined anyway: live messages flow from seq+1.
    await publishN(pub, 'limit', 13, 13);
    const live = await sub.next(isRoomMsg('limit'));
    assert.equal(live.seq, 13);

    // Within the limit recovery works.
    const sub2 = await connectUser(srv.wsUrl, 'sub2');
    const ok = await rejoin(sub2, 'limit', 8);
    assert.deepEqual({ recovered: ok.reply.recovered, missed: ok.reply.missed, seq: ok.reply.seq }, { recovered: true, missed: 5, seq: 13 });
    assert.deepEqual(seqs(sub2.all(isRoomMsg('limit'))), range(9, 13));
  });

  it('answers recovered: false past store.recoveryMaxBytes: nothing replayed, joined from the current seq', async (t) => {
    t.after(closeAllClients);
    const srv = await startServer([...BASE, '--store.recoveryMaxBytes', '4096'], { t });
    const pub = await connectUser(srv.wsUrl, 'pub');
    await pub.call({ type: 'join', room: 'bulky' });
    const body = 'x'.repeat(1000);
    for (let i = 1; i <= 6; i++) await pub.call({ type: 'publish', room: 'bulky', body, key: `k${i}` });
    const sub = await connectUser(srv.wsUrl, 'sub');
    const tooBig = await rejoin(sub, 'bulky', 0);
    assert.deepEqual({ recovered: tooBig.reply.recovered, missed: tooBig.reply.missed, seq: tooBig.reply.seq }, { recovered: false, missed: 6, seq: 6 });
    await sub.barrier();
    assert.equal(sub.all(isRoomMsg('bulky')).length, 0);
    const sub2 = await connectUser(srv.wsUrl, 'sub2');
    const fits = await rejoin(sub2, 'bulky', 3);
    assert.equal(fits.reply.recovered, true);
    assert.deepEqual(seqs(sub2.all(isRoomMsg('bulky'))), range(4, 6));
    // What was not replayed is paged from history within the same budget: the pages say there is more.
    const forward = await sub.call<HistoryData>({ type: 'history', room: 'bulky', after: 0, limit: 50 });
    assert.deepEqual({ seqs: seqs(forward.messages), hasMore: forward.hasMore }, { seqs: range(1, 3), hasMore: true });
    const rest = await sub.call<HistoryData>({ type: 'history', room: 'bulky', after: 3, limit: 50 });
    assert.deepEqual({ seqs: seqs(rest.messages), hasMore: rest.hasMore }, { seqs: range(4, 6), hasMore: false });
    const latest = await sub.call<HistoryData>({ type: 'history', room: 'bulky', limit: 50 });
    assert.deepEqual({ seqs: seqs(latest.messages), hasMore: latest.hasMore }, { seqs: range(4, 6), hasMore: true });
  });

  it('answers recovered: false when retention has trimmed what was missed', async (t) => {
    t.after(closeAllClients);
    const srv = await startServer([...BASE, '--store.retention.maxCount', '5', '--store.retention.intervalMs', '50'], { t });
    const pub = await connectUser(srv.wsUrl, 'pub');
    await pub.call({ type: 'join', room: 'trim' });
    await publishN(pub, 'trim', 1, 20);

    // Wait for a retention run after the last publish (each run that removes something logs it).
    for (;;) {
      const from = srv.logs().length;
      const page = await pub.call<HistoryData>({ type: 'history', room: 'trim', after: 0, limit: 1 });
      if (page.oldestSeq >= 16) break;
      await srv.waitForLog((l) => l.msg === 'retention trimmed messages', { from });
    }
    const h = await pub.call<HistoryData>({ type: 'history', room: 'trim', after: 0, limit: 50 });
    assert.deepEqual(seqs(h.messages), range(16, 20), 'retention keeps the last 5');
    assert.equal(h.oldestSeq, 16);
    assert.equal(h.lastSeq, 20);

    const sub = await connectUser(srv.wsUrl, 'sub');
    const gone = await rejoin(sub, 'trim', 2);
    assert.equal(gone.reply.recovered, false, JSON.stringify(gone.reply));
    assert.equal(gone.reply.seq, 20);
    assert.equal(gone.reply.missed, 18);
    await sub.barrier();
    assert.equal(sub.all(isRoomMsg('trim')).length, 0, 'a partial replay would hide the gap: nothing is replayed');

    // Missed only what is still stored: recovered.
    const sub2 = await connectUser(srv.wsUrl, 'sub2');
    const kept = await rejoin(sub2, 'trim', 15);
    assert.equal(kept.reply.recovered, true, JSON.stringify(kept.reply));
    assert.equal(kept.reply.missed, 5);
    assert.deepEqual(seqs(sub2.all(isRoomMsg('trim'))), range(16, 20));
  });
});

