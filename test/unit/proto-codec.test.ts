/**
 * The binary codec at the edges: what malformed binary input gets (a
 * `malformed` answer per bad message, never an exception out of `decode`, the
 * rest of the frame unharmed where it can be found), and the fast path for
 * `message` pushes against the generic generated decoder on bytes no encoder
 * of ours writes: fields in another order, repeated, non-canonical varints,
 * unknown fields of every wire type. The size of a `message` push against
 * the targets of protocol version 2 is message-envelope.test.ts's.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import type { DecodedMessage } from '../../src/protocol/codec.js';
import { commandSchemas } from '../../src/protocol/commands.js';
import { delimit } from '../../src/protocol/delimited.js';
import { MediaSchema, ServerMessageSchema } from '../../src/protocol/gen/switchboard_pb.js';
import { protoCodec } from '../../src/protocol/proto-codec.js';
import { encodeClientMessage } from '../../src/protocol/proto-commands.js';
import { decodeServerMessage } from '../../src/protocol/proto-pushes.js';
import type { MessagePush, ServerPush } from '../../src/protocol/pushes.js';
import {
  delimited,
  EGROUP,
  I32,
  I64,
  LEN,
  lenField,
  nestedGroups,
  SGROUP,
  tag,
  varint,
  varintField,
  VARINT,
} from '../helpers/proto-bytes.js';
import { seededRandom } from '../helpers/seeded-random.js';

function decode(frame: Buffer | number[]): DecodedMessage[] {
  const out: DecodedMessage[] = [];
  protoCodec.decode(Buffer.from(frame), (m) => out.push(m));
  return out;
}

function assertMalformed(got: DecodedMessage | undefined, why: RegExp): void {
  assert.ok(got && !got.ok, `expected a malformed answer, got ${JSON.stringify(got)}`);
  assert.equal(got.code, 'malformed');
  assert.match(got.error, why);
}

// ClientMessage fields (switchboard.proto).
const PING = lenField(3, []);
const joinOf = (...fields: number[][]) => lenField(4, fields.flat());
const ROOM_GENERAL = lenField(1, 'general');

describe('malformed binary input (server side: protoCodec.decode)', () => {
  it('an empty frame answers malformed once', () => {
    const got = decode([]);
    assert.equal(got.length, 1);
    assertMalformed(got[0], /empty frame/);
  });

  it('a zero-length message is malformed; the message after it still counts', () => {
    const got = decode([0x00, ...delimited(PING)]);
    assert.equal(got.length, 2);
    assertMalformed(got[0], /no command/);
    assert.deepEqual(got[1], { ok: true, value: { type: 'ping' } });
  });

  it('a length prefix cut short by the end of the frame', () => {
    for (const frame of [[0x80], [0xff, 0xff], [...delimited(PING), 0x81]]) {
      const got = decode(frame);
      assertMalformed(got.at(-1), /cut short/);
    }
  });

  it('a length prefix longer than 5 bytes', () => {
    assertMalformed(decode([0xff, 0xff, 0xff, 0xff, 0xff, 0x01])[0], /longer than 5 bytes/);
  });

  it('a length past the end of the frame: what came before counts, nothing after it is read', () => {
    const got = decode([...delimited(PING), 0x05, ...PING]);
    assert.equal(got.length, 2);
    assert.deepEqual(got[0], { ok: true, value: { type: 'ping' } });
    assertMalformed(got[1], /past the end of the frame/);
  });

  it('a varint cut short inside a message (a tag, a length, a value)', () => {
    for (const message of [[0x80], [0x22, 0x80], joinOf(ROOM_GENERAL, [0x10, 0x80])]) {
      assertMalformed(decode(delimited(message))[0], /EOF|varint/i);
    }
  });

  it('a field running past the end of its submessage', () => {
    // A join of 2 bytes whose `since` varint goes on into the bytes after it.
    assertMalformed(decode(delimited([0x22, 0x02, 0x10, 0x80, 0x01, ...PING]))[0], /EOF/);
  });

  it('a known field with the wrong wire type', () => {
    const cases: number[][] = [
      [...tag(3, VARINT), 0x00], // ping as a varint (once read as a ping of length 0)
      [...tag(4, I32), 0, 0, 0, 0], // join as a fixed32
      joinOf([...tag(1, VARINT), 0x07]), // room as a varint
      joinOf(ROOM_GENERAL, lenField(2, [0x01])), // since as bytes
      [...lenField(1, [...tag(1, LEN), 0x01, 0x31]), ...PING], // a request id number as bytes
      lenField(8, [...tag(3, I64), 1, 0, 0, 0, 0, 0, 0, 0]), // typing's active as a fixed64
      lenField(13, lenField(3, lenField(1, [...lenField(1, 'bob'), ...lenField(2, [7])]))), // a sync map value as bytes
    ];
    for (const message of cases) assertMalformed(decode(delimited(message))[0], /wrong wire type/);
  });

  it('unknown fields of every wire type are ignored, at the top and inside a command', () => {
    const unknown = [
      ...varintField(15, 1),
      ...varintField(1000, 2n ** 63n),
      ...tag(16, I64),
      ...[1, 2, 3, 4, 5, 6, 7, 8],
      ...tag(17, I32),
      ...[1, 2, 3, 4],
      ...lenField(18, 'future'),
      ...tag(19, SGROUP),
      ...varintField(1, 5),
      ...lenField(2, 'x'),
      ...tag(19, EGROUP),
    ];
    const got = decode(delimited([...unknown, ...joinOf(unknown, ROOM_GENERAL, unknown, varintField(2, 41)), ...unknown]));
    assert.deepEqual(got, [{ ok: true, value: { type: 'join', room: 'general', since: 41 } }]);
  });

  it('thousands of nested groups in an unknown field: refused at once, no stack overflow', () => {
    const started = process.hrtime.bigint();
    for (const depth of [101, 10_000, 100_000]) {
      assertMalformed(decode(delimited([...PING, ...nestedGroups(20, depth)]))[0], /recursion|too deep/);
      assertMalformed(decode(delimited(joinOf(ROOM_GENERAL, nestedGroups(20, depth))))[0], /recursion|too deep/);
    }
    assert.ok(process.hrtime.bigint() - started < 2_000_000_000n, 'in well under two seconds');
  });

  it('unknown groups nested up to 98 deep (99 at the top) are skipped, as docs/protocol.md §12.5 says', () => {
    assert.deepEqual(decode(delimited([...PING, ...nestedGroups(20, 99)])), [{ ok: true, value: { type: 'ping' } }]);
    assertMalformed(decode(delimited([...PING, ...nestedGroups(20, 100)]))[0], /recursion/);
    assert.deepEqual(decode(delimited(joinOf(ROOM_GENERAL, nestedGroups(20, 98)))), [{ ok: true, value: { type: 'join', room: 'general' } }]);
    assertMalformed(decode(delimited(joinOf(ROOM_GENERAL, nestedGroups(20, 99))))[0], /recursion/);
  });

  it('thousands of nested submessages in an unknown field are bytes: skipped, not read', () => {
    let inner: number[] = [];
    for (let i = 0; i < 5_000; i++) inner = lenField(21, inner);
    assert.deepEqual(decode(delimited([...PING, ...inner])), [{ ok: true, value: { type: 'ping' } }]);
  });

  it('an unmatched end of group, and a group ended by another field number', () => {
    assertMalformed(decode(delimited([...PING, ...tag(20, EGROUP)]))[0], /wire type|end group/i);
    assertMalformed(decode(delimited([...PING, ...tag(20, SGROUP), ...tag(21, EGROUP)]))[0], /end group/);
  });

  it('invalid UTF-8 in a string (a room, a token, a sync map key)', () => {
    const cases = [
      joinOf(lenField(1, [0x67, 0xff])),
      lenField(2, lenField(1, [0xc3])), // a token cut inside a character
      lenField(13, lenField(3, lenField(1, [...lenField(1, [0xed, 0xa0, 0x80]), ...varintField(2, 7)]))), // a lone surrogate
    ];
    for (const message of cases) assertMalformed(decode(delimited(message))[0], /utf-8|encoded data/i);
  });

  it('JSON bytes that are not JSON, or not UTF-8 (a custom body, a signal data)', () => {
    const publish = (json: number[] | string) => lenField(6, [...ROOM_GENERAL, ...lenField(2, 'x-poll'), ...lenField(5, json)]);
    for (const message of [publish('{"question":'), publish('not json'), publish([0x22, 0xff, 0x22]), publish('')])
      assertMalformed(decode(delimited(message))[0], /JSON|utf-8|encoded data/i);
    const signal = lenField(9, [...lenField(1, 'bob'), ...lenField(3, 'c1'), ...lenField(4, 'offer'), ...lenField(5, '{sdp')]);
    assertMalformed(decode(delimited(signal))[0], /JSON/);
  });

  it('a 64-bit number past 2^53 - 1 (a seq, a request id); 2^53 - 1 itself is kept exact', () => {
    for (const big of [2n ** 53n, 2n ** 64n - 1n]) {
      assertMalformed(decode(delimited(joinOf(ROOM_GENERAL, varintField(2, big))))[0], /2\^53/);
      assertMalformed(decode(delimited([...lenField(1, varintField(1, big)), ...PING]))[0], /2\^53/);
    }
    const max = decode(delimited(joinOf(ROOM_GENERAL, varintField(2, Number.MAX_SAFE_INTEGER))));
    assert.deepEqual(max, [{ ok: true, value: { type: 'join', room: 'general', since: Number.MAX_SAFE_INTEGER } }]);
  });

  it('a varint longer than 10 bytes, in a known field or an unknown one (in a group too)', () => {
    const overlong = [...Array(10).fill(0x80), 0x01];
    assertMalformed(decode(delimited(joinOf(ROOM_GENERAL, [0x10, ...overlong])))[0], /varint/);
    assertMalformed(decode(delimited([...PING, ...tag(99, VARINT), ...overlong]))[0], /varint/);
    assertMalformed(decode(delimited(joinOf(ROOM_GENERAL, [...tag(99, VARINT), ...overlong])))[0], /varint/);
    assertMalformed(decode(delimited([...PING, ...tag(99, SGROUP), ...tag(1, VARINT), ...overlong, ...tag(99, EGROUP)]))[0], /varint/);
    // Ten bytes are a varint still, however many of them only say "more".
    assert.deepEqual(decode(delimited([...PING, ...tag(99, VARINT), ...Array(9).fill(0x80), 0x01])), [{ ok: true, value: { type: 'ping' } }]);
  });

  it('a message with no command this version knows (none, or a future one)', () => {
    assertMalformed(decode(delimited(lenField(1, varintField(1, 7))))[0], /no command/);
    assertMalformed(decode(delimited(lenField(99, [])))[0], /no command/);
  });

  it('illegal tags: field number 0, wire types 6 and 7', () => {
    for (const message of [[0x00, 0x00], [0x0e], [0x0f]]) assertMalformed(decode(delimited(message))[0], /illegal tag/);
  });

  it('what decodes but the schemas refuse is left to them (the same error as in JSON)', () => {
    // An empty room (proto3's default for a missing string), a text body that is not text.
    const noRoom = decode(delimited(joinOf()));
    assert.deepEqual(noRoom, [{ ok: true, value: { type: 'join', room: '' } }]);
    assert.equal(commandSchemas.join.safeParse((noRoom[0] as { value: unknown }).value).success, false);
    const typing = decode(delimited(lenField(8, [])));
    assert.deepEqual(typing, [{ ok: true, value: { type: 'typing' } }]);
    assert.equal(commandSchemas.typing.safeParse((typing[0] as { value: unknown }).value).success, false);
  });

  it('a publish without a body is refused by the schemas as in JSON (not malformed), whoever encoded it', () => {
    const noBody = { type: 'publish', room: 'general', contentType: 'x-poll' };
    for (const frame of [delimited(lenField(6, [...ROOM_GENERAL, ...lenField(2, 'x-poll')])), Buffer.from(delimit(encodeClientMessage(noBody)))]) {
      const got = decode(frame);
      assert.deepEqual(got, [{ ok: true, value: noBody }]);
      const r = commandSchemas.publish.safeParse((got[0] as { value: unknown }).value);
      assert.ok(!r.success && r.error.issues[0]?.path[0] === 'body', 'invalid_request: body');
    }
  });

  it('a sync map keeps a user named __proto__, both ways', () => {
    const sync = JSON.parse('{"type":"sync","id":1,"since":{"__proto__":3,"bob":1}}') as Parameters<typeof encodeClientMessage>[0];
    const got = decode(Buffer.from(delimit(encodeClientMessage(sync))));
    assert.equal(got.length, 1);
    const value = (got[0] as { value: { since: object } }).value;
    assert.deepEqual(Object.entries(value.since), [
      ['__proto__', 3],
      ['bob', 1],
    ]);
    assert.equal(Object.getPrototypeOf(value.since), Object.prototype);
  });

  it('a bad message does not spoil the good ones around it', () => {
    const got = decode([...delimited(PING), ...delimited([0x18, 0x00]), ...delimited(joinOf(ROOM_GENERAL))]);
    assert.equal(got.length, 3);
    assert.deepEqual(got[0], { ok: true, value: { type: 'ping' } });
    assertMalformed(got[1], /wrong wire type/);
    assert.deepEqual(got[2], { ok: true, value: { type: 'join', room: 'general' } });
  });
});

// ServerMessage / Message fields (switchboard.proto).
const messagePush = (...fields: number[][]) => Uint8Array.from(lenField(1, fields.flat()));
const M = {
  room: lenField(1, 'general'),
  seq: varintField(3, 42),
  from: lenField(4, 'alice'),
  ts: varintField(5, 1_796_642_671_229),
  text: lenField(7, 'hi'),
};

describe('malformed binary input (client side: decodeServerMessage throws an Error)', () => {
  const cases: [string, Uint8Array][] = [
    ['nothing', new Uint8Array()],
    ['a truncated message', messagePush(M.room, M.seq).subarray(0, 5)],
    ['seq as bytes', messagePush(M.room, lenField(3, [42]), M.from)],
    ['the room as a varint', messagePush(varintField(1, 7), M.seq)],
    ['invalid UTF-8 in from', messagePush(M.room, lenField(4, [0xff]), M.ts)],
    ['invalid UTF-8 in a long text', messagePush(M.room, lenField(7, [...Array(40).fill(0x61), 0xc3]))],
    ['a custom body that is not JSON', messagePush(M.room, lenField(6, 'x-poll'), lenField(9, '{'))],
    ['a seq past 2^53 - 1', messagePush(M.room, varintField(3, 2n ** 53n))],
    ['a ts past 2^53 - 1 in 10 bytes', messagePush(M.room, varintField(5, 2n ** 64n - 1n))],
    ['a media size past 2^53 - 1', messagePush(M.room, lenField(6, 'image'), lenField(8, [...lenField(1, '/files/x'), ...varintField(4, 2n ** 60n)]))],
    ['a presence event this version does not know', Uint8Array.from(lenField(9, [...lenField(1, 'general'), ...lenField(2, 'bob'), ...varintField(3, 3)]))],
    ['a presence without its event', Uint8Array.from(lenField(9, [...lenField(1, 'general'), ...lenField(2, 'bob')]))],
    ['a left reason this version does not know', Uint8Array.from(lenField(10, [...lenField(1, 'vip'), ...varintField(2, 9)]))],
    ['a push this version does not know', Uint8Array.from(lenField(40, []))],
    ['nested groups after a message', Uint8Array.from([...messagePush(M.room), ...nestedGroups(30, 10_000)])],
    ['nested groups inside a message', messagePush(M.room, nestedGroups(30, 10_000))],
    ['an end of group alone', messagePush(M.room, tag(30, EGROUP))],
    ['an 11-byte varint in an unknown field', messagePush(M.room, tag(30, VARINT), [...Array(10).fill(0x80), 0x01])],
    ['an 11-byte varint in an unknown field after the message', Uint8Array.from([...messagePush(M.room), ...tag(30, VARINT), ...Array(10).fill(0x80), 0x01])],
    ['a group that is not closed', messagePush(M.room, tag(30, SGROUP), varintField(1, 1))],
  ];
  for (const [name, bytes] of cases) {
    it(name, () => {
      assert.throws(() => decodeServerMessage(bytes), Error);
    });
  }
});

/** A push as the generic generated decoder reads it, with nothing of ours in between. */
function generic(bytes: Uint8Array): unknown {
  const m = fromBinary(ServerMessageSchema, bytes);
  assert.equal(m.push.case, 'message');
  const v = m.push.value;
  const b = v.body;
  // Only the body is made plain: a Media's fields without the absent ones, a JSON body parsed.
  const body =
    b.case === 'media'
      ? Object.fromEntries(Object.entries(b.value).filter(([k, x]) => k !== '$typeName' && x !== undefined).map(([k, x]) => [k, typeof x === 'bigint' ? Number(x) : x]))
      : b.case === 'json'
        ? (JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(b.value)) as unknown)
        : b.value;
  return { room: v.room, to: v.to, seq: v.seq, from: v.from, ts: v.ts, contentType: v.contentType, body };
}

