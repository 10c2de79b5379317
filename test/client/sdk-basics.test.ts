/**
 * The SDK against the real server: two clients in a room and a DM, presence,
 * typing, history paging, read marks, call signaling, media upload, typed
 * errors and timeouts, the async-iterator surface.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  ClientClosedError,
  MessageTooLargeError,
  NotConnectedError,
  ServerError,
  SwitchboardClient,
  TimeoutError,
  UploadError,
} from '../../client/src/index.js';
import type { MessagePush, UnreadPush } from '../../client/src/types.js';
import { NO_RATE_LIMIT } from '../helpers/durable.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { range, Recorder, sdk, seqsOf, sleep } from './sdk-helpers.js';

const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64');

describe('client SDK: basics against the real server', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startServer(['--auth.dev', 'true', ...NO_RATE_LIMIT]);
  });
  after(() => srv?.stop());

  it('connects, shows its state, and carries room messages and DMs between two clients', async (t) => {
    const alice = sdk(t, srv.wsUrl, { user: 'alice' });
    const bob = sdk(t, srv.wsUrl, { user: 'bob' });
    const ra = new Recorder(alice);
    const rb = new Recorder(bob);
    assert.equal(alice.state, 'disconnected');
    const info = await alice.connect();
    assert.equal(info.user, 'alice');
    assert.equal(alice.user, 'alice');
    assert.deepEqual(ra.states.map((s) => s.state), ['connecting', 'connected']);
    await bob.connect();

    const ja = await alice.join('basics');
    assert.deepEqual(ja, { room: 'basics', kind: 'public', durable: true, seq: 0 });
    await bob.join('basics');
    assert.deepEqual(alice.rooms, ['basics']);

    const ack = await alice.publish('basics', 'hello');
    assert.equal(ack.seq, 1);
    assert.match(ack.key, /^[0-9a-f-]{36}$/, 'an idempotency key is generated');
    const dm = await bob.send('alice', 'hi alice', { key: 'my-key-1' });
    assert.equal(dm.key, 'my-key-1');
    await rb.until(() => rb.of({ room: 'basics' }).length === 1, 'bob gets the room message');
    await ra.until(() => ra.of({ with: 'bob' }).length === 1, 'alice gets the DM');
    const got = rb.of({ room: 'basics' })[0]!;
    assert.equal(got.body, 'hello');
    assert.equal(got.from, 'alice');
    // Protocol version 2: a pushed message is known by its conversation and seq (the sender matches it by its ack).
    assert.equal(got.seq, ack.seq);
    assert.equal(got.contentType, 'text', 'left out on the wire, filled in by the SDK');
    assert.equal(got.key, undefined, "the sender's key is not sent to every recipient");
    assert.equal(got.id, undefined, 'the id is in the ack and in history, not in the push');
    assert.equal(ra.of({ with: 'bob' })[0]!.seq, dm.seq);
    // The sender sees its own message too, once.
    await ra.until(() => ra.of({ room: 'basics' }).length === 1, 'alice sees her own message');
    await rb.until(() => rb.of({ with: 'alice' }).length === 1, 'bob sees his own DM');
    assert.deepEqual(bob.conversationOf(ra.of({ with: 'bob' })[0]!), { with: 'alice' });
    assert.equal(alice.position({ room: 'basics' }), 1);
    assert.deepEqual(alice.positions(), { rooms: { basics: 1 }, direct: { bob: 1 } });

    // A custom content type and a media body are typed by contentType.
    await alice.publish('basics', { question: 'lunch?', options: ['yes', 'no'] }, { contentType: 'x-poll' });
    await rb.until(() => rb.of({ room: 'basics' }).length === 2, 'custom content');
    assert.deepEqual(rb.of({ room: 'basics' })[1]!.body, { question: 'lunch?', options: ['yes', 'no'] });

    // leave: no more messages from the room.
    await bob.leave('basics');
    assert.deepEqual(bob.rooms, []);
    await alice.publish('basics', 'after bob left');
    await sleep(100);
    assert.equal(rb.of({ room: 'basics' }).length, 2);
    assert.deepEqual(rb.errors, []);
    assert.deepEqual(ra.errors, []);
  });

  it('presence (query and events) and typing (own typing filtered out)', async (t) => {
    const alice = sdk(t, srv.wsUrl, { user: 'p-alice' });
    const bob = sdk(t, srv.wsUrl, { user: 'p-bob' });
    const presence: string[] = [];
    alice.on('presence', (p) => presence.push(`${p.user}:${p.event}`));
    const typingA: string[] = [];
    alice.on('typing', (e) => typingA.push(`${e.from}:${e.active}`));
    const typingB: string[] = [];
    bob.on('typing', (e) => typingB.push(`${e.from}:${e.active}:${e.room ?? e.to}`));
    await Promise.all([alice.connect(), bob.connect()]);
    await alice.join('pres');
    await bob.join('pres');
    const users = await alice.presence('pres');
    assert.deepEqual(users.map((u) => u.user).sort(), ['p-alice', 'p-bob']);
    alice.typing({ room: 'pres' });
    alice.typing({ to: 'p-bob' }, false);
    const deadline = Date.now() + 3_000;
    while (typingB.length < 2 && Date.now() < deadline) await sleep(10);
    assert.deepEqual(typingB, ['p-alice:true:pres', 'p-alice:false:p-bob']);
    assert.deepEqual(typingA, [], 'a client never sees its own typing');
    await bob.leave('pres');
    while (!presence.includes('p-bob:leave') && Date.now() < deadline) await sleep(10);
    assert.ok(presence.includes('p-bob:join') && presence.includes('p-bob:leave'), presence.join());
  });

  it('history pages backwards and forwards; read marks feed the unread summary', async (t) => {
    const alice = sdk(t, srv.wsUrl, { user: 'h-alice' });
    await alice.connect();
    await alice.join('hist');
    for (let i = 1; i <= 25; i++) await alice.publish('hist', `m${i}`);
    const back: number[][] = [];
    for await (const page of alice.historyPages({ room: 'hist' }, { pageSize: 10 })) back.push(seqsOf(page));
    assert.deepEqual(back, [range(16, 25), range(6, 15), range(1, 5)]);
    const fwd: number[] = [];
    for await (const page of alice.historyPages({ room: 'hist' }, { direction: 'forward', pageSize: 7, from: 3 })) fwd.push(...seqsOf(page));
    assert.deepEqual(fwd, range(4, 25));
    const one = await alice.history({ room: 'hist' }, { before: 3, limit: 5 });
    assert.deepEqual(seqsOf(one.messages), [1, 2]);
    assert.equal(one.lastSeq, 25);

    await alice.read({ room: 'hist' }, 20);
    const again = sdk(t, srv.wsUrl, { user: 'h-alice' });
    const unread = new Promise<unknown>((resolve) => again.once('unread', resolve));
    await again.connect();
    const summary = (await unread) as { conversations: { room?: string; unread: number; readSeq: number }[] };
    const entry = summary.conversations.find((c) => c.room === 'hist');
    assert.deepEqual({ readSeq: entry?.readSeq, unread: entry?.unread }, { readSeq: 25, unread: 0 }, 'sending moved the read position to the last sent');
  });

  it('call signaling reaches the callee with the caller session; user_offline is a typed error', async (t) => {
    const alice = sdk(t, srv.wsUrl, { user: 's-alice' });
    const bob = sdk(t, srv.wsUrl, { user: 's-bob' });
    await Promise.all([alice.connect(), bob.connect()]);
    const signals = bob.events('signal');
    const r = await alice.signal('s-bob', 'call-1', 'offer', { sdp: 'v=0' });
    assert.deepEqual(r, { sessions: 1 });
    const { value } = await signals.next();
    assert.equal(value.from, 's-alice');
    assert.equal(value.session, alice.connection!.session);
    assert.deepEqual(value.data, { sdp: 'v=0' });
    await signals.return();
    await assert.rejects(alice.signal('nobody-here', 'call-2', 'offer'), (e: unknown) => e instanceof ServerError && e.code === 'user_offline');

    // The answer goes to the session that called, not to every device of its user.
    const alicePhone = sdk(t, srv.wsUrl, { user: 's-alice' });
    await alicePhone.connect();
    const onPhone: unknown[] = [];
    alicePhone.on('signal', (sig) => onPhone.push(sig));
    const answers = alice.events('signal');
    assert.deepEqual(await bob.signal('s-alice', 'call-1', 'answer', { sdp: 'v=0' }, { session: value.session }), { sessions: 1 });
    assert.equal((await answers.next()).value.kind, 'answer');
    await answers.return();
    await alicePhone.request({ type: 'ping' });
    assert.deepEqual(onPhone, []);
  });

  it('requests reject with typed errors and time out; nothing connected → waits, then TimeoutError', async (t) => {
    const alice = sdk(t, srv.wsUrl, { user: 'e-alice' });
    await alice.connect();
    await assert.rejects(alice.publish('not-joined-room', 'x'), (e: unknown) => e instanceof ServerError && e.code === 'not_joined' && e.command === 'publish');
    await assert.rejects(alice.join('private:secret'), (e: unknown) => e instanceof ServerError && e.code === 'forbidden');
    assert.deepEqual(alice.rooms, [], 'a refused join is not kept');
    await assert.rejects(alice.history({ room: 'never-joined' }), (e: unknown) => e instanceof ServerError && e.code === 'forbidden');
    await assert.rejects(alice.request({ type: 'typing', room: 'a', to: 'b' }), (e: unknown) => e instanceof ServerError && e.code === 'invalid_request');
    assert.ok((await alice.ping()) >= 0);

    const idle = new SwitchboardClient({ url: srv.wsUrl, user: 'e-idle' });
    t.after(() => idle.close());
    await assert.rejects(idle.presence('x', { timeoutMs: 100 }), (e: unknown) => e instanceof TimeoutError && e.code === 'timeout');
    await assert.rejects(idle.signal('e-alice', 'c', 'offer'), NotConnectedError);
    // Requests made before connect() go out once it connects.
    const early = idle.presence('x', { timeoutMs: 3_000 });
    await idle.connect();
    assert.deepEqual(await early, []);
    const queued = idle.send('e-alice', 'queued before close');
    void queued.catch(() => {});
    await idle.close();
    await assert.rejects(idle.publish('x', 'after close'), ClientClosedError);
    assert.equal(idle.state, 'disconnected');
  });

  it('leave() ends a membership remembered from an earlier session', async (t) => {
    const first = sdk(t, srv.wsUrl, { user: 'mem-alice' });
    await first.connect();
    await first.join('mem-room');
    await first.close();
    const rooms = async (): Promise<string[]> => {
      const c = sdk(t, srv.wsUrl, { user: 'mem-alice' });
      const summary = new Promise<UnreadPush>((resolve) => c.on('unread', resolve));
      await c.connect();
      const names = (await summary).conversations.map((x) => x.room ?? '');
      await c.close();
      return names;
    };
    assert.deepEqual(await rooms(), ['mem-room'], 'a member across sessions');
    const later = sdk(t, srv.wsUrl, { user: 'mem-alice' });
    await later.connect();
    assert.deepEqual(await later.leave('mem-room'), { room: 'mem-room' });
    await later.close();
    assert.deepEqual(await rooms(), [], 'no longer a member');
  });

  it("join's timeoutMs: beyond what a timer can hold it is no timeout at all, not one that fires at once", async (t) => {
    const alice = sdk(t, srv.wsUrl, { user: 'jt-alice' });
    await alice.connect();
    // setTimeout takes at most 2^31 − 1 ms; a longer delay fires after 1 ms.
    const r = await alice.join('jt-room', { timeoutMs: 3_000_000_000 });
    assert.equal(r.room, 'jt-room');
    await assert.rejects(
      alice.join('private:jt', { timeoutMs: 3_000_000_000 }),
      (e: unknown) => e instanceof ServerError && e.code === 'forbidden',
    );
  });

  it('a message larger than the frame limit is refused locally (MessageTooLargeError), not sent to be closed with 1009', async (t) => {
    const alice = sdk(t, srv.wsUrl, { user: 'big-alice' });
    const ra = new Recorder(alice);
    await alice.connect();
    await alice.join('big');
    await assert.rejects(alice.publish('big', { blob: 'x'.repeat(70_000) }, { contentType: 'x-blob' }), MessageTooLargeError);
    assert.equal(alice.queued, 0);
    const ok = await alice.publish('big', 'still connected');
    assert.equal(ok.seq, 1);
    assert.deepEqual(ra.states.map((s) => s.state), ['connecting', 'connected']);
  });

  it('messages as an async iterator, filtered by conversation', async (t) => {
    const alice = sdk(t, srv.wsUrl, { user: 'i-alice' });
    const bob = sdk(t, srv.wsUrl, { user: 'i-bob' });
    await Promise.all([alice.connect(), bob.connect()]);
    await alice.join('iter');
    await bob.join('iter');
    const stream = bob.messages({ room: 'iter' });
    const received: MessagePush[] = [];
    const reading = (async () => {
      for await (const m of stream) {
        received.push(m);
        if (received.length === 5) break;
      }
    })();
    await alice.send('i-bob', 'not in the room');
    for (let i = 1; i <= 5; i++) await alice.publish('iter', `n${i}`);
    await reading;
    assert.deepEqual(received.map((m) => m.body), ['n1', 'n2', 'n3', 'n4', 'n5']);
  });

  it('uploads media and sends it; the recipient can fetch it with fileUrl', async (t) => {
    const alice = sdk(t, srv.wsUrl, { user: 'm-alice' });
    const bob = sdk(t, srv.wsUrl, { user: 'm-bob' });
    const rb = new Recorder(bob);
    await Promise.all([alice.connect(), bob.connect()]);
    const { upload, ack } = await alice.sendMedia({ to: 'm-bob' }, new Blob([PNG], { type: 'image/png' }), { name: 'dot.png', width: 1, height: 1, caption: 'a dot' });
    assert.deepEqual(upload, { id: upload.id, url: `/files/${upload.id}`, name: 'dot.png', mime: 'image/png', size: PNG.length });
    assert.equal(ack.seq, 1);
    await rb.until(() => rb.of({ with: 'm-alice' }).length === 1, 'bob gets the image');
    const m = rb.of({ with: 'm-alice' })[0]!;
    assert.equal(m.contentType, 'image');
    assert.deepEqual(m.body, { url: upload.url, name: 'dot.png', mime: 'image/png', size: PNG.length, width: 1, height: 1, caption: 'a dot' });
    const res = await fetch(bob.fileUrl((m.body as { url: string }).url));
    assert.equal(res.status, 200);
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), PNG);

    const bytes = await alice.upload(new TextEncoder().encode('plain bytes'), { name: 'a.txt', mime: 'text/plain' });
    assert.equal(bytes.size, 11);
    await assert.rejects(alice.upload(PNG, { name: 'bad/name' }), (e: unknown) => e instanceof UploadError && e.code === 'invalid_name' && e.status === 400);
  });
});
