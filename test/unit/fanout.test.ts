/**
 * LocalFanout with fake recipients: no hub, no outbound layer. A fake recipient
 * records what the fan-out queues for it (direct Buffers, and shared batches
 * with their start offset); `turn()` plays the flusher: it closes the epoch and
 * then every recipient reads its queue, as Flusher.run does.
 *
 * Two codecs are in use: the JSON codec (wrapped to count its encodes) and a
 * fake binary one ("P" + JSON, id 1, binary, no separator).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { FanOutListener } from '../../src/fanout/fanout.js';
import { LocalFanout, type LocalFanoutOptions } from '../../src/fanout/local-fanout.js';
import type { Recipient } from '../../src/fanout/recipient.js';
import { SharedBatch, type Tick } from '../../src/outbound/shared-batch.js';
import type { Codec } from '../../src/protocol/codec.js';
import { CloseCode } from '../../src/protocol/codes.js';
import { jsonCodec } from '../../src/protocol/json-codec.js';
import type { MessagePush, ServerPush } from '../../src/protocol/pushes.js';
import { FakeQueue } from '../helpers/fake-queue.js';

// A full collection on demand, for the test that a closed batch is let go (the flag is set before its first use).
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

/** A codec that counts what it encodes (the pushes, in order). */
interface CountingCodec extends Codec {
  readonly encoded: ServerPush[];
}

/** The JSON codec, counting its encodes. */
function countingJson(): CountingCodec {
  const encoded: ServerPush[] = [];
  return {
    ...jsonCodec,
    encoded,
    encode(push) {
      encoded.push(push);
      return jsonCodec.encode(push);
    },
  };
}

const PREFIX = 'P';

/** A second codec: binary frames, no separator, each message is "P" followed by its JSON. */
function prefixedCodec(): CountingCodec {
  const encoded: ServerPush[] = [];
  return {
    name: 'prefixed',
    id: 1,
    binary: true,
    separator: -1,
    encoded,
    encode(push) {
      encoded.push(push);
      return Buffer.from(PREFIX + JSON.stringify(push));
    },
    connectedEncoder: () => () => assert.fail('not used'),
    decode: () => assert.fail('not used'),
  };
}

/** Decodes what either codec made. */
function decodeAny(b: Buffer): Record<string, unknown> {
  const text = b.toString('utf8');
  return JSON.parse(text.startsWith(PREFIX) ? text.slice(PREFIX.length) : text) as Record<string, unknown>;
}

let nextId = 0;

class FakeRecipient extends FakeQueue implements Recipient {
  readonly id: string;

  constructor(
    readonly user: string,
    readonly codec?: Codec,
  ) {
    super();
    this.id = `r${++nextId}`;
  }

  /** The shared batches queued this turn. */
  batches(): SharedBatch[] {
    return this.queue.flatMap((q) => (q.kind === 'shared' ? [q.batch] : []));
  }

  /** Short labels of what was received: the text of each notice, `seq` of each message. */
  labels(): string[] {
    return this.received.map((b) => label(decodeAny(b)));
  }
}

function label(m: Record<string, unknown>): string {
  switch (m.type) {
    case 'notice':
      return String(m.text);
    case 'message':
      return `${m.room !== undefined ? `room:${String(m.room)}` : `to:${String(m.to)}`}#${String(m.seq)}`;
    default:
      return String(m.type);
  }
}

function notice(text: string): ServerPush {
  return { type: 'notice', from: 'System', text, ts: 1 };
}

function dm(to: string, from: string, seq: number): MessagePush {
  return { type: 'message', id: `d${seq}`, to, seq, from, contentType: 'text', body: `dm ${seq}`, ts: 1 };
}

function rig(opts: Omit<LocalFanoutOptions, 'tick'> = {}) {
  const tick: Tick = { epoch: 1 };
  const fanout = new LocalFanout<FakeRecipient>({ tick, ...opts });
  const all: FakeRecipient[] = [];
  return {
    tick,
    fanout,
    /** A session of `user`, registered with the fan-out. */
    add(user: string, codec?: Codec): FakeRecipient {
      const r = new FakeRecipient(user, codec);
      fanout.addSession(r);
      all.push(r);
      return r;
    },
    /** Ends the turn: closes the epoch, then every recipient reads its queue. */
    turn(): void {
      tick.epoch++;
      for (const r of all) r.drain();
    },
  };
}

