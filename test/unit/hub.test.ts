/**
 * Hub routing with fake sessions: no sockets, no outbound layer. A fake session
 * records what the hub queues for it (direct Buffers, and shared batches with
 * their start offset); `turn()` plays the flusher: it closes the epoch and then
 * reads every queue, exactly as Flusher.run does (epoch first, then flush).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Hub, type HubOptions } from '../../src/hub/hub.js';

/** Without a store every hub answer is immediate; this unwraps it (and fails if it is not). */
function done<T>(v: T | Promise<T>): T {
  assert.ok(!(v instanceof Promise), 'expected an immediate answer');
  return v as T;
}
import { HubError } from '../../src/hub/errors.js';
import type { HubSession } from '../../src/hub/session.js';
import { SharedBatch, type Tick } from '../../src/outbound/shared-batch.js';
import { CloseCode, ErrorCode } from '../../src/protocol/codes.js';
import { Flusher } from '../../src/outbound/flusher.js';
import { Outbox } from '../../src/outbound/outbox.js';
import { FakeQueue } from '../helpers/fake-queue.js';

let nextSessionId = 0;

class FakeSession extends FakeQueue implements HubSession {
  readonly id: string;
  grants: readonly string[];
  readonly rooms = new Set<string>();

  constructor(
    readonly user: string,
    grants: readonly string[] = [],
  ) {
    super();
    this.id = `s${++nextSessionId}`;
    this.grants = grants;
  }

  /** Decoded messages received so far. */
  msgs(): Record<string, unknown>[] {
    return this.received.map((b) => JSON.parse(b.toString('utf8')) as Record<string, unknown>);
  }

  /** Received messages of one type, decoded. */
  ofType(type: string): Record<string, unknown>[] {
    return this.msgs().filter((m) => m.type === type);
  }

  reset(): void {
    this.received.length = 0;
  }
}

interface Rig {
  hub: Hub;
  tick: Tick;
  sessions: FakeSession[];
  /** Creates and connects a session (asserting the hub accepted it). */
  connect(user: string, grants?: readonly string[]): FakeSession;
  /** Ends the turn: closes the epoch, then every session reads its queue. */
  turn(): void;
}

function rig(overrides: Partial<HubOptions> = {}): Rig {
  const tick: Tick = { epoch: 1 };
  let ids = 0;
  let clock = 1_700_000_000_000;
  const hub = new Hub({
    tick,
    now: () => clock++,
    nextId: () => `m${++ids}`,
    roomRules: [
      { match: 'private:*', kind: 'private' },
      { match: 'push:*', kind: 'push' },
    ],
    presenceEvents: true,
    roomsPerSession: 100,
    sessionPolicy: 'multiple',
    maxSessionsPerUser: 10,
    ...overrides,
  });
  const sessions: FakeSession[] = [];
  return {
    hub,
    tick,
    sessions,
    connect(user, grants = []) {
      const s = new FakeSession(user, grants);
      const r = hub.connect(s);
      assert.deepEqual(r, { ok: true });
      sessions.push(s);
      return s;
    },
    turn() {
      tick.epoch++;
      for (const s of sessions) s.drain();
    },
  };
}

/** A short readable form of a received message, for order assertions. */
function label(m: Record<string, unknown>): string {
  switch (m.type) {
    case 'message':
      return `msg:${String(m.body)}#${String(m.seq)}`;
    case 'presence':
      return `${String(m.event)}:${String(m.user)}`;
    case 'typing':
      return `typing:${String(m.from)}:${String(m.active)}`;
    default:
      return String(m.type);
  }
}

function labels(s: FakeSession): string[] {
  return s.msgs().map(label);
}

function hubError(code: string) {
  return (e: unknown) => {
    assert.ok(e instanceof HubError, `expected HubError, got ${String(e)}`);
    assert.equal(e.code, code);
    return true;
  };
}

