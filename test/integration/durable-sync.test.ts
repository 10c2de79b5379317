// test-encodings: json proto lean
/**
 * Recovery of direct conversations with `sync {with, since}`: the missed DMs
 * are replayed in order before the reply, live DMs of that conversation that
 * arrive during the sync are held back and released without duplicates, and
 * a conversation too old to replay is said so.
 */
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { closeAllClients, connectUser, connectWith, type TestClient } from '../helpers/client.js';
import { NO_RATE_LIMIT, isDmWith, pump, range, seqs, type Ack } from '../helpers/durable.js';
import { startServer } from '../helpers/server.js';

const BASE = ['--auth.dev', 'true', ...NO_RATE_LIMIT];

interface SyncReply {
  with: string;
  recovered: boolean;
  missed: number;
  seq: number;
}

async function sendN(c: TestClient, to: string, from: number, to_: number, tag = 'd'): Promise<Ack[]> {
  const acks: Ack[] = [];
  for (let i = from; i <= to_; i++) acks.push(await c.call<Ack>({ type: 'send', to, body: `${tag}${i}`, key: `${tag}${i}` }));
  return acks;
}

async function sync(c: TestClient, withUser: string, since: number): Promise<{ reply: SyncReply; replyIndex: number }> {
  const r = await c.request({ type: 'sync', with: withUser, since });
  assert.equal(r.type, 'reply', JSON.stringify(r));
  return { reply: r.data as SyncReply, replyIndex: c.messages.indexOf(r) };
}