describe('LocalFanout: a room, one codec', () => {
  it('encodes each message once and hands every member the same batch; later messages only append', () => {
    const json = countingJson();
    const r = rig();
    const members = [r.add('alice', json), r.add('alice', json), r.add('bob', json), r.add('carol', json)];
    for (const m of members) r.fanout.join('general', m);
    assert.equal(r.fanout.members('general'), 4);

    r.fanout.toRoom('general', notice('one'));
    r.fanout.toRoom('general', notice('two'));
    r.fanout.toRoom('general', notice('three'));
    assert.equal(json.encoded.length, 3, 'one encode per message, whatever the number of members');

    const batch = members[0]!.batches()[0]!;
    for (const m of members) {
      assert.equal(m.queue.length, 1, 'the batch is handed over once; later messages only append');
      assert.deepEqual(m.queue[0], { kind: 'shared', batch, start: 0 });
    }
    assert.equal(batch.chunks.length, 3);

    r.turn();
    for (const m of members) {
      assert.deepEqual(m.labels(), ['one', 'two', 'three']);
      m.received.forEach((b, i) => assert.equal(b, members[0]!.received[i], 'the same Buffer instance for every member'));
    }
  });

  it('starts a new batch in the next turn and never appends to a closed one', () => {
    const r = rig();
    const a = r.add('alice');
    r.fanout.join('general', a);
    r.fanout.toRoom('general', notice('one'));
    const first = a.batches()[0]!;
    r.turn();
    r.fanout.toRoom('general', notice('two'));
    const second = a.batches()[0]!;
    assert.notEqual(second, first);
    assert.equal(first.chunks.length, 1);
    assert.equal(second.epoch, r.tick.epoch);
    r.turn();
    assert.deepEqual(a.labels(), ['one', 'two']);
  });

  it("lets go of a closed batch at the next epoch's first batch, though its own room stays quiet", async () => {
    const r = rig();
    const quiet = r.add('alice');
    const busy = r.add('bob');
    r.fanout.join('quiet', quiet);
    r.fanout.join('busy', busy);
    r.fanout.toRoom('quiet', notice('one'));
    const closed = new WeakRef(quiet.batches()[0]!);
    r.turn();
    // Another room's message starts the new epoch's first batch: the quiet room's closed one is nobody's now.
    r.fanout.toRoom('busy', notice('two'));
    // A WeakRef's target is kept until the task that made it ends.
    await new Promise((resolve) => setImmediate(resolve));
    collectGarbage();
    assert.equal(closed.deref(), undefined, 'the closed batch was collected');
    r.fanout.toRoom('quiet', notice('three'));
    r.turn();
    assert.deepEqual(quiet.labels(), ['one', 'three']);
    assert.deepEqual(busy.labels(), ['two']);
  });

  it('starts a new batch once the current one has been written, even within the epoch', () => {
    const r = rig();
    const a = r.add('alice');
    const b = r.add('bob');
    r.fanout.join('general', a);
    r.fanout.toRoom('general', notice('one'));
    const first = a.batches()[0]!;
    first.written = true;
    // A member joining now must not be handed the written batch.
    r.fanout.join('general', b);
    assert.deepEqual(b.queue, []);
    r.fanout.toRoom('general', notice('two'));
    assert.equal(first.chunks.length, 1, 'nothing is added to a written batch');
    assert.equal(a.batches().length, 2);
    assert.deepEqual(b.queue, [{ kind: 'shared', batch: a.batches()[1]!, start: 0 }]);
    r.turn();
    assert.deepEqual(a.labels(), ['one', 'two']);
    assert.deepEqual(b.labels(), ['two']);
  });

  it('a member joining mid-turn gets the batch from its current end', () => {
    const r = rig();
    const a = r.add('alice');
    const b = r.add('bob');
    const c = r.add('carol');
    r.fanout.join('general', a);
    r.fanout.join('general', b);
    r.fanout.toRoom('general', notice('before'));
    r.fanout.toRoom('general', notice('before too'));
    r.fanout.join('general', c);
    const batch = a.batches()[0]!;
    assert.deepEqual(c.queue, [{ kind: 'shared', batch, start: 2 }]);
    r.fanout.toRoom('general', notice('after'));
    assert.equal(c.queue.length, 1, 'appending needs no new hand-over');
    r.turn();
    assert.deepEqual(a.labels(), ['before', 'before too', 'after']);
    assert.deepEqual(c.labels(), ['after']);
    assert.equal(c.received[0], a.received[2], 'still one encoding');
  });

  it('a member joining when no batch is open this turn is handed the next one from its start', () => {
    const r = rig();
    const a = r.add('alice');
    const b = r.add('bob');
    r.fanout.join('general', a);
    r.fanout.toRoom('general', notice('old'));
    r.turn();
    r.fanout.join('general', b);
    assert.deepEqual(b.queue, [], 'last turn\'s batch is closed');
    r.fanout.toRoom('general', notice('new'));
    assert.deepEqual(b.queue, [{ kind: 'shared', batch: a.batches()[0]!, start: 0 }]);
    r.turn();
    assert.deepEqual(a.labels(), ['old', 'new']);
    assert.deepEqual(b.labels(), ['new']);
  });

  it('a leaver forces a fresh batch: it gets nothing sent after it left, the others get everything', () => {
    const json = countingJson();
    const r = rig();
    const a = r.add('alice', json);
    const b = r.add('bob', json);
    const c = r.add('carol', json);
    for (const m of [a, b, c]) r.fanout.join('general', m);
    r.fanout.toRoom('general', notice('one'));
    const first = a.batches()[0]!;
    assert.equal(r.fanout.leave('general', b), 2, 'two members left');
    r.fanout.toRoom('general', notice('two'));
    assert.equal(first.chunks.length, 1, 'the batch the leaver holds is not appended to');
    const second = a.batches()[1]!;
    assert.notEqual(second, first);
    assert.deepEqual(a.queue, [
      { kind: 'shared', batch: first, start: 0 },
      { kind: 'shared', batch: second, start: 0 },
    ]);
    assert.deepEqual(c.batches(), [first, second]);
    assert.deepEqual(b.batches(), [first]);
    assert.equal(json.encoded.length, 2);
    r.turn();
    assert.deepEqual(a.labels(), ['one', 'two']);
    assert.deepEqual(c.labels(), ['one', 'two']);
    assert.deepEqual(b.labels(), ['one']);
  });

  it('leaving and rejoining within a turn skips exactly what was sent while away', () => {
    const r = rig();
    const a = r.add('alice');
    const b = r.add('bob');
    r.fanout.join('general', a);
    r.fanout.join('general', b);
    r.fanout.toRoom('general', notice('one'));
    r.fanout.leave('general', b);
    r.fanout.toRoom('general', notice('two'));
    r.fanout.join('general', b);
    r.fanout.toRoom('general', notice('three'));
    r.turn();
    assert.deepEqual(a.labels(), ['one', 'two', 'three']);
    assert.deepEqual(b.labels(), ['one', 'three']);
  });

  it('leave of a non-member answers -1 and changes nothing; joining twice counts once', () => {
    const r = rig();
    const a = r.add('alice');
    const b = r.add('bob');
    assert.equal(r.fanout.leave('general', a), -1, 'no such room');
    r.fanout.join('general', a);
    r.fanout.join('general', a);
    assert.equal(r.fanout.members('general'), 1);
    assert.equal(r.fanout.leave('general', b), -1, 'not a member');
    assert.equal(r.fanout.members('general'), 1);
    r.fanout.toRoom('general', notice('hi'));
    assert.equal(a.queue.length, 1, 'one hand-over, not one per join');
    assert.equal(r.fanout.leave('general', a), 0);
    assert.equal(r.fanout.members('general'), 0);
    assert.equal(r.fanout.members('nowhere'), 0);
    r.fanout.toRoom('general', notice('to nobody'));
    r.turn();
    assert.deepEqual(a.labels(), ['hi']);
    assert.deepEqual(b.labels(), []);
  });

  it('a message that cannot be encoded leaves no member holding an empty batch', () => {
    const failing: Codec = {
      ...jsonCodec,
      encode(push) {
        if (push.type === 'notice' && push.text === 'bad') throw new Error('cannot encode');
        return jsonCodec.encode(push);
      },
    };
    const r = rig();
    const a = r.add('alice', failing);
    r.fanout.join('general', a);
    assert.throws(() => r.fanout.toRoom('general', notice('bad')), /cannot encode/);
    assert.deepEqual(a.queue, []);
    r.fanout.toRoom('general', notice('good'));
    r.turn();
    assert.deepEqual(a.labels(), ['good']);
  });
});

