/**
 * The room registry and the webhook queue, for every Store implementation: part of the behavioural suite
 * (store-suite.ts runs it on the suite's store, so that both stores are tested the same way).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { emptyBatch, type NewMessage, type RoomRecord, type Store, type WebhookEvent } from '../../src/store/store.js';

/** The suite's store (replaced by `reopen`), and whether it is unavailable (then the tests skip). */
export interface SuiteStore {
  store: () => Store;
  reopen: () => Promise<void>;
  skip: () => boolean;
}

function room(name: string, part: Partial<RoomRecord> = {}): RoomRecord {
  return { name, kind: 'public', durable: false, maxCount: null, maxAgeDays: null, createdAt: 1_700_000_000_000, ...part };
}

function hook(id: string, endpoint: string, nextAt: number, createdAt: number, attempts = 0): WebhookEvent {
  return { id, endpoint, body: JSON.stringify({ id, type: 'message' }), attempts, nextAt, createdAt };
}

let n = 0;
function msg(conv: string, from: string, body: string): NewMessage {
  n++;
  return { id: `reg-m${n}`, conv, from, contentType: 'text', body: JSON.stringify(body), ts: 3_000_000 + n, key: null, fileId: null };
}

export function registrySuite(ctx: SuiteStore): void {
  describe('room registry', () => {
    it('creates a room once, reads it back, updates all but its creation time and deletes it', async (t) => {
      if (ctx.skip()) return t.skip('store unavailable');
      const store = ctx.store();
      const lobby = room('lobby', { kind: 'private', durable: true, maxCount: 500, maxAgeDays: 1.5, createdAt: 1_700_000_000_123 });
      assert.equal(await store.createRoom(lobby), true);
      assert.deepEqual(await store.getRoom('lobby'), lobby);
      assert.equal(await store.createRoom(room('lobby', { kind: 'push' })), false, 'a room of that name exists');
      assert.deepEqual(await store.getRoom('lobby'), lobby, 'nothing written by the refused create');
      assert.equal(await store.getRoom('nowhere'), null);

      const changed = room('lobby', { kind: 'push', durable: false, maxCount: null, maxAgeDays: 30, createdAt: 5 });
      assert.equal(await store.updateRoom(changed), true);
      assert.deepEqual(await store.getRoom('lobby'), { ...changed, createdAt: lobby.createdAt }, 'createdAt stays');
      assert.equal(await store.updateRoom(room('nowhere')), false);
      assert.equal(await store.getRoom('nowhere'), null, 'an update creates nothing');

      assert.equal(await store.deleteRoom('lobby'), true);
      assert.equal(await store.getRoom('lobby'), null);
      assert.equal(await store.deleteRoom('lobby'), false);
      assert.equal(await store.createRoom(lobby), true, 'the name is free again');
      assert.equal(await store.deleteRoom('lobby'), true);
    });

    it('lists rooms by name, by the bytes of the name whatever the database locale', async (t) => {
      if (ctx.skip()) return t.skip('store unavailable');
      const store = ctx.store();
      // Language rules (a database's locale may follow them) put 'B' after 'a'; bytes put it first.
      for (const name of ['ra', 'r-b', 'a', 'B', 'ops:alerts']) assert.equal(await store.createRoom(room(name, { kind: name === 'ops:alerts' ? 'push' : 'public' })), true);
      const rooms = await store.listRooms();
      assert.deepEqual(
        rooms.map((r) => r.name),
        ['B', 'a', 'ops:alerts', 'r-b', 'ra'],
      );
      assert.deepEqual(rooms[2], room('ops:alerts', { kind: 'push' }));
      for (const r of rooms) assert.equal(await store.deleteRoom(r.name), true);
      assert.deepEqual(await store.listRooms(), []);
    });

    it("keeps a private room's member list apart from conversation memberships, and deletes it with the room", async (t) => {
      if (ctx.skip()) return t.skip('store unavailable');
      const store = ctx.store();
      await store.createRoom(room('staff', { kind: 'private' }));
      assert.equal(await store.addRoomMember('staff', 'zoe'), true);
      assert.equal(await store.addRoomMember('staff', 'amy'), true);
      assert.equal(await store.addRoomMember('staff', 'amy'), false, 'already a member');
      assert.equal(await store.addRoomMember('staff', 'Bob'), true);
      assert.deepEqual(await store.listRoomMembers('staff'), ['Bob', 'amy', 'zoe']);
      assert.deepEqual(await store.members('r:staff'), [], 'not a conversation membership');
      assert.equal(await store.isMember('amy', 'r:staff'), false);

      assert.equal(await store.removeRoomMember('staff', 'zoe'), true);
      assert.equal(await store.removeRoomMember('staff', 'zoe'), false, 'no longer a member');
      assert.equal(await store.removeRoomMember('nowhere', 'amy'), false);
      assert.deepEqual(await store.listRoomMembers('staff'), ['Bob', 'amy']);
      assert.deepEqual(await store.listRoomMembers('nowhere'), []);

      // A room the registry does not have may have members: they are just stored.
      assert.equal(await store.getRoom('unlisted'), null);
      assert.equal(await store.addRoomMember('unlisted', 'amy'), true);
      assert.deepEqual(await store.allRoomMembers(), [
        { room: 'staff', user: 'Bob' },
        { room: 'staff', user: 'amy' },
        { room: 'unlisted', user: 'amy' },
      ]);

      // Deleting a room takes its members, not its messages.
      const [stored] = await store.commit({ ...emptyBatch(), messages: [msg('r:staff', 'amy', 'kept')] });
      assert.equal(await store.deleteRoom('staff'), true);
      assert.deepEqual(await store.listRoomMembers('staff'), []);
      assert.deepEqual(await store.allRoomMembers(), [{ room: 'unlisted', user: 'amy' }]);
      assert.deepEqual(
        (await store.history({ conv: 'r:staff', limit: 10 })).messages.map((m) => m.seq),
        [stored!.seq],
      );
      assert.equal(await store.deleteRoom('unlisted'), false, 'not in the registry');
      assert.deepEqual(await store.listRoomMembers('unlisted'), ['amy'], 'so its members stay');
      assert.equal(await store.removeRoomMember('unlisted', 'amy'), true);
      assert.deepEqual(await store.allRoomMembers(), []);
    });

    it('answers registry calls in the order they were made', async (t) => {
      if (ctx.skip()) return t.skip('store unavailable');
      const store = ctx.store();
      const created = store.createRoom(room('ordered'));
      const joined = store.addRoomMember('ordered', 'u1');
      const read = store.getRoom('ordered');
      const members = store.listRoomMembers('ordered');
      const gone = store.deleteRoom('ordered');
      const after = store.getRoom('ordered');
      assert.deepEqual(await Promise.all([created, joined, read, members, gone, after]), [true, true, room('ordered'), ['u1'], true, null]);
    });
  });

  describe('webhook queue', () => {
    /** The ids of an endpoint's events due at `now`. */
    const due = async (endpoint: string, now: number, limit = 100): Promise<string[]> => (await ctx.store().dueWebhooks(endpoint, now, limit)).map((e) => e.id);

    it('queues events once per id, in one call', async (t) => {
      if (ctx.skip()) return t.skip('store unavailable');
      const store = ctx.store();
      const first = hook('q-1', 'enq', 100, 10);
      await store.enqueueWebhooks([first, hook('q-2', 'enq', 100, 11)]);
      assert.deepEqual(await store.dueWebhooks('enq', 100, 10), [first, hook('q-2', 'enq', 100, 11)]);
      // An id already queued is left as it is: not its body, attempts or time.
      await store.enqueueWebhooks([{ ...first, body: '{"changed":true}', attempts: 5, nextAt: 1 }, hook('q-3', 'enq', 100, 12)]);
      assert.deepEqual(await store.dueWebhooks('enq', 100, 10), [first, hook('q-2', 'enq', 100, 11), hook('q-3', 'enq', 100, 12)]);
      await store.enqueueWebhooks([]);
      assert.equal(await store.countWebhooks('enq'), 3);
      for (const id of ['q-1', 'q-2', 'q-3']) await store.deleteWebhook(id);
      assert.equal(await store.countWebhooks('enq'), 0);
    });

    it("gives an endpoint's due events by (nextAt, createdAt, id), up to a limit", async (t) => {
      if (ctx.skip()) return t.skip('store unavailable');
      const store = ctx.store();
      await store.enqueueWebhooks([
        hook('d-late', 'a', 300, 1),
        hook('d-b', 'a', 200, 50),
        hook('d-a', 'a', 200, 50),
        hook('d-young', 'a', 200, 60),
        hook('d-old', 'a', 200, 40),
        hook('d-first', 'a', 100, 99),
        hook('d-other', 'b', 100, 1),
      ]);
      assert.deepEqual(await due('a', 99), [], 'none due yet');
      assert.deepEqual(await due('a', 100), ['d-first'], 'due at nextAt itself');
      assert.deepEqual(await due('a', 299), ['d-first', 'd-old', 'd-a', 'd-b', 'd-young']);
      assert.deepEqual(await due('a', 1_000), ['d-first', 'd-old', 'd-a', 'd-b', 'd-young', 'd-late']);
      assert.deepEqual(await due('a', 1_000, 2), ['d-first', 'd-old']);
      assert.deepEqual(await due('b', 1_000), ['d-other'], "only the endpoint's own");
      assert.deepEqual(await due('c', 1_000), []);
      assert.equal(await store.countWebhooks('a'), 6);
      assert.equal(await store.countWebhooks('b'), 1);
      assert.equal(await store.countWebhooks('c'), 0);
    });

    it('moves a retried event on, and removes a delivered one', async (t) => {
      if (ctx.skip()) return t.skip('store unavailable');
      const store = ctx.store();
      await store.retryWebhook('d-first', 1, 250);
      const [retried] = await store.dueWebhooks('a', 250, 100).then((l) => l.filter((e) => e.id === 'd-first'));
      assert.deepEqual(retried, hook('d-first', 'a', 250, 99, 1), 'attempts and nextAt, nothing else');
      assert.deepEqual(await due('a', 249), ['d-old', 'd-a', 'd-b', 'd-young'], 'not due before its new time');
      assert.deepEqual(await due('a', 300), ['d-old', 'd-a', 'd-b', 'd-young', 'd-first', 'd-late']);
      await store.retryWebhook('nowhere', 1, 1);
      await store.deleteWebhook('d-a');
      await store.deleteWebhook('d-a');
      await store.deleteWebhook('nowhere');
      assert.deepEqual(await due('a', 1_000), ['d-old', 'd-b', 'd-young', 'd-first', 'd-late']);
      assert.equal(await store.countWebhooks('a'), 5);
    });

    it('drops the oldest events of an endpoint past the newest `keep`', async (t) => {
      if (ctx.skip()) return t.skip('store unavailable');
      const store = ctx.store();
      // By createdAt (then id): d-late 1, d-old 40, d-b 50, d-young 60, d-first 99. nextAt does not count.
      assert.equal(await store.dropOldestWebhooks('a', 10), 0);
      assert.equal(await store.dropOldestWebhooks('a', 3), 2);
      assert.deepEqual(await due('a', 1_000), ['d-b', 'd-young', 'd-first']);
      await store.enqueueWebhooks([hook('d-c', 'a', 500, 50), hook('d-d', 'a', 500, 99)]);
      assert.equal(await store.dropOldestWebhooks('a', 3), 2, 'ties on createdAt go by id: d-b before d-c, d-d after d-first');
      assert.deepEqual(await due('a', 1_000), ['d-young', 'd-first', 'd-d']);
      assert.equal(await store.countWebhooks('b'), 1, "another endpoint's are not touched");
      assert.equal(await store.dropOldestWebhooks('b', 0), 1);
      assert.equal(await store.countWebhooks('b'), 0);
    });
  });

  it('keeps rooms, member lists and queued webhook events across a reopen', async (t) => {
    if (ctx.skip()) return t.skip('store unavailable');
    let store = ctx.store();
    const kept = room('persist', { kind: 'private', durable: true, maxCount: 10, maxAgeDays: 7, createdAt: 42 });
    await store.createRoom(kept);
    await store.addRoomMember('persist', 'u2');
    await store.addRoomMember('persist', 'u1');
    const events = [hook('p-1', 'persist', 10, 1), hook('p-2', 'persist', 5, 2, 3)];
    await store.enqueueWebhooks(events);
    await ctx.reopen();
    store = ctx.store();
    assert.deepEqual(await store.getRoom('persist'), kept);
    assert.deepEqual(await store.listRooms(), [kept]);
    assert.deepEqual(await store.listRoomMembers('persist'), ['u1', 'u2']);
    assert.deepEqual(await store.allRoomMembers(), [
      { room: 'persist', user: 'u1' },
      { room: 'persist', user: 'u2' },
    ]);
    assert.deepEqual(await store.dueWebhooks('persist', 10, 10), [events[1], events[0]]);
    assert.equal(await store.countWebhooks('persist'), 2);
    // And they work on after it.
    assert.equal(await store.createRoom(kept), false);
    await store.retryWebhook('p-2', 4, 20);
    assert.deepEqual(await store.dueWebhooks('persist', 20, 10), [events[0], { ...events[1]!, attempts: 4, nextAt: 20 }]);
  });
}