describe('Hub: join, leave, publish', () => {
  it('delivers presence and messages in order with per-room sequence numbers', () => {
    const r = rig();
    const a = r.connect('alice');
    const b = r.connect('bob');
    assert.deepEqual(done(r.hub.join(a, 'general')), { room: 'general', kind: 'public', durable: false, seq: 0 });
    done(r.hub.join(b, 'general'));
    const ack1 = done(r.hub.publish(a, 'general', 'text', 'one'));
    const ack2 = done(r.hub.publish(b, 'general', 'text', 'two', 'k-2'));
    r.hub.leave(b, 'general');
    r.turn();

    assert.equal(ack1.seq, 1);
    assert.equal(ack2.seq, 2);
    assert.deepEqual(labels(a), ['join:alice', 'join:bob', 'msg:one#1', 'msg:two#2', 'leave:bob']);
    // bob joined after alice's join event and left before its own leave event.
    assert.deepEqual(labels(b), ['join:bob', 'msg:one#1', 'msg:two#2']);

    const two = a.ofType('message')[1]!;
    assert.deepEqual(two, {
      type: 'message',
      id: ack2.id,
      room: 'general',
      seq: 2,
      from: 'bob',
      contentType: 'text',
      body: 'two',
      ts: ack2.ts,
      key: 'k-2',
    });
    assert.equal('key' in a.ofType('message')[0]!, false, 'no key when the sender gave none');
  });

  it('keeps a separate sequence per room, continuing across turns', () => {
    const r = rig();
    const a = r.connect('alice');
    done(r.hub.join(a, 'x'));
    done(r.hub.join(a, 'y'));
    assert.equal(done(r.hub.publish(a, 'x', 'text', 'x1')).seq, 1);
    assert.equal(done(r.hub.publish(a, 'x', 'text', 'x2')).seq, 2);
    assert.equal(done(r.hub.publish(a, 'y', 'text', 'y1')).seq, 1);
    r.turn();
    assert.equal(done(r.hub.publish(a, 'x', 'text', 'x3')).seq, 3);
    assert.equal(done(r.hub.publish(a, 'y', 'text', 'y2')).seq, 2);
    r.turn();
    const msgs = a.ofType('message').map((m) => `${String(m.room)}:${String(m.seq)}`);
    assert.deepEqual(msgs, ['x:1', 'x:2', 'y:1', 'x:3', 'y:2']);
    // join reports the latest seq; joining again changes nothing.
    const b = r.connect('bob');
    assert.equal(done(r.hub.join(b, 'x')).seq, 3);
    assert.deepEqual(done(r.hub.join(b, 'x')), { room: 'x', kind: 'public', durable: false, seq: 3 });
    r.turn();
    assert.deepEqual(labels(b), ['join:bob'], 'joining twice sends one presence event');
  });

  it('refuses publish, leave and typing in a room the session has not joined', () => {
    const r = rig();
    const a = r.connect('alice');
    const b = r.connect('bob');
    done(r.hub.join(b, 'general'));
    assert.throws(() => done(r.hub.publish(a, 'general', 'text', 'hi')), hubError(ErrorCode.NotJoined));
    assert.throws(() => done(r.hub.publish(a, 'nowhere', 'text', 'hi')), hubError(ErrorCode.NotJoined));
    assert.throws(() => r.hub.leave(a, 'general'), hubError(ErrorCode.NotJoined));
    assert.throws(() => r.hub.typing(a, { room: 'general' }, true), hubError(ErrorCode.NotJoined));
  });

  it('encodes a room message once: every member receives the same Buffer instance', () => {
    const r = rig({ presenceEvents: false });
    const members = [r.connect('alice'), r.connect('alice'), r.connect('bob'), r.connect('carol')];
    for (const m of members) done(r.hub.join(m, 'general'));
    done(r.hub.publish(members[0]!, 'general', 'text', 'hello'));
    // The queues hold the very same batch object.
    const batches = members.map((m) => m.queue.find((q) => q.kind === 'shared'));
    for (const q of batches) {
      assert.ok(q && q.kind === 'shared');
      assert.equal(q.batch, (batches[0] as { batch: SharedBatch }).batch);
    }
    r.turn();
    const first = members[0]!.received[0]!;
    assert.equal(JSON.parse(first.toString()).body, 'hello');
    for (const m of members) {
      assert.equal(m.received.length, 1);
      assert.equal(m.received[0], first, 'same Buffer instance for every member');
    }
  });

  it('starts a new batch each turn', () => {
    const r = rig({ presenceEvents: false });
    const a = r.connect('alice');
    const b = r.connect('bob');
    done(r.hub.join(a, 'general'));
    done(r.hub.join(b, 'general'));
    done(r.hub.publish(a, 'general', 'text', 'one'));
    const firstBatch = (a.queue[0] as { batch: SharedBatch }).batch;
    r.turn();
    done(r.hub.publish(a, 'general', 'text', 'two'));
    const second = a.queue[0] as { kind: string; batch: SharedBatch; start: number };
    assert.equal(second.kind, 'shared');
    assert.notEqual(second.batch, firstBatch);
    assert.equal(firstBatch.chunks.length, 1, 'a closed batch is never appended to');
    r.turn();
    assert.deepEqual(labels(b), ['msg:one#1', 'msg:two#2']);
  });
});