/** The fast path's push in the generic decoder's terms. */
function asGeneric(p: MessagePush): unknown {
  return { room: p.room ?? '', to: p.to ?? '', seq: BigInt(p.seq), from: p.from, ts: BigInt(p.ts), contentType: p.contentType === 'text' ? '' : p.contentType, body: p.body };
}

/** Whether decodeServerMessage reads `bytes` with its fast path: one `message` field that is the whole of them. */
function takesFastPath(bytes: Uint8Array): boolean {
  if (bytes[0] !== 0x0a) return false;
  let len = 0;
  let at = 1;
  for (let scale = 1; at < bytes.length && at < 6; scale *= 128) {
    const b = bytes[at++]!;
    len += (b & 0x7f) * scale;
    if (b < 0x80) return at + len === bytes.length;
  }
  return false;
}

function outcome(f: () => unknown): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: f() };
  } catch (e) {
    assert.ok(e instanceof Error, `threw a non-Error: ${String(e)}`);
    return { ok: false };
  }
}

describe('the message fast path agrees with the generic decoder', () => {
  const rnd = seededRandom(19);
  const int = (n: number) => Math.floor(rnd() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const NUMBERS = [0, 1, 127, 128, 16_383, 16_384, 2 ** 31, 2 ** 32 + 5, 1_796_642_671_229, Number.MAX_SAFE_INTEGER];
  const NAMES = ['general', 'bob', 'é', 'naïve café ☕ 👋🏽', 'r'.repeat(100), ''];
  const TEXTS = ['', 'hi', 'x'.repeat(64), 'ü'.repeat(40), 'line\nbreak', '👨‍👩‍👧'.repeat(10)];

  function unknownField(): number[] {
    const field = pick([10, 15, 16, 100, 2047, 536_870_911]);
    switch (int(5)) {
      case 0: {
        // Padded, but within the 10 bytes a varint may take.
        const v = BigInt(int(2 ** 30)) ** 2n;
        return varintField(field, v, Math.min(int(3), 10 - varint(v).length));
      }
      case 1:
        return [...tag(field, I64), ...Array.from({ length: 8 }, () => int(256))];
      case 2:
        return [...tag(field, I32), ...Array.from({ length: 4 }, () => int(256))];
      case 3:
        return lenField(field, Array.from({ length: int(20) }, () => int(256)));
      default:
        return [...tag(field, SGROUP), ...varintField(1, 1), ...nestedGroups(2, int(4)), ...tag(field, EGROUP)];
    }
  }

  /** The fields of one `Message`, each as its bytes, in the order an encoder writes them. */
  function messageFields(): number[][] {
    const fields: number[][] = [];
    fields.push(rnd() < 0.5 ? lenField(1, pick(NAMES)) : lenField(2, pick(NAMES)));
    fields.push(varintField(3, pick(NUMBERS), rnd() < 0.3 ? int(3) : 0));
    fields.push(lenField(4, pick(NAMES)));
    fields.push(varintField(5, pick(NUMBERS), rnd() < 0.3 ? int(3) : 0));
    const kind = int(3);
    if (kind === 1) fields.push(lenField(6, pick(['image', 'file', 'audio', 'video'])));
    if (kind === 2) fields.push(lenField(6, 'x-poll'));
    if (kind === 0) fields.push(lenField(7, pick(TEXTS)));
    if (kind === 1) {
      const media = create(MediaSchema, { url: `/files/${int(1e6)}`, size: rnd() < 0.5 ? BigInt(pick(NUMBERS)) : undefined, width: rnd() < 0.5 ? int(4000) : undefined, caption: rnd() < 0.3 ? pick(TEXTS) : undefined });
      fields.push(lenField(8, toBinary(MediaSchema, media)));
      // A second media part merges into the first, as Protobuf says.
      if (rnd() < 0.3) fields.push(lenField(8, toBinary(MediaSchema, create(MediaSchema, { name: pick(NAMES), height: int(100) }))));
    }
    if (kind === 2) fields.push(lenField(9, JSON.stringify(pick([{ q: 'Lunch?', o: ['a', 'b'] }, [1, 2, 3], 'text', 42, null]))));
    return fields;
  }

  function variant(fields: number[][]): number[] {
    const out = fields.map((f) => [...f]);
    if (rnd() < 0.5) for (let i = out.length - 1; i > 0; i--) {
      const j = int(i + 1);
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
    // An earlier value of a field, overridden by the one that follows (the last one wins).
    if (rnd() < 0.3) out.unshift(pick([lenField(4, 'mallory'), varintField(3, 999), lenField(7, 'old'), lenField(9, '"old"'), lenField(6, 'file')]));
    const unknown = rnd() < 0.6 ? int(4) : 0;
    for (let i = 0; i < unknown; i++) out.splice(int(out.length + 1), 0, unknownField());
    return out.flat();
  }

  it('on 3,000 varied message pushes, some with unknown fields and fields in unusual order', () => {
    let fast = 0;
    for (let i = 0; i < 3_000; i++) {
      const bytes = Uint8Array.from(lenField(1, variant(messageFields())));
      const a = outcome(() => decodeServerMessage(bytes));
      const b = outcome(() => generic(bytes));
      // The same bytes with an unknown field after the message take decodeServerMessage's general path.
      const c = outcome(() => decodeServerMessage(Uint8Array.from([...bytes, ...varintField(15, 1)])));
      assert.equal(a.ok, b.ok, `case ${i}: ${Buffer.from(bytes).toString('hex')}`);
      assert.deepEqual(a, c, `case ${i}: ${Buffer.from(bytes).toString('hex')}`);
      if (a.ok && b.ok) {
        assert.deepEqual(asGeneric(a.value as MessagePush), b.value, `case ${i}: ${Buffer.from(bytes).toString('hex')}`);
        fast++;
      }
    }
    assert.ok(fast > 2_900, `${fast} decoded`);
  });

  it('on the same pushes mutated (bit flips, cut short): both refuse, or both give the same push', () => {
    let fast = 0;
    for (let i = 0; i < 3_000; i++) {
      const bytes = Uint8Array.from(lenField(1, variant(messageFields())));
      const flips = 1 + int(3);
      for (let f = 0; f < flips; f++) bytes[1 + int(bytes.length - 1)]! ^= 1 << int(8);
      const cut = rnd() < 0.2 ? bytes.subarray(0, int(bytes.length)) : bytes;
      const hex = Buffer.from(cut).toString('hex');
      if (!takesFastPath(cut)) continue;
      const a = outcome(() => decodeServerMessage(cut));
      const c = outcome(() => decodeServerMessage(Uint8Array.from([...cut, ...varintField(15, 1)])));
      assert.deepEqual(a, c, `case ${i}: ${hex}`);
      fast++;
    }
    assert.ok(fast > 1_500, `${fast} took the fast path`);
  });

  it('nested unknown groups: the fast path stops where the generic decoder does', () => {
    for (const depth of [97, 98, 99, 100, 101]) {
      const bytes = messagePush(M.room, M.seq, nestedGroups(30, depth), M.text);
      const a = outcome(() => decodeServerMessage(bytes));
      const c = outcome(() => decodeServerMessage(Uint8Array.from([...bytes, ...varintField(15, 1)])));
      assert.deepEqual(a, c, `depth ${depth}`);
    }
  });

  it('encoded pushes decode back to their meaning through both paths', () => {
    const push: ServerPush = { type: 'message', id: 'x', to: 'bob', seq: 3, from: 'alice', contentType: 'x-poll', body: { q: 1 }, ts: 5 };
    const bytes = protoCodec.encode(push).subarray(1);
    const expected = { type: 'message', to: 'bob', seq: 3, from: 'alice', contentType: 'x-poll', body: { q: 1 }, ts: 5 };
    assert.deepEqual(decodeServerMessage(bytes), expected);
    assert.deepEqual(decodeServerMessage(Uint8Array.from([...bytes, ...varintField(15, 1)])), expected);
    assert.deepEqual(varint(300), [0xac, 0x02]);
  });
});
