// test-encodings: json proto lean
/** Direct messages reach every session of the recipient and every session of the sender. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { closeAllClients, connectUser, type Msg, type TestClient } from '../helpers/client.js';
import { serverFor } from '../helpers/shared-server.js';

const isDm = (from: string, to: string, seq: number) => (m: Msg) => m.type === 'message' && m.from === from && m.to === to && m.seq === seq;

describe('direct messages', () => {
  const server = serverFor(['--auth.dev', 'true']);

  it('reach all of the recipient\'s sessions and the sender\'s other sessions, in one sequence per pair', async () => {
    const alice1 = await connectUser(server().wsUrl, 'alice');
    const alice2 = await connectUser(server().wsUrl, 'alice');
    const bob1 = await connectUser(server().wsUrl, 'bob');
    const bob2 = await connectUser(server().wsUrl, 'bob');
    const carol = await connectUser(server().wsUrl, 'carol');

    const r1 = await alice1.call<{ id: string; seq: number; ts: number }>({ type: 'send', to: 'bob', body: 'hi bob', key: 'dm-1' });
    assert.equal(r1.seq, 1);
    assert.equal(typeof r1.id, 'string');
    assert.equal(typeof r1.ts, 'number');

    const everyone: [string, TestClient][] = [
      ['alice1 (sender)', alice1],
      ['alice2', alice2],
      ['bob1', bob1],
      ['bob2', bob2],
    ];
    for (const [name, c] of everyone) {
      const m = await c.next(isDm('alice', 'bob', 1));
      assert.equal(m.body, 'hi bob', name);
      // Version 2 identifies a pushed message by its conversation and seq: no id, no key.
      assert.equal(m.id, c.carriesMessageIds ? r1.id : undefined, name);
      assert.equal(m.ts, r1.ts, name);
      assert.equal(m.key, c.carriesMessageIds ? 'dm-1' : undefined, name);
      // The lean JSON leaves out a contentType of text (asReceived says what each encoding shows).
      assert.equal(m.contentType, c.asReceived({ contentType: 'text' }).contentType, name);
      assert.equal(m.room, undefined, name);
    }

    // The answer continues the same conversation's sequence.
    const r2 = await bob2.call<{ seq: number }>({ type: 'send', to: 'alice', body: 'hi alice' });
    assert.equal(r2.seq, 2);
    for (const [name, c] of everyone) {
      const m = await c.next(isDm('bob', 'alice', 2));
      assert.equal(m.body, 'hi alice', name);
    }

    // Another pair has its own sequence.
    const r3 = await carol.call<{ seq: number }>({ type: 'send', to: 'bob', body: 'hey' });
    assert.equal(r3.seq, 1);
    await bob1.next(isDm('carol', 'bob', 1));
    await bob2.next(isDm('carol', 'bob', 1));

    // Carol saw nothing of alice and bob's conversation; alice saw nothing of carol's.
    await carol.barrier();
    await alice1.barrier();
    await alice2.barrier();
    assert.deepEqual(
      carol.all('message').map((m) => [m.from, m.to, m.seq]),
      [['carol', 'bob', 1]],
    );
    for (const a of [alice1, alice2]) assert.equal(a.all((m) => m.type === 'message' && (m.from === 'carol' || m.to === 'carol')).length, 0);
    // Each session got each message exactly once.
    for (const [name, c] of everyone) assert.equal(c.all((m) => m.type === 'message' && (m.from === 'alice' || m.to === 'alice')).length, 2, name);

    await Promise.all([alice1, alice2, bob1, bob2, carol].map((c) => c.close()));
  });

  it('reaches an offline user nowhere but still answers and echoes to the sender', async () => {
    const dave = await connectUser(server().wsUrl, 'dave');
    const r = await dave.call<{ seq: number }>({ type: 'send', to: 'nobody-here', body: 'anyone?' });
    assert.equal(r.seq, 1);
    await dave.next(isDm('dave', 'nobody-here', 1));
    await dave.close();
  });

  it('typing and signal reach every session of the target', async () => {
    const erin1 = await connectUser(server().wsUrl, 'erin');
    const erin2 = await connectUser(server().wsUrl, 'erin');
    const frank = await connectUser(server().wsUrl, 'frank');
    frank.send({ type: 'typing', to: 'erin', active: true });
    for (const c of [erin1, erin2]) {
      const t = await c.next('typing');
      assert.deepEqual(t, { type: 'typing', to: 'erin', from: 'frank', active: true });
    }
    const frankSession = frank.session;
    assert.ok(frankSession);
    assert.deepEqual(await frank.call({ type: 'signal', to: 'erin', callId: 'c1', kind: 'offer', data: { sdp: 'v=0' } }), { sessions: 2 });
    for (const c of [erin1, erin2]) {
      const s = await c.next('signal');
      assert.deepEqual(s, { type: 'signal', from: 'frank', session: frankSession, callId: 'c1', kind: 'offer', data: { sdp: 'v=0' } });
    }
    const off = await frank.request({ type: 'signal', to: 'ghost', callId: 'c2', kind: 'offer' });
    assert.equal(off.code, 'user_offline');

    // The answer goes back to the one session that called, not to every session of its user.
    const frank2 = await connectUser(server().wsUrl, 'frank');
    assert.deepEqual(await erin2.call({ type: 'signal', to: 'frank', session: frankSession, callId: 'c1', kind: 'answer', data: { sdp: 'v=0' } }), { sessions: 1 });
    const answer = await frank.next('signal');
    assert.equal(answer.kind, 'answer');
    await frank2.barrier();
    assert.equal(frank2.all('signal').length, 0, 'the other session of frank got nothing');
    const gone = await erin2.request({ type: 'signal', to: 'frank', session: 'no-such-session', callId: 'c1', kind: 'hangup' });
    assert.equal(gone.code, 'user_offline');
    await Promise.all([erin1.close(), erin2.close(), frank.close(), frank2.close()]);
  });
});