describe('Hub: membership changes within one turn', () => {
  it('a session joining mid-turn gets only what was published after its join', () => {
    const r = rig({ presenceEvents: false });
    const a = r.connect('alice');
    const b = r.connect('bob');
    done(r.hub.join(a, 'general'));
    r.turn();
    done(r.hub.publish(a, 'general', 'text', 'before'));
    done(r.hub.join(b, 'general'));
    done(r.hub.publish(a, 'general', 'text', 'after'));
    r.turn();
    assert.deepEqual(labels(a), ['msg:before#1', 'msg:after#2']);
    assert.deepEqual(labels(b), ['msg:after#2']);
    // Still one encoding: bob's copy is alice's Buffer.
    assert.equal(b.received[0], a.received[1]);
  });

  it('a session joining mid-turn sees its own presence event but no earlier message', () => {
    const r = rig();
    const a = r.connect('alice');
    const b = r.connect('bob');
    done(r.hub.join(a, 'general'));
    r.turn();
    a.reset();
    done(r.hub.publish(a, 'general', 'text', 'before'));
    done(r.hub.join(b, 'general'));
    done(r.hub.publish(b, 'general', 'text', 'after'));
    r.turn();
    assert.deepEqual(labels(a), ['msg:before#1', 'join:bob', 'msg:after#2']);
    assert.deepEqual(labels(b), ['join:bob', 'msg:after#2']);
  });

  it('a session leaving mid-turn gets nothing published after it left', () => {
    const r = rig();
    const a = r.connect('alice');
    const b = r.connect('bob');
    done(r.hub.join(a, 'general'));
    done(r.hub.join(b, 'general'));
    r.turn();
    a.reset();
    b.reset();
    done(r.hub.publish(a, 'general', 'text', 'before'));
    r.hub.leave(b, 'general');
    done(r.hub.publish(a, 'general', 'text', 'after'));
    r.hub.typing(a, { room: 'general' }, true);
    r.turn();
    assert.deepEqual(labels(a), ['msg:before#1', 'leave:bob', 'msg:after#2', 'typing:alice:true']);
    assert.deepEqual(labels(b), ['msg:before#1']);
  });

  it('a session disconnecting mid-turn gets nothing published after it left', () => {
    const r = rig();
    const a = r.connect('alice');
    const b = r.connect('bob');
    done(r.hub.join(a, 'general'));
    done(r.hub.join(b, 'general'));
    r.turn();
    a.reset();
    b.reset();
    done(r.hub.publish(a, 'general', 'text', 'before'));
    r.hub.disconnect(b);
    done(r.hub.publish(a, 'general', 'text', 'after'));
    r.turn();
    assert.deepEqual(labels(a), ['msg:before#1', 'leave:bob', 'msg:after#2']);
    assert.deepEqual(labels(b), ['msg:before#1']);
  });

  it('leaving and rejoining in the same turn skips exactly what was sent while away', () => {
    const r = rig();
    const a = r.connect('alice');
    const b = r.connect('bob');
    done(r.hub.join(a, 'general'));
    done(r.hub.join(b, 'general'));
    r.turn();
    a.reset();
    b.reset();
    done(r.hub.publish(a, 'general', 'text', 'one'));
    r.hub.leave(b, 'general');
    done(r.hub.publish(a, 'general', 'text', 'two'));
    done(r.hub.join(b, 'general'));
    done(r.hub.publish(a, 'general', 'text', 'three'));
    r.turn();
    assert.deepEqual(labels(a), ['msg:one#1', 'leave:bob', 'msg:two#2', 'join:bob', 'msg:three#3']);
    assert.deepEqual(labels(b), ['msg:one#1', 'join:bob', 'msg:three#3']);
  });
});