describe('durable DMs: sync', () => {
  it('replays exactly the missed DMs (both directions) before the reply, then live ones, no gap, no duplicate', async (t) => {
    t.after(closeAllClients);
    const srv = await startServer(BASE, { t });
    const alice = await connectUser(srv.wsUrl, 'alice');
    const bob1 = await connectUser(srv.wsUrl, 'bob');
    const dm = isDmWith('bob', 'alice');

    await sendN(alice, 'bob', 1, 5);
    await bob1.waitFor((m) => dm(m) && m.seq === 5);
    assert.deepEqual(seqs(bob1.all(dm)), range(1, 5));
    await bob1.close();

    // While bob's laptop is away: alice writes, and bob answers from his phone.
    await sendN(alice, 'bob', 6, 9);
    const phone = await connectUser(srv.wsUrl, 'bob');
    const fromPhone = await phone.call<Ack>({ type: 'send', to: 'alice', body: 'from my phone', key: 'phone-1' });
    assert.equal(fromPhone.seq, 10);
    await phone.close();
    await sendN(alice, 'bob', 11, 12);

    const bob2 = await connectUser(srv.wsUrl, 'bob');
    const { reply, replyIndex } = await sync(bob2, 'alice', 5);
    assert.deepEqual(reply, { with: 'alice', recovered: true, missed: 7, seq: 12 });
    const replayed = bob2.all(dm);
    assert.deepEqual(seqs(replayed), range(6, 12));
    for (const m of replayed) assert.ok(bob2.messages.indexOf(m) < replyIndex, `seq ${m.seq} replayed before the reply`);
    // Replayed DMs look exactly like the live ones alice got.
    for (const m of replayed) assert.deepEqual(m, alice.all(dm).find((x) => x.seq === m.seq));
    const mine = replayed.find((m) => m.seq === 10)!;
    assert.deepEqual([mine.from, mine.to, mine.body, mine.key], ['bob', 'alice', 'from my phone', bob2.carriesMessageIds ? 'phone-1' : undefined]);

    await sendN(alice, 'bob', 13, 15);
    await bob2.waitFor((m) => dm(m) && m.seq === 15);
    await bob2.barrier();
    assert.deepEqual(seqs(bob2.all(dm)), range(6, 15), 'missed then live: contiguous, once each');

    // Nothing missed.
    const bob3 = await connectUser(srv.wsUrl, 'bob');
    assert.deepEqual((await sync(bob3, 'alice', 15)).reply, { with: 'alice', recovered: true, missed: 0, seq: 15 });
    await bob3.barrier();
    assert.equal(bob3.all(dm).length, 0);

    // A client that saw numbers the server never gave (its database restored from an older backup, say) is
    // told the real last one.
    assert.deepEqual((await sync(bob3, 'alice', 50)).reply, { with: 'alice', recovered: true, missed: 0, seq: 15 });

    // Another pair's view: carol's conversation with alice is her own (empty), not alice and bob's.
    const carol = await connectUser(srv.wsUrl, 'carol');
    assert.deepEqual((await sync(carol, 'alice', 0)).reply, { with: 'alice', recovered: true, missed: 0, seq: 0 });
    assert.deepEqual((await sync(carol, 'alice', 5)).reply, { with: 'alice', recovered: true, missed: 0, seq: 0 });
    await carol.barrier();
    assert.equal(carol.all('message').length, 0);
  });

  it('holds back live DMs during a sync while the other party keeps sending: contiguous, no duplicate after the replay starts', (t) =>
    concurrentSync(t, false));

  it('with ?resume=1 holds every DM from connect until the sync: exactly since+1..end, nothing before the replay', (t) =>
    concurrentSync(t, true));

  it('answers recovered: false past store.recoveryLimit (nothing replayed), and live DMs keep flowing', async (t) => {
    t.after(closeAllClients);
    const srv = await startServer([...BASE, '--store.recoveryLimit', '4'], { t });
    const alice = await connectUser(srv.wsUrl, 'alice');
    await sendN(alice, 'bob', 1, 10);
    const bob = await connectUser(srv.wsUrl, 'bob');
    const dm = isDmWith('bob', 'alice');
    const r = await sync(bob, 'alice', 1);
    assert.deepEqual(r.reply, { with: 'alice', recovered: false, missed: 9, seq: 10 });
    await bob.barrier();
    assert.equal(bob.all(dm).length, 0);
    const ok = await sync(bob, 'alice', 6);
    assert.deepEqual(ok.reply, { with: 'alice', recovered: true, missed: 4, seq: 10 });
    assert.deepEqual(seqs(bob.all(dm)), range(7, 10));
    await sendN(alice, 'bob', 11, 11);
    await bob.waitFor((m) => dm(m) && m.seq === 11);
  });

  it('replays a conversation with a user named __proto__, and a refused sync still ends the resume hold', async (t) => {
    t.after(closeAllClients);
    const srv = await startServer(BASE, { t });
    const proto = await connectUser(srv.wsUrl, '__proto__');
    await sendN(proto, 'bob', 1, 2);
    const bob = await connectWith(`${srv.wsUrl}?user=bob&resume=1`);
    const reply = await bob.call<{ conversations: Record<string, unknown> }>({ type: 'sync', since: JSON.parse('{"__proto__":0}') as Record<string, number> });
    assert.ok(Object.hasOwn(reply.conversations, '__proto__'), JSON.stringify(reply));
    assert.deepEqual(reply.conversations['__proto__'], { recovered: true, missed: 2, seq: 2 });
    assert.deepEqual(seqs(bob.all(isDmWith('bob', '__proto__'))), [1, 2]);

    const carol = await connectWith(`${srv.wsUrl}?user=carol&resume=1`);
    // Refused by the schema (with and a map together), in either encoding.
    assert.equal((await carol.request({ type: 'sync', with: 'bob', since: { bob: 0 } })).code, 'invalid_request');
    await sendN(proto, 'carol', 1, 1);
    await carol.waitFor((m) => isDmWith('carol', '__proto__')(m) && m.seq === 1);
  });

  it('closes a resuming session that never syncs (4005) once its held DMs pass limits.maxQueueBytes', async (t) => {
    t.after(closeAllClients);
    const srv = await startServer([...BASE, '--limits.maxQueueBytes', '65536'], { t });
    const alice = await connectUser(srv.wsUrl, 'alice');
    const bob = await connectWith(`${srv.wsUrl}?user=bob&resume=1`);
    const body = 'x'.repeat(5000);
    let sent = 0;
    while (bob.isOpen && sent < 40) await alice.call({ type: 'send', to: 'bob', body, key: `h${++sent}` });
    assert.equal((await bob.waitClosed(5_000)).code, 4005);
    assert.ok(sent <= 15, `closed only after ${sent} messages of 5 kB`);
  });

  it('answers recovered: false past store.recoveryMaxBytes, for one sync across its conversations (the client pages history)', async (t) => {
    t.after(closeAllClients);
    const srv = await startServer([...BASE, '--store.recoveryMaxBytes', '4096'], { t });
    const body = 'x'.repeat(600);
    for (const from of ['alice', 'carol']) {
      const c = await connectUser(srv.wsUrl, from);
      for (let i = 1; i <= 5; i++) await c.call({ type: 'send', to: 'bob', body, key: `k${i}` });
    }
    // Five messages of ~700 bytes fit in 4 KiB; ten do not: the first conversation is replayed, the second is not.
    const bob = await connectUser(srv.wsUrl, 'bob');
    const reply = await bob.call<{ conversations: Record<string, { recovered: boolean; missed: number; seq: number }> }>({
      type: 'sync',
      since: { alice: 0, carol: 0 },
    });
    assert.deepEqual(reply.conversations, { alice: { recovered: true, missed: 5, seq: 5 }, carol: { recovered: false, missed: 5, seq: 5 } });
    await bob.barrier();
    assert.deepEqual(seqs(bob.all(isDmWith('bob', 'alice'))), range(1, 5));
    assert.equal(bob.all(isDmWith('bob', 'carol')).length, 0);
    // What was not replayed is there in history.
    const page = await bob.call<{ messages: unknown[] }>({ type: 'history', with: 'carol', after: 0 });
    assert.equal(page.messages.length, 5);
  });
});