describe('LocalFanout: a room, two codecs', () => {
  function twoCodecRoom() {
    const json = countingJson();
    const bin = prefixedCodec();
    const r = rig();
    const j1 = r.add('alice', json);
    const b1 = r.add('bob', bin);
    const j2 = r.add('carol', json);
    const b2 = r.add('dave', bin);
    for (const m of [j1, b1, j2, b2]) r.fanout.join('general', m);
    return { r, json, bin, j: [j1, j2], b: [b1, b2] };
  }

  it('encodes each message once per codec; each group shares its own batch', () => {
    const { r, json, bin, j, b } = twoCodecRoom();
    const pushes: ServerPush[] = [
      notice('one'),
      { type: 'presence', room: 'general', user: 'erin', event: 'join' },
      { type: 'typing', room: 'general', from: 'alice', active: true },
    ];
    for (const p of pushes) r.fanout.toRoom('general', p);
    assert.deepEqual(json.encoded, pushes, 'each message encoded once in JSON');
    assert.deepEqual(bin.encoded, pushes, 'and once in the other codec');

    const jsonBatch = j[0]!.batches()[0]!;
    const binBatch = b[0]!.batches()[0]!;
    assert.notEqual(jsonBatch, binBatch);
    assert.deepEqual(j[1]!.queue, [{ kind: 'shared', batch: jsonBatch, start: 0 }]);
    assert.deepEqual(b[1]!.queue, [{ kind: 'shared', batch: binBatch, start: 0 }]);
    assert.equal(j[0]!.queue.length, 1);
    assert.equal(b[0]!.queue.length, 1);

    r.turn();
    for (const m of j) {
      assert.deepEqual(m.received.map((x) => JSON.parse(x.toString())), pushes, 'JSON members get plain JSON');
      m.received.forEach((x, i) => assert.equal(x, j[0]!.received[i]));
    }
    for (const m of b) {
      for (const x of m.received) assert.equal(x.toString().slice(0, 1), PREFIX, 'the other codec\'s members get its bytes');
      assert.deepEqual(m.received.map(decodeAny), pushes, 'the same messages in the same order');
      m.received.forEach((x, i) => assert.equal(x, b[0]!.received[i]));
    }
  });

  it('a member of the second codec joining mid-turn starts its group with no batch, and gets what follows', () => {
    const json = countingJson();
    const bin = prefixedCodec();
    const r = rig();
    const a = r.add('alice', json);
    const b = r.add('bob', bin);
    r.fanout.join('general', a);
    r.fanout.toRoom('general', notice('before'));
    assert.equal(bin.encoded.length, 0, 'nobody speaks it yet');
    r.fanout.join('general', b);
    assert.deepEqual(b.queue, []);
    r.fanout.toRoom('general', notice('after'));
    assert.equal(json.encoded.length, 2);
    assert.equal(bin.encoded.length, 1);
    assert.deepEqual(b.queue, [{ kind: 'shared', batch: b.batches()[0]!, start: 0 }]);
    r.turn();
    assert.deepEqual(a.labels(), ['before', 'after']);
    assert.deepEqual(b.labels(), ['after']);
  });

  it('a leaver of one codec forces a fresh batch in its group only', () => {
    const { r, b, j } = twoCodecRoom();
    r.fanout.toRoom('general', notice('one'));
    const jsonBatch = j[0]!.batches()[0]!;
    const binBatch = b[0]!.batches()[0]!;
    assert.equal(r.fanout.leave('general', b[1]!), 3);
    r.fanout.toRoom('general', notice('two'));
    assert.deepEqual(j[0]!.batches(), [jsonBatch], 'the JSON group keeps appending to its batch');
    assert.equal(jsonBatch.chunks.length, 2);
    assert.equal(binBatch.chunks.length, 1);
    assert.equal(b[0]!.batches().length, 2);
    r.turn();
    assert.deepEqual(j[0]!.labels(), ['one', 'two']);
    assert.deepEqual(j[1]!.labels(), ['one', 'two']);
    assert.deepEqual(b[0]!.labels(), ['one', 'two']);
    assert.deepEqual(b[1]!.labels(), ['one']);
  });

  it('when the last member of a codec leaves, that codec is not called any more', () => {
    const { r, bin, json, b } = twoCodecRoom();
    r.fanout.leave('general', b[0]!);
    r.fanout.leave('general', b[1]!);
    r.fanout.toRoom('general', notice('json only'));
    assert.equal(bin.encoded.length, 0);
    assert.equal(json.encoded.length, 1);
    assert.equal(r.fanout.members('general'), 2);
  });
});