describe('Hub: direct messages, typing, signal', () => {
  it('a DM reaches every session of both users with one shared Buffer', () => {
    const r = rig();
    const a1 = r.connect('alice');
    const a2 = r.connect('alice');
    const b1 = r.connect('bob');
    const b2 = r.connect('bob');
    const c = r.connect('carol');
    const ack = done(r.hub.sendDirect(a1, 'bob', 'text', 'hi bob', 'k1'));
    r.turn();
    const all = [a1, a2, b1, b2];
    for (const s of all) assert.equal(s.received.length, 1, `session of ${s.user}`);
    for (const s of all) assert.equal(s.received[0], a1.received[0], 'same Buffer instance');
    assert.equal(c.received.length, 0);
    assert.deepEqual(b2.msgs()[0], {
      type: 'message',
      id: ack.id,
      to: 'bob',
      seq: 1,
      from: 'alice',
      contentType: 'text',
      body: 'hi bob',
      ts: ack.ts,
      key: 'k1',
    });
  });

  it('numbers DMs per pair of users, in both directions', () => {
    const r = rig();
    const a = r.connect('alice');
    const b = r.connect('bob');
    r.connect('carol');
    assert.equal(done(r.hub.sendDirect(a, 'bob', 'text', '1')).seq, 1);
    assert.equal(done(r.hub.sendDirect(b, 'alice', 'text', '2')).seq, 2);
    assert.equal(done(r.hub.sendDirect(a, 'carol', 'text', '3')).seq, 1);
    assert.equal(done(r.hub.sendDirect(a, 'bob', 'text', '4')).seq, 3);
    // A room named like a user has its own sequence.
    done(r.hub.join(a, 'bob'));
    assert.equal(done(r.hub.publish(a, 'bob', 'text', 'room')).seq, 1);
    r.turn();
    assert.deepEqual(
      b.ofType('message').filter((m) => m.to !== undefined).map((m) => [m.from, m.to, m.seq]),
      [
        ['alice', 'bob', 1],
        ['bob', 'alice', 2],
        ['alice', 'bob', 3],
      ],
    );
  });

  it('a DM to oneself is delivered once per session', () => {
    const r = rig();
    const a1 = r.connect('alice');
    const a2 = r.connect('alice');
    done(r.hub.sendDirect(a1, 'alice', 'text', 'note to self'));
    r.turn();
    assert.equal(a1.received.length, 1);
    assert.equal(a2.received.length, 1);
  });

  it('a DM to an offline user still reaches the sender sessions and is acknowledged', () => {
    const r = rig();
    const a = r.connect('alice');
    const ack = done(r.hub.sendDirect(a, 'nobody', 'text', 'hello?'));
    assert.equal(ack.seq, 1);
    r.turn();
    assert.deepEqual(labels(a), ['msg:hello?#1']);
  });

  it('typing goes to the room members or to every session of a user', () => {
    const r = rig({ presenceEvents: false });
    const a = r.connect('alice');
    const b1 = r.connect('bob');
    const b2 = r.connect('bob');
    const c = r.connect('carol');
    done(r.hub.join(a, 'general'));
    done(r.hub.join(c, 'general'));
    r.hub.typing(a, { room: 'general' }, true);
    r.turn();
    assert.deepEqual(c.msgs(), [{ type: 'typing', room: 'general', from: 'alice', active: true }]);
    assert.deepEqual(a.msgs(), c.msgs(), 'the sender is a member too');
    assert.equal(b1.received.length, 0);

    r.hub.typing(a, { to: 'bob' }, false);
    r.turn();
    for (const b of [b1, b2]) assert.deepEqual(b.msgs(), [{ type: 'typing', to: 'bob', from: 'alice', active: false }]);
    assert.equal(b1.received[0], b2.received[0]);
    assert.equal(c.msgs().length, 1, 'nothing more for carol');
  });

  it('signal to an offline user throws user_offline', () => {
    const r = rig();
    const a = r.connect('alice');
    assert.throws(() => r.hub.signal(a, 'bob', 'call-1', 'offer', { sdp: 'v=0' }), hubError(ErrorCode.UserOffline));
  });

  it('signal reaches every session of the callee with the caller session id', () => {
    const r = rig();
    const a = r.connect('alice');
    const b1 = r.connect('bob');
    const b2 = r.connect('bob');
    assert.deepEqual(r.hub.signal(a, 'bob', 'call-1', 'offer', { sdp: 'v=0' }), { sessions: 2 });
    r.turn();
    const expected = { type: 'signal', from: 'alice', session: a.id, callId: 'call-1', kind: 'offer', data: { sdp: 'v=0' } };
    assert.deepEqual(b1.msgs(), [expected]);
    assert.deepEqual(b2.msgs(), [expected]);
    assert.equal(a.received.length, 0);
    r.hub.signal(a, 'bob', 'call-1', 'hangup', undefined);
    r.turn();
    assert.equal('data' in b1.msgs()[1]!, false);
  });
});

