// test-encodings: json proto lean
/** Presence: join/leave events to members, the `presence` query, and leaves on disconnect. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connectUser, type Msg } from '../helpers/client.js';
import { serverFor } from '../helpers/shared-server.js';

const presence = (room: string, user: string, event: 'join' | 'leave') => (m: Msg) =>
  m.type === 'presence' && m.room === room && m.user === user && m.event === event;

/** Sorted users of a presence reply, for comparison. */
function users(data: { users: { user: string; sessions: number }[] }): [string, number][] {
  return data.users.map((u): [string, number] => [u.user, u.sessions]).sort((a, b) => a[0].localeCompare(b[0]));
}

describe('presence', () => {
  const server = serverFor(['--auth.dev', 'true']);

  it('announces joins and leaves to members and lists users with session counts', async () => {
    const alice = await connectUser(server().wsUrl, 'alice');
    const bob1 = await connectUser(server().wsUrl, 'bob');
    const bob2 = await connectUser(server().wsUrl, 'bob');

    await alice.call({ type: 'join', room: 'lobby' });
    // The joiner itself is told.
    assert.deepEqual(await alice.next(presence('lobby', 'alice', 'join')), { type: 'presence', room: 'lobby', user: 'alice', event: 'join' });

    await bob1.call({ type: 'join', room: 'lobby' });
    await alice.next(presence('lobby', 'bob', 'join'));
    await bob1.next(presence('lobby', 'bob', 'join'));

    // bob's second session joining is not a new arrival of bob.
    await bob2.call({ type: 'join', room: 'lobby' });
    const q = await alice.call<{ room: string; users: { user: string; sessions: number }[] }>({ type: 'presence', room: 'lobby' });
    assert.equal(q.room, 'lobby');
    assert.deepEqual(users(q), [
      ['alice', 1],
      ['bob', 2],
    ]);
    // Anyone may ask about a public room, member or not.
    const outsider = await connectUser(server().wsUrl, 'outsider');
    assert.deepEqual(users(await outsider.call({ type: 'presence', room: 'lobby' })), [
      ['alice', 1],
      ['bob', 2],
    ]);
    assert.deepEqual(await outsider.call({ type: 'presence', room: 'empty-room' }), { room: 'empty-room', users: [] });

    // One of bob's sessions leaving: bob is still there, no leave event.
    await bob2.call({ type: 'leave', room: 'lobby' });
    await alice.barrier();
    assert.equal(alice.all(presence('lobby', 'bob', 'leave')).length, 0, 'no leave while bob has a session in the room');
    assert.equal(alice.all(presence('lobby', 'bob', 'join')).length, 1, 'exactly one join event for bob');
    assert.deepEqual(users(await alice.call({ type: 'presence', room: 'lobby' })), [
      ['alice', 1],
      ['bob', 1],
    ]);

    // bob's last session leaves: the remaining members are told.
    await bob1.call({ type: 'leave', room: 'lobby' });
    await alice.next(presence('lobby', 'bob', 'leave'));
    assert.deepEqual(users(await alice.call({ type: 'presence', room: 'lobby' })), [['alice', 1]]);

    await Promise.all([alice.close(), bob1.close(), bob2.close(), outsider.close()]);
  });

  it('closing a socket leaves every room at once', async () => {
    const carol = await connectUser(server().wsUrl, 'carol');
    const dave = await connectUser(server().wsUrl, 'dave');
    for (const room of ['r1', 'r2']) {
      await carol.call({ type: 'join', room });
      await dave.call({ type: 'join', room });
    }
    await carol.next(presence('r2', 'dave', 'join'));

    // A clean close: leave events well before any heartbeat could notice.
    const t0 = Date.now();
    await dave.close();
    await carol.next(presence('r1', 'dave', 'leave'), 1_000);
    await carol.next(presence('r2', 'dave', 'leave'), 1_000);
    assert.ok(Date.now() - t0 < 1_000);
    assert.deepEqual(users(await carol.call({ type: 'presence', room: 'r1' })), [['carol', 1]]);

    // An abrupt end of the TCP connection (no close frame) too.
    const erin = await connectUser(server().wsUrl, 'erin');
    await erin.call({ type: 'join', room: 'r1' });
    await carol.next(presence('r1', 'erin', 'join'));
    erin.terminate();
    await carol.next(presence('r1', 'erin', 'leave'), 1_000);
    assert.deepEqual(users(await carol.call({ type: 'presence', room: 'r1' })), [['carol', 1]]);
    await carol.close();
  });
});

describe('presence events off', () => {
  const server = serverFor(['--auth.dev', 'true', '--rooms.presenceEvents', 'false']);

  it('sends no presence pushes but still answers the query', async () => {
    const alice = await connectUser(server().wsUrl, 'alice');
    const bob = await connectUser(server().wsUrl, 'bob');
    await alice.call({ type: 'join', room: 'quiet' });
    await bob.call({ type: 'join', room: 'quiet' });
    await bob.close();
    await alice.barrier();
    assert.deepEqual(alice.all('presence'), []);
    assert.deepEqual(users(await alice.call({ type: 'presence', room: 'quiet' })), [['alice', 1]]);
    await alice.close();
  });
});