describe('LocalFanout: the listener', () => {
  function listened() {
    const events: string[] = [];
    const listener: FanOutListener = {
      roomOccupied: (room) => events.push(`occupied:${room}`),
      roomVacated: (room) => events.push(`vacated:${room}`),
    };
    return { events, r: rig({ listener }) };
  }

  it('hears roomOccupied at the first local member and roomVacated at the last, once each', () => {
    const { events, r } = listened();
    const a1 = r.add('alice');
    const a2 = r.add('alice');
    const b = r.add('bob', prefixedCodec());
    r.fanout.join('general', a1);
    assert.deepEqual(events, ['occupied:general']);
    r.fanout.join('general', a2);
    r.fanout.join('general', b);
    r.fanout.join('general', a1);
    assert.deepEqual(events, ['occupied:general'], 'later members (of any codec) are no news');
    r.fanout.leave('general', a1);
    r.fanout.leave('general', b);
    r.fanout.leave('general', b);
    assert.deepEqual(events, ['occupied:general']);
    r.fanout.leave('general', a2);
    assert.deepEqual(events, ['occupied:general', 'vacated:general']);
    r.fanout.leave('general', a2);
    assert.deepEqual(events, ['occupied:general', 'vacated:general'], 'a leave of a non-member is no news');
    r.fanout.join('general', b);
    assert.deepEqual(events, ['occupied:general', 'vacated:general', 'occupied:general'], 'occupied again');
  });

  it('tells about each room separately', () => {
    const { events, r } = listened();
    const a = r.add('alice');
    r.fanout.join('one', a);
    r.fanout.join('two', a);
    r.fanout.leave('one', a);
    r.fanout.leave('two', a);
    assert.deepEqual(events, ['occupied:one', 'occupied:two', 'vacated:one', 'vacated:two']);
  });

  it('a listener with neither callback is fine', () => {
    const r = rig({ listener: {} });
    const a = r.add('alice');
    r.fanout.join('general', a);
    assert.equal(r.fanout.leave('general', a), 0);
  });
});