describe('Hub: presence', () => {
  it('counts sessions per user and sends join/leave only on the first/last session', () => {
    const r = rig();
    const a1 = r.connect('alice');
    const a2 = r.connect('alice');
    const b = r.connect('bob');
    done(r.hub.join(b, 'general'));
    done(r.hub.join(a1, 'general'));
    done(r.hub.join(a2, 'general'));
    r.turn();
    assert.deepEqual(labels(b), ['join:bob', 'join:alice']);
    const users = r.hub.presence(b, 'general').users.sort((x, y) => x.user.localeCompare(y.user));
    assert.deepEqual(users, [
      { user: 'alice', sessions: 2 },
      { user: 'bob', sessions: 1 },
    ]);

    b.reset();
    r.hub.leave(a1, 'general');
    r.turn();
    assert.deepEqual(labels(b), [], 'alice still has a session in the room');
    assert.deepEqual(
      r.hub.presence(b, 'general').users.find((u) => u.user === 'alice'),
      { user: 'alice', sessions: 1 },
    );

    r.hub.disconnect(a2);
    r.turn();
    assert.deepEqual(labels(b), ['leave:alice']);
    assert.deepEqual(r.hub.presence(b, 'general').users, [{ user: 'bob', sessions: 1 }]);
  });

  it('sends no presence events when they are off', () => {
    const r = rig({ presenceEvents: false });
    const a = r.connect('alice');
    const b = r.connect('bob');
    done(r.hub.join(a, 'general'));
    done(r.hub.join(b, 'general'));
    r.hub.leave(b, 'general');
    r.turn();
    assert.deepEqual(a.received, []);
    assert.deepEqual(b.received, []);
    assert.deepEqual(r.hub.presence(a, 'general').users, [{ user: 'alice', sessions: 1 }]);
  });

  it('presence of an unknown room is empty; of a private room needs membership or grant', () => {
    const r = rig();
    const a = r.connect('alice', ['private:team']);
    const b = r.connect('bob');
    assert.deepEqual(r.hub.presence(b, 'empty'), { room: 'empty', users: [] });
    done(r.hub.join(a, 'private:team'));
    assert.throws(() => r.hub.presence(b, 'private:team'), hubError(ErrorCode.Forbidden));
    assert.deepEqual(r.hub.presence(a, 'private:team').users, [{ user: 'alice', sessions: 1 }]);
  });
});