async function concurrentSync(t: TestContext, resume: boolean): Promise<void> {
  t.after(closeAllClients);
  const srv = await startServer(BASE, { t });
  const alice = await connectUser(srv.wsUrl, 'alice');
  const bob1 = await connectUser(srv.wsUrl, 'bob');
  const dm = isDmWith('bob', 'alice');

  const TOTAL = 1000;
  const cmds = range(1, TOTAL).map((i) => ({ type: 'send', to: 'bob', body: `c${i}`, key: `c${i}` }));
  let acks = 0;
  let disconnect!: () => void;
  const atDisconnect = new Promise<void>((r) => (disconnect = r));
  let reconnect!: () => void;
  const atReconnect = new Promise<void>((r) => (reconnect = r));
  const sending = pump(alice, cmds, {
    window: 8,
    onAck: () => {
      acks++;
      if (acks === 100) disconnect();
      if (acks === 250) reconnect();
    },
  });

  await atDisconnect;
  bob1.terminate();
  await bob1.closed;
  const seen1 = seqs(bob1.all(dm));
  assert.deepEqual(seen1, range(1, seen1.length), 'first session: contiguous from 1');
  const since = seen1[seen1.length - 1]!;

  await atReconnect;
  const bob2 = resume ? await connectWith(`${srv.wsUrl}?user=bob&resume=1`) : await connectUser(srv.wsUrl, 'bob');
  const { reply, replyIndex } = await sync(bob2, 'alice', since);
  assert.equal(reply.recovered, true, JSON.stringify(reply));
  assert.equal(reply.missed, reply.seq - since);
  assert.ok(reply.seq < TOTAL, `the sync ran while alice was sending (seq ${reply.seq})`);

  const result = await sending;
  assert.equal(result.acks.filter(Boolean).length, TOTAL);
  await bob2.waitFor((m) => dm(m) && m.seq === TOTAL, 10_000);
  await bob2.barrier();

  const got = bob2.all(dm);
  for (const m of got) assert.equal(m.body, `c${m.seq}`);
  // The new session is a session of bob: DMs reach it live from the moment it connects, before it can
  // ask for the sync. Those (a prefix) are necessarily replayed again. From the replay on, the stream
  // must be exactly since+1..TOTAL: replay, then held-back live DMs without the replayed ones, then live.
  const want = range(since + 1, TOTAL);
  const start = got.findIndex((m, i) => m.seq === since + 1 && seqs(got.slice(i)).every((s, k) => s === want[k]) && got.length - i === want.length);
  assert.ok(start >= 0, `no contiguous replay+live run from ${since + 1} to ${TOTAL}; got ${JSON.stringify(seqs(got).slice(0, 40))}…`);
  const prefix = got.slice(0, start);
  if (resume) assert.equal(start, 0, 'a resuming session gets nothing of the conversation before its replay');
  if (prefix.length > 0) {
    const ps = seqs(prefix);
    assert.deepEqual(ps, range(ps[0]!, ps[0]! + ps.length - 1), 'the pre-sync live prefix is itself in order');
    assert.ok(ps[0]! > since && ps[ps.length - 1]! <= reply.seq, 'the pre-sync prefix is within the replayed range');
  }
  for (const m of got.slice(start)) if (Number(m.seq) <= reply.seq) assert.ok(bob2.messages.indexOf(m) < replyIndex, `seq ${m.seq} replayed before the reply`);
  t.diagnostic(`since=${since}, sync seq=${reply.seq}, replayed ${reply.missed}, live before the sync ${prefix.length}, live after ${TOTAL - reply.seq}`);
}