describe('LocalFanout: direct messages', () => {
  it('reaches every session of the users named, once each, one encode per codec', () => {
    const json = countingJson();
    const bin = prefixedCodec();
    const r = rig();
    const a1 = r.add('alice', json);
    const a2 = r.add('alice', bin);
    const b1 = r.add('bob', json);
    const b2 = r.add('bob', bin);
    const c = r.add('carol', json);
    const push = dm('bob', 'alice', 1);
    r.fanout.direct({ conv: 'd:alice bob', seq: 1, users: ['bob', 'alice'] }, push);
    assert.equal(json.encoded.length, 1);
    assert.equal(bin.encoded.length, 1);
    r.turn();
    for (const s of [a1, a2, b1, b2]) assert.deepEqual(s.received.map(decodeAny), [push]);
    assert.equal(a1.received[0], b1.received[0], 'one Buffer for the JSON sessions');
    assert.equal(a2.received[0], b2.received[0], 'one Buffer for the other codec\'s sessions');
    assert.match(a2.received[0]!.toString(), /^P\{/);
    assert.deepEqual(c.received, []);
  });

  it('a DM to oneself (the user named twice) is delivered once per session', () => {
    const r = rig();
    const a1 = r.add('alice');
    const a2 = r.add('alice');
    r.fanout.direct({ conv: 'd:alice alice', seq: 1, users: ['alice', 'alice'] }, dm('alice', 'alice', 1));
    r.turn();
    assert.equal(a1.received.length, 1);
    assert.equal(a2.received.length, 1);
  });

  it('a DM to a user with no session here reaches only the sender\'s sessions', () => {
    const r = rig();
    const a = r.add('alice');
    r.fanout.direct({ conv: 'd:alice nobody', seq: 1, users: ['nobody', 'alice'] }, dm('nobody', 'alice', 1));
    r.turn();
    assert.deepEqual(a.labels(), ['to:nobody#1']);
  });

  it('a hold for a conversation keeps its messages back from that session; release sends those above the replayed seq', () => {
    const r = rig();
    const a = r.add('alice');
    const b1 = r.add('bob');
    const b2 = r.add('bob');
    const conv = 'd:alice bob';
    const hold = r.fanout.hold(b1, false);
    hold.syncing.add(conv);
    assert.equal(r.fanout.holdOf(b1), hold);
    assert.equal(r.fanout.hold(b1, false), hold, 'one hold per session');
    for (const seq of [4, 5, 6]) r.fanout.direct({ conv, seq, users: ['bob', 'alice'] }, dm('bob', 'alice', seq));
    r.fanout.direct({ conv: 'd:bob carol', seq: 1, users: ['bob', 'carol'] }, dm('bob', 'carol', 1));
    r.turn();
    assert.deepEqual(b1.labels(), ['to:bob#1'], 'only the conversation not being synced');
    assert.deepEqual(b2.labels(), ['to:bob#4', 'to:bob#5', 'to:bob#6', 'to:bob#1'], 'another session of the user is not held');
    assert.deepEqual(a.labels(), ['to:bob#4', 'to:bob#5', 'to:bob#6']);
    assert.equal(hold.size, 3);

    // The sync replayed up to 5: only 6 is still missing.
    hold.syncing.delete(conv);
    hold.release(b1, new Map([[conv, 5]]));
    r.fanout.releaseHold(b1, hold);
    assert.equal(r.fanout.holdOf(b1), undefined, 'an idle hold is dropped');
    r.turn();
    assert.deepEqual(b1.labels(), ['to:bob#1', 'to:bob#6']);
    // From now on nothing is held.
    r.fanout.direct({ conv, seq: 7, users: ['bob', 'alice'] }, dm('bob', 'alice', 7));
    r.turn();
    assert.deepEqual(b1.labels(), ['to:bob#1', 'to:bob#6', 'to:bob#7']);
  });

  it('release keeps what a running sync still holds, and releaseHold keeps a hold that is not idle', () => {
    const r = rig();
    const b = r.add('bob');
    r.add('alice');
    r.add('carol');
    const hold = r.fanout.hold(b, false);
    hold.syncing.add('d:alice bob');
    hold.syncing.add('d:bob carol');
    r.fanout.direct({ conv: 'd:alice bob', seq: 1, users: ['bob', 'alice'] }, dm('bob', 'alice', 1));
    r.fanout.direct({ conv: 'd:bob carol', seq: 1, users: ['bob', 'carol'] }, dm('bob', 'carol', 1));
    hold.syncing.delete('d:alice bob');
    hold.release(b, new Map());
    r.fanout.releaseHold(b, hold);
    assert.equal(r.fanout.holdOf(b), hold, 'still syncing with carol');
    r.turn();
    assert.deepEqual(b.received.map((x) => decodeAny(x).from), ['alice']);
    hold.syncing.delete('d:bob carol');
    hold.release(b, new Map([['d:bob carol', 0]]));
    r.fanout.releaseHold(b, hold);
    assert.equal(r.fanout.holdOf(b), undefined);
    r.turn();
    assert.deepEqual(b.received.map((x) => decodeAny(x).from), ['alice', 'carol']);
  });

  it('a hold of every conversation (a resuming session) keeps all of its DMs back', () => {
    const r = rig();
    const b = r.add('bob');
    r.fanout.hold(b, true);
    r.fanout.direct({ conv: 'd:alice bob', seq: 1, users: ['bob', 'alice'] }, dm('bob', 'alice', 1));
    r.fanout.direct({ conv: 'd:bob carol', seq: 3, users: ['bob', 'carol'] }, dm('bob', 'carol', 3));
    r.turn();
    assert.deepEqual(b.received, []);
    const hold = r.fanout.holdOf(b)!;
    hold.all = false;
    hold.release(b, new Map([['d:bob carol', 3]]));
    r.turn();
    assert.deepEqual(b.received.map((x) => decodeAny(x).from), ['alice'], 'carol\'s was replayed already');
  });

  it('closes the session with 4005 once it holds more than maxHeld messages', () => {
    const r = rig({ maxHeld: 2 });
    const b = r.add('bob');
    r.fanout.hold(b, true);
    const route = (seq: number) => ({ conv: 'd:alice bob', seq, users: ['bob'] });
    r.fanout.direct(route(1), dm('bob', 'alice', 1));
    r.fanout.direct(route(2), dm('bob', 'alice', 2));
    assert.equal(b.closes.length, 0, 'at the bound is fine');
    r.fanout.direct(route(3), dm('bob', 'alice', 3));
    assert.deepEqual(
      b.closes.map((c) => c.code),
      [CloseCode.SlowConsumer],
    );
    r.turn();
    assert.deepEqual(b.received, [], 'nothing held is sent');
  });

  it('closes the session with 4005 once it holds more than maxHeldBytes', () => {
    const one = jsonCodec.encode(dm('bob', 'alice', 1)).length;
    const r = rig({ maxHeldBytes: 2 * one });
    const b = r.add('bob');
    r.fanout.hold(b, true);
    const route = (seq: number) => ({ conv: 'd:alice bob', seq, users: ['bob'] });
    r.fanout.direct(route(1), dm('bob', 'alice', 1));
    r.fanout.direct(route(2), dm('bob', 'alice', 2));
    assert.equal(r.fanout.holdOf(b)!.bytes, 2 * one);
    assert.equal(b.closes.length, 0);
    r.fanout.direct(route(3), dm('bob', 'alice', 3));
    assert.equal(b.closes[0]?.code, CloseCode.SlowConsumer);
  });

  it('removeSession drops the session\'s hold', () => {
    const r = rig();
    const b = r.add('bob');
    r.fanout.hold(b, true);
    assert.equal(r.fanout.removeSession(b), true);
    assert.equal(r.fanout.holdOf(b), undefined);
  });
});

describe('LocalFanout: toSessions and broadcast', () => {
  it('toSessions sends to the sessions given, counts them, one encode per codec among them', () => {
    const json = countingJson();
    const bin = prefixedCodec();
    const r = rig();
    const a = r.add('alice', json);
    const b = r.add('bob', json);
    const c = r.add('carol', bin);
    const d = r.add('dave', bin);
    assert.equal(r.fanout.toSessions([a, b], notice('to two')), 2);
    assert.equal(json.encoded.length, 1);
    assert.equal(bin.encoded.length, 0, 'a codec none of them speaks is never called');
    assert.equal(r.fanout.toSessions([a, c, d], notice('to three')), 3);
    assert.equal(json.encoded.length, 2);
    assert.equal(bin.encoded.length, 1);
    assert.equal(r.fanout.toSessions([], notice('to nobody')), 0);
    assert.equal(json.encoded.length + bin.encoded.length, 3, 'nothing encoded for nobody');
    r.turn();
    assert.deepEqual(a.labels(), ['to two', 'to three']);
    assert.deepEqual(b.labels(), ['to two']);
    assert.deepEqual(c.labels(), ['to three']);
    assert.equal(c.received[0], d.received[0]);
    assert.equal(a.received[0], b.received[0]);
  });

  it('toSessions takes any iterable, e.g. sessionsOf', () => {
    const r = rig();
    const a1 = r.add('alice');
    const a2 = r.add('alice');
    r.add('bob');
    assert.equal(r.fanout.toSessions(r.fanout.sessionsOf('alice'), notice('hi')), 2);
    r.turn();
    assert.deepEqual(a1.labels(), ['hi']);
    assert.deepEqual(a2.labels(), ['hi']);
  });

  it('broadcast reaches every session, counts them, and encodes lazily per codec', () => {
    const json = countingJson();
    const bin = prefixedCodec();
    const r = rig();
    const all = [r.add('alice', json), r.add('alice', json), r.add('bob', json)];
    assert.equal(r.fanout.broadcast(notice('first')), 3);
    assert.equal(json.encoded.length, 1);
    assert.equal(bin.encoded.length, 0, 'a codec nobody speaks is never called');
    all.push(r.add('carol', bin), r.add('dave', bin));
    assert.equal(r.fanout.broadcast(notice('second')), 5);
    assert.equal(json.encoded.length, 2);
    assert.equal(bin.encoded.length, 1);
    r.turn();
    for (const s of all.slice(0, 3)) assert.deepEqual(s.labels(), ['first', 'second']);
    for (const s of all.slice(3)) assert.deepEqual(s.labels(), ['second']);
    assert.equal(all[0]!.received[1], all[2]!.received[1]);
    assert.equal(all[3]!.received[0], all[4]!.received[0]);
    assert.equal(new LocalFanout({ tick: { epoch: 1 } }).broadcast(notice('empty')), 0);
  });

  it('broadcast and toSessions are sent directly, not in a room batch', () => {
    const r = rig();
    const a = r.add('alice');
    r.fanout.join('general', a);
    r.fanout.broadcast(notice('b'));
    r.fanout.toSessions([a], notice('t'));
    assert.deepEqual(
      a.queue.map((q) => q.kind),
      ['direct', 'direct'],
    );
  });
});

describe('LocalFanout: replay', () => {
  const pushes = [1, 2, 3].map((seq): MessagePush => ({ type: 'message', id: `m${seq}`, room: 'general', seq, from: 'alice', contentType: 'text', body: `body ${seq}`, ts: seq }));
  const sizes = pushes.map((p) => jsonCodec.encode(p).length);
  const total = sizes.reduce((x, y) => x + y, 0);

  it('sends every message in order when together they fit the budget, and answers the bytes sent', () => {
    const r = rig();
    const a = r.add('alice');
    assert.equal(r.fanout.replay(a, pushes, total), total, 'exactly at the budget');
    assert.deepEqual(
      a.queue.map((q) => q.kind),
      ['direct', 'direct', 'direct'],
    );
    r.turn();
    assert.deepEqual(a.labels(), ['room:general#1', 'room:general#2', 'room:general#3']);
  });

  it('sends nothing and answers -1 when they would pass it', () => {
    const r = rig();
    const a = r.add('alice');
    assert.equal(r.fanout.replay(a, pushes, total - 1), -1);
    assert.equal(r.fanout.replay(a, pushes, 0), -1);
    r.turn();
    assert.deepEqual(a.received, []);
  });

  it('an empty replay sends nothing and costs nothing', () => {
    const r = rig();
    const a = r.add('alice');
    assert.equal(r.fanout.replay(a, [], 0), 0);
    assert.deepEqual(a.queue, []);
  });

  it('encodes in the session\'s codec, and counts its bytes against the budget', () => {
    const bin = prefixedCodec();
    const r = rig();
    const b = r.add('bob', bin);
    assert.equal(r.fanout.replay(b, pushes, total), -1, 'each message is one byte longer in this codec');
    assert.equal(r.fanout.replay(b, pushes, total + 3), total + 3);
    r.turn();
    for (const x of b.received) assert.match(x.toString(), /^P\{/);
    assert.deepEqual(b.received.map(decodeAny), pushes);
  });
});

describe('LocalFanout: sessions', () => {
  it('keeps sessions by user and by id; removeSession forgets them', () => {
    const r = rig();
    assert.equal(r.fanout.sessionsOf('alice').size, 0);
    const a1 = r.add('alice');
    const a2 = r.add('alice');
    const b = r.add('bob');
    r.fanout.addSession(a1);
    assert.equal(r.fanout.sessionCount, 3, 'adding a session twice counts it once');
    assert.equal(r.fanout.userCount, 2);
    assert.deepEqual([...r.fanout.sessionsOf('alice')], [a1, a2]);
    assert.equal(r.fanout.session(a2.id), a2);
    assert.equal(r.fanout.session('no-such-id'), undefined);
    assert.equal(r.fanout.hasSession(b), true);

    assert.equal(r.fanout.removeSession(a1), true);
    assert.equal(r.fanout.removeSession(a1), false, 'a second time: it was not registered');
    assert.equal(r.fanout.removeSession(new FakeRecipient('ghost')), false);
    assert.equal(r.fanout.hasSession(a1), false);
    assert.equal(r.fanout.session(a1.id), undefined);
    assert.deepEqual([...r.fanout.sessionsOf('alice')], [a2]);
    assert.equal(r.fanout.sessionCount, 2);
    assert.equal(r.fanout.userCount, 2);

    r.fanout.removeSession(a2);
    assert.equal(r.fanout.sessionsOf('alice').size, 0);
    assert.equal(r.fanout.userCount, 1);
    assert.equal(r.fanout.sessionCount, 1);
  });

  it('a removed session gets no broadcast and no direct message', () => {
    const r = rig();
    const a1 = r.add('alice');
    const a2 = r.add('alice');
    r.fanout.removeSession(a1);
    assert.equal(r.fanout.broadcast(notice('all')), 1);
    r.fanout.direct({ conv: 'd:alice bob', seq: 1, users: ['alice'] }, dm('alice', 'bob', 1));
    r.turn();
    assert.deepEqual(a1.received, []);
    assert.deepEqual(a2.labels(), ['all', 'to:alice#1']);
  });

  it('a session with the id of a removed one is found by id', () => {
    const r = rig();
    const a = r.add('alice');
    const again = new FakeRecipient('alice');
    (again as { id: string }).id = a.id;
    r.fanout.addSession(again);
    assert.equal(r.fanout.session(a.id), again);
    // Removing the older one must not forget the newer one by id.
    r.fanout.removeSession(a);
    assert.equal(r.fanout.session(a.id), again);
  });
});