describe('Hub: room kinds and limits', () => {
  it('refuses a private room without a grant', () => {
    const r = rig();
    const a = r.connect('alice');
    assert.throws(() => done(r.hub.join(a, 'private:team')), hubError(ErrorCode.Forbidden));
    assert.equal(a.rooms.size, 0);
    assert.equal(r.hub.stats().rooms, 0);
  });

  it('allows a private room with an exact grant, and only that room', () => {
    const r = rig();
    const a = r.connect('alice', ['private:team']);
    assert.deepEqual(done(r.hub.join(a, 'private:team')), { room: 'private:team', kind: 'private', durable: false, seq: 0 });
    assert.throws(() => done(r.hub.join(a, 'private:team2')), hubError(ErrorCode.Forbidden));
    assert.throws(() => done(r.hub.join(a, 'private:tea')), hubError(ErrorCode.Forbidden));
  });

  it('allows private rooms matching a prefix grant ending in *', () => {
    const r = rig();
    const a = r.connect('alice', ['private:team-42-*']);
    assert.equal(done(r.hub.join(a, 'private:team-42-general')).kind, 'private');
    assert.equal(done(r.hub.join(a, 'private:team-42-')).kind, 'private');
    assert.throws(() => done(r.hub.join(a, 'private:team-43-general')), hubError(ErrorCode.Forbidden));
  });

  it('uses updated grants (token refresh) for later joins', () => {
    const r = rig();
    const a = r.connect('alice');
    assert.throws(() => done(r.hub.join(a, 'private:x')), hubError(ErrorCode.Forbidden));
    a.grants = ['private:*'];
    assert.equal(done(r.hub.join(a, 'private:x')).kind, 'private');
  });

  it('push-only rooms: anyone joins, clients may not publish, the server may', () => {
    const r = rig({ presenceEvents: false });
    const a = r.connect('alice');
    const b = r.connect('bob');
    assert.equal(done(r.hub.join(a, 'push:news')).kind, 'push');
    done(r.hub.join(b, 'push:news'));
    assert.throws(() => done(r.hub.publish(a, 'push:news', 'text', 'hi')), hubError(ErrorCode.Forbidden));
    assert.throws(() => r.hub.typing(a, { room: 'push:news' }, true), hubError(ErrorCode.Forbidden));
    const ack = done(r.hub.serverPublish('push:news', 'backend', 'text', 'breaking'));
    assert.equal(ack.seq, 1);
    r.turn();
    assert.deepEqual(a.msgs(), [
      { type: 'message', id: ack.id, room: 'push:news', seq: 1, from: 'backend', contentType: 'text', body: 'breaking', ts: ack.ts },
    ]);
    assert.equal(a.received[0], b.received[0]);
  });

  it('keeps nothing of a non-durable room once its last member has left (its numbering starts again)', () => {
    const r = rig();
    assert.equal(done(r.hub.serverPublish('general', 'backend', 'text', 'x')).seq, 0, 'to no one: not numbered');
    assert.equal(r.hub.stats().rooms, 0, 'no room is created for it');
    const a = r.connect('alice');
    assert.equal(done(r.hub.join(a, 'general')).seq, 0);
    assert.equal(done(r.hub.publish(a, 'general', 'text', 'y')).seq, 1);
    done(r.hub.leave(a, 'general'));
    assert.equal(r.hub.stats().rooms, 0);
    // Rooms a client joins and leaves by the thousand leave no trace behind.
    assert.equal(done(r.hub.join(a, 'general')).seq, 0);
  });

  it('applies the first matching room rule', () => {
    const r = rig({
      roomRules: [
        { match: 'ops', kind: 'push' },
        { match: 'team-*', kind: 'private' },
        { match: 'team-open', kind: 'public' },
      ],
    });
    assert.equal(r.hub.roomKind('ops'), 'push');
    assert.equal(r.hub.roomKind('ops2'), 'public');
    assert.equal(r.hub.roomKind('team-open'), 'private');
    assert.equal(r.hub.roomKind('private:x'), 'public');
  });

  it('limits rooms per session', () => {
    const r = rig({ roomsPerSession: 2 });
    const a = r.connect('alice');
    done(r.hub.join(a, 'one'));
    done(r.hub.join(a, 'two'));
    assert.throws(() => done(r.hub.join(a, 'three')), hubError(ErrorCode.LimitExceeded));
    assert.equal(done(r.hub.join(a, 'two')).room, 'two', 'rejoining a room it is in is not a new room');
    assert.deepEqual([...a.rooms], ['one', 'two']);
    assert.equal(r.hub.stats().rooms, 2, 'the refused room was not created');
    r.hub.leave(a, 'one');
    assert.equal(done(r.hub.join(a, 'three')).room, 'three');
  });
});

describe('Hub: sessions', () => {
  it('replace policy closes older sessions with 4003 and removes them everywhere', () => {
    const r = rig({ sessionPolicy: 'replace', maxSessionsPerUser: 1 });
    const old1 = r.connect('alice');
    const b = r.connect('bob');
    done(r.hub.join(old1, 'general'));
    done(r.hub.join(b, 'general'));
    r.turn();
    b.reset();
    const fresh = r.connect('alice');
    assert.deepEqual(
      old1.closes.map((c) => c.code),
      [CloseCode.Replaced],
    );
    assert.deepEqual([...r.hub.sessionsOf('alice')], [fresh]);
    assert.equal(old1.rooms.size, 0);
    assert.deepEqual(r.hub.presence(b, 'general').users, [{ user: 'bob', sessions: 1 }]);
    r.turn();
    assert.deepEqual(labels(b), ['leave:alice']);
    assert.equal(r.hub.stats().sessions, 2);
    assert.equal(b.closes.length, 0);
    assert.equal(fresh.closes.length, 0);
  });

  it('replace policy: each new session replaces the previous one', () => {
    const r = rig({ sessionPolicy: 'replace' });
    const s1 = new FakeSession('alice');
    const s2 = new FakeSession('alice');
    assert.deepEqual(r.hub.connect(s1), { ok: true });
    const s3 = r.connect('alice');
    assert.equal(s1.closes[0]?.code, CloseCode.Replaced);
    assert.deepEqual(r.hub.connect(s2), { ok: true });
    assert.equal(s3.closes[0]?.code, CloseCode.Replaced);
    assert.deepEqual([...r.hub.sessionsOf('alice')], [s2]);
  });

  it('multiple policy refuses sessions beyond maxPerUser with 4007', () => {
    const r = rig({ sessionPolicy: 'multiple', maxSessionsPerUser: 2 });
    const a1 = r.connect('alice');
    const a2 = r.connect('alice');
    const a3 = new FakeSession('alice');
    const verdict = r.hub.connect(a3);
    assert.equal(verdict.ok, false);
    assert.equal(!verdict.ok && verdict.code, CloseCode.TooManySessions);
    assert.deepEqual([...r.hub.sessionsOf('alice')], [a1, a2]);
    assert.equal(a1.closes.length + a2.closes.length + a3.closes.length, 0, 'the hub closes nobody; the transport closes a3');
    assert.deepEqual(r.hub.stats(), { sessions: 2, users: 1, rooms: 0 });
    // Another user is not affected; a freed slot can be used.
    r.connect('bob');
    r.hub.disconnect(a1);
    assert.deepEqual(r.hub.connect(a3), { ok: true });
  });

  it('disconnect is idempotent and removes the session from all rooms', () => {
    const r = rig();
    const a = r.connect('alice');
    const b = r.connect('bob');
    for (const room of ['one', 'two', 'three']) done(r.hub.join(a, room));
    done(r.hub.join(b, 'one'));
    r.turn();
    b.reset();
    assert.deepEqual(r.hub.stats(), { sessions: 2, users: 2, rooms: 3 });
    r.hub.disconnect(a);
    r.hub.disconnect(a);
    assert.equal(a.rooms.size, 0);
    assert.equal(r.hub.isOnline('alice'), false);
    assert.equal(r.hub.sessionsOf('alice').size, 0);
    assert.deepEqual(r.hub.stats(), { sessions: 1, users: 1, rooms: 1 });
    assert.deepEqual(r.hub.presence(b, 'one').users, [{ user: 'bob', sessions: 1 }]);
    r.turn();
    assert.deepEqual(labels(b), ['leave:alice'], 'one leave event, not two');
    // A publish afterwards does not reach the gone session.
    a.reset();
    done(r.hub.publish(b, 'one', 'text', 'anyone?'));
    r.turn();
    assert.deepEqual(a.received, []);
    // Disconnecting a session the hub never knew is harmless.
    r.hub.disconnect(new FakeSession('ghost'));
    assert.deepEqual(r.hub.stats(), { sessions: 1, users: 1, rooms: 1 });
  });

  it('broadcast reaches every session with one Buffer', () => {
    const r = rig();
    const all = [r.connect('alice'), r.connect('alice'), r.connect('bob'), r.connect('carol')];
    const n = r.hub.broadcast({ type: 'notice', from: 'System', text: 'maintenance at noon', ts: 1 });
    assert.equal(n, 4);
    r.turn();
    for (const s of all) {
      assert.equal(s.received.length, 1);
      assert.equal(s.received[0], all[0]!.received[0]);
    }
    assert.deepEqual(all[2]!.msgs(), [{ type: 'notice', from: 'System', text: 'maintenance at noon', ts: 1 }]);
  });

  it('removes rooms once empty', () => {
    const r = rig();
    const a = r.connect('alice');
    const b = r.connect('bob');
    done(r.hub.join(a, 'one'));
    done(r.hub.join(b, 'one'));
    done(r.hub.join(a, 'two'));
    done(r.hub.publish(a, 'one', 'text', 'first'));
    assert.equal(r.hub.stats().rooms, 2);
    r.hub.leave(a, 'two');
    assert.equal(r.hub.stats().rooms, 1);
    r.hub.leave(a, 'one');
    assert.equal(r.hub.stats().rooms, 1);
    r.hub.disconnect(b);
    assert.deepEqual(r.hub.stats(), { sessions: 1, users: 1, rooms: 0 });
    // Nothing is kept of an empty non-durable room, its numbering neither (durable rooms: the store's).
    done(r.hub.join(a, 'one'));
    assert.equal(done(r.hub.publish(a, 'one', 'text', 'again')).seq, 1);
  });

  it('isOnline and sessionsOf follow connects and disconnects', () => {
    const r = rig();
    assert.equal(r.hub.isOnline('alice'), false);
    const a1 = r.connect('alice');
    const a2 = r.connect('alice');
    assert.equal(r.hub.isOnline('alice'), true);
    assert.equal(r.hub.sessionsOf('alice').size, 2);
    r.hub.disconnect(a1);
    assert.equal(r.hub.isOnline('alice'), true);
    r.hub.disconnect(a2);
    assert.equal(r.hub.isOnline('alice'), false);
    assert.deepEqual(r.hub.stats(), { sessions: 0, users: 0, rooms: 0 });
  });
});

describe('Hub with the real outbound layer (Outbox + Flusher)', () => {
  class Wire {
    readonly preframed = true;
    bufferedBytes = 0;
    readonly frames: Buffer[] = [];
    writeFrame(frame: Buffer): boolean {
      this.frames.push(frame);
      return true;
    }
    sendPayload(): void {
      assert.fail('preframed wire');
    }
    onDrain(): void {
      assert.fail('this wire never fills up');
    }
    lines(): string[] {
      return this.frames.flatMap((f) => {
        const len = f[1]! & 0x7f;
        const at = len === 126 ? 4 : len === 127 ? 10 : 2;
        return f.subarray(at).toString('utf8').split('\n');
      });
    }
  }

  function setup() {
    const flusher = new Flusher();
    let ids = 0;
    const hub = new Hub({
      tick: flusher.tick,
      now: () => 1,
      nextId: () => `m${++ids}`,
      roomRules: [],
      presenceEvents: false,
      roomsPerSession: 10,
      sessionPolicy: 'multiple',
      maxSessionsPerUser: 10,
    });
    const make = (user: string) => {
      const wire = new Wire();
      const outbox = new Outbox(wire, flusher, { maxQueueBytes: 1 << 20, maxQueueMessages: 1000 }, { overflowed: () => {} });
      const s: HubSession & { wire: Wire } = {
        id: `${user}-${++ids}`,
        user,
        grants: [],
        rooms: new Set(),
        wire,
        send: (bytes) => outbox.push(bytes),
        sendShared: (batch, start) => outbox.pushShared(batch, start),
        close: () => {},
      };
      assert.deepEqual(hub.connect(s), { ok: true });
      return s;
    };
    return { flusher, hub, make };
  }

  it('one publish becomes one frame Buffer written to every member', () => {
    const { flusher, hub, make } = setup();
    const members = [make('a'), make('b'), make('c')];
    for (const m of members) done(hub.join(m, 'general'));
    flusher.run();
    done(hub.publish(members[0]!, 'general', 'text', 'one'));
    done(hub.publish(members[1]!, 'general', 'text', 'two'));
    flusher.run();
    const frame = members[0]!.wire.frames[0]!;
    for (const m of members) assert.deepEqual(m.wire.frames, [frame]);
    assert.deepEqual(
      members[2]!.wire.lines().map((l) => JSON.parse(l).body),
      ['one', 'two'],
    );
    // The next turn is a new batch and a new frame.
    done(hub.publish(members[0]!, 'general', 'text', 'three'));
    flusher.run();
    assert.notEqual(members[0]!.wire.frames[1], frame);
    assert.equal(members[1]!.wire.frames[1], members[0]!.wire.frames[1]);
  });

  it('mid-turn join and leave with real outboxes', () => {
    const { flusher, hub, make } = setup();
    const a = make('a');
    const b = make('b');
    const c = make('c');
    done(hub.join(a, 'general'));
    done(hub.join(c, 'general'));
    flusher.run();
    done(hub.publish(a, 'general', 'text', 'one'));
    done(hub.join(b, 'general'));
    hub.leave(c, 'general');
    done(hub.publish(a, 'general', 'text', 'two'));
    done(hub.sendDirect(a, 'b', 'text', 'dm'));
    flusher.run();
    const bodies = (s: { wire: Wire }) => s.wire.lines().map((l) => JSON.parse(l).body);
    assert.deepEqual(bodies(a), ['one', 'two', 'dm']);
    assert.deepEqual(bodies(b), ['two', 'dm']);
    assert.deepEqual(bodies(c), ['one']);
    for (const s of [a, b, c]) assert.equal(s.wire.frames.length, 1, 'one frame per session per turn');
  });
});
