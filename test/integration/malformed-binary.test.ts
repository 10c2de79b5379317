/**
 * Bytes no Protobuf encoder of switchboard.proto writes, sent over a real socket on a `switchboard.v2.proto`
 * connection: each is answered with error code `malformed` (no id: nothing can be trusted to carry one), or the
 * usual validation error when the bytes are a command the schemas refuse, or a close code for a frame past
 * `limits.maxFrameBytes`. The connection then goes on, other sessions are untouched, the server lives on.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { delimit } from '../../src/protocol/delimited.js';
import { encodeClientMessage } from '../../src/protocol/proto-commands.js';
import { connectUser, type Msg, type TestClient } from '../helpers/client.js';
import { serverFor } from '../helpers/shared-server.js';

// ---- Protobuf wire format by hand (https://protobuf.dev/programming-guides/encoding/)

const VARINT = 0;
const FIXED64 = 1;
const LEN = 2;
const START_GROUP = 3;
const END_GROUP = 4;
const FIXED32 = 5;

function varint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}

const tag = (field: number, wire: number): number[] => varint(field * 8 + wire);
const bytes = (...parts: (number[] | Uint8Array | Buffer)[]): Buffer => Buffer.concat(parts.map((p) => Buffer.from(p)));
/** A length-delimited field: a string, bytes, or a message. */
const len = (field: number, value: string | Buffer): Buffer => {
  const b = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  return bytes(tag(field, LEN), varint(b.length), b);
};
const uint = (field: number, n: number): Buffer => bytes(tag(field, VARINT), varint(n));

/** Fields of ClientMessage and of the commands in it (switchboard.proto). */
const F = { id: 1, ping: 3, join: 4, publish: 6, rooms: 11, idNumber: 1, room: 1, text: 3, json: 5 } as const;

/** An unknown field holding an unknown field … `depth` deep: skipped whole, as bytes, by a reader. */
function nestedUnknown(depth: number): Buffer {
  let inner: Buffer = Buffer.alloc(0);
  for (let i = 0; i < depth; i++) inner = len(100, inner);
  return inner;
}

/** Unknown groups `depth` deep: a reader must walk them to find their end. */
const nestedGroups = (depth: number): Buffer =>
  bytes(...Array.from({ length: depth }, () => tag(100, START_GROUP)), ...Array.from({ length: depth }, () => tag(100, END_GROUP)));

/** The value 1 as a varint of 11 bytes: one past the longest a 64-bit value takes. */
const overlongOne = [0x81, ...Array<number>(9).fill(0x80), 0x00];

/** A frame of one delimited message. */
const framed = (message: Buffer): Buffer => bytes(delimit(message));
const command = (cmd: Record<string, unknown> & { type: string }): Buffer => Buffer.from(encodeClientMessage(cmd));

describe('malformed binary input', () => {
  const server = serverFor(['--auth.dev', 'true']);

  /** Sends `frame` raw; resolves with everything it produced, read up to the pong of a ping sent after it. */
  async function answersTo(c: TestClient, frame: Buffer): Promise<Msg[]> {
    // The unread summary comes once the store has answered, at no set moment after connecting: not an answer.
    await c.waitFor('unread');
    const before = c.messages.length;
    const id = `after-${before}`;
    c.sendRaw(frame);
    c.send({ type: 'ping', id });
    const pong = await c.next((m) => m.type === 'pong' && m.id === id);
    return c.messages.slice(before, c.messages.indexOf(pong));
  }

  /** `frame` is answered with exactly one `malformed` error, and the connection still answers a command. */
  async function refused(c: TestClient, frame: Buffer, what: string): Promise<void> {
    const got = await answersTo(c, frame);
    assert.equal(got.length, 1, `${what}: one answer, got ${JSON.stringify(got)}`);
    const [e] = got as [Msg];
    assert.deepEqual([e.type, e.code, 'id' in e], ['error', 'malformed', false], `${what}: ${JSON.stringify(e)}`);
    assert.equal(typeof e.message, 'string');
    assert.deepEqual(await c.call({ type: 'rooms' }), { rooms: ['calm'] }, `${what}: the connection goes on`);
  }

  it('answers malformed, once, to each kind of broken bytes, and the connection, its room and other sessions go on', async () => {
    const c = await connectUser(server().wsUrl, 'mal', { encoding: 'proto' });
    const peerProto = await connectUser(server().wsUrl, 'peer', { encoding: 'proto' });
    const peerJson = await connectUser(server().wsUrl, 'peer2', { encoding: 'json' });
    for (const x of [c, peerProto, peerJson]) await x.call({ type: 'join', room: 'calm' });
    const errorLogsBefore = server().logs().filter((l) => Number(l.level) >= 50).length;

    const cases: [string, Buffer][] = [
      ['a length prefix cut short', Buffer.from([0x80])],
      ['a length prefix cut short after several bytes', Buffer.from([0xff, 0xff, 0xff])],
      ['a length prefix longer than 5 bytes', Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x00])],
      ['a length past the end of the frame', Buffer.from([0x10, ...tag(F.ping, LEN), 0x00])],
      ['a length past the end, the largest varint', Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x00])],
      ['a truncated varint inside a message (the request id)', framed(bytes(tag(F.id, LEN), [2], tag(F.idNumber, VARINT), [0x80]))],
      ['a truncated length inside a message', framed(bytes(tag(F.ping, LEN), [0x80]))],
      ['a field length past the end of its message', framed(bytes(tag(F.publish, LEN), [0x05], len(F.room, 'calm').subarray(0, 3)))],
      ['a known field with the wrong wire type (ping as a varint)', framed(uint(F.ping, 0))],
      ['a known field with the wrong wire type inside a command (room as a varint)', framed(len(F.publish, bytes(uint(F.room, 5), len(F.text, 'x'))))],
      ['the request id as fixed64', framed(bytes(tag(F.id, FIXED64), Buffer.alloc(8), len(F.ping, Buffer.alloc(0))))],
      ['invalid UTF-8 in a string field (the room)', framed(len(F.publish, bytes(len(F.room, Buffer.from([0x63, 0xff, 0xfe])), len(F.text, 'x'))))],
      ['invalid UTF-8 in a text body', framed(len(F.publish, bytes(len(F.room, 'calm'), len(F.text, Buffer.from([0xc3, 0x28])))))],
      ['a json body that is not JSON', framed(len(F.publish, bytes(len(F.room, 'calm'), len(2, 'x-poll'), len(F.json, '{"q":'))))],
      ['a zero-length message', Buffer.from([0x00])],
      ['an empty frame', Buffer.alloc(0)],
      ['a message with no command this version knows', framed(bytes(len(F.id, uint(F.idNumber, 9)), len(99, 'a command from the future')))],
      ['unknown groups nested 5000 deep', framed(bytes(len(F.ping, Buffer.alloc(0)), nestedGroups(5_000)))],
      ['a varint longer than 10 bytes (in a known field)', framed(bytes(len(F.id, bytes(tag(F.idNumber, VARINT), overlongOne)), len(F.ping, Buffer.alloc(0))))],
      ['an end group with no start', framed(bytes(len(F.ping, Buffer.alloc(0)), tag(100, END_GROUP)))],
      // 2^53, a varint of eight bytes.
      ['a request id past 2^53 - 1', framed(bytes(len(F.id, bytes(tag(F.idNumber, VARINT), [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10])), len(F.ping, Buffer.alloc(0))))],
    ];
    for (const [what, frame] of cases) await refused(c, frame, what);

    // A length that is wrong ends its frame: what came before it is answered, nothing after it is read.
    const mixed = bytes(delimit(command({ type: 'ping', id: 'before' })), [0x7f, 0x00], delimit(command({ type: 'ping', id: 'after' })));
    assert.deepEqual(
      (await answersTo(c, mixed)).map((m) => [m.type, m.id ?? m.code]),
      [
        ['pong', 'before'],
        ['error', 'malformed'],
      ],
    );
    // A broken message among good ones in one frame spoils only itself.
    const among = bytes(delimit(command({ type: 'ping', id: 1 })), delimit(uint(F.ping, 0)), delimit(command({ type: 'ping', id: 2 })));
    assert.deepEqual(
      (await answersTo(c, among)).map((m) => [m.type, m.id ?? m.code]),
      [
        ['pong', 1],
        ['error', 'malformed'],
        ['pong', 2],
      ],
    );

    // Nobody else saw any of it, and everyone still talks.
    await peerProto.call({ type: 'publish', room: 'calm', body: 'still here' });
    for (const x of [c, peerProto, peerJson]) {
      const m = await x.next((m) => m.type === 'message' && m.room === 'calm');
      assert.deepEqual([m.seq, m.from, m.body], [1, 'peer', 'still here'], x.encoding);
      assert.deepEqual(x.garbage, []);
    }
    for (const x of [peerProto, peerJson]) assert.deepEqual(x.all('error'), [], `${x.encoding}: no error reached another session`);
    assert.equal(server().proc.exitCode, null, 'the server runs');
    assert.deepEqual(server().logs().filter((l) => Number(l.level) >= 50).slice(errorLogsBefore), [], 'nothing logged as an error');
    await Promise.all([c.close(), peerProto.close(), peerJson.close()]);
  });

  it('ignores unknown fields, at the top, inside a command and nested thousands deep: the command works', async () => {
    const c = await connectUser(server().wsUrl, 'unk', { encoding: 'proto' });
    const peer = await connectUser(server().wsUrl, 'unk-peer', { encoding: 'json' });
    await peer.call({ type: 'join', room: 'unknown-fields' });
    await c.call({ type: 'join', room: 'unknown-fields' });

    const nested = nestedUnknown(5_000);
    const publish = bytes(
      len(F.id, uint(F.idNumber, 7)),
      len(F.publish, bytes(len(F.room, 'unknown-fields'), uint(15, 42), len(F.text, 'hello from the future'), len(16, 'extra'), nested)),
      uint(99, 1),
      len(100, 'a field from a newer client'),
      bytes(tag(101, FIXED32), [1, 2, 3, 4]),
      bytes(tag(102, FIXED64), Buffer.alloc(8)),
      bytes(tag(103, START_GROUP), uint(1, 5), tag(103, END_GROUP)),
      // Groups a reader must walk, within the library's depth limit (docs/protocol.md §12.5: 98).
      nestedGroups(50),
      nested,
    );
    assert.ok(publish.length > 20_000, `${publish.length} bytes`);
    c.sendRaw(framed(publish));
    const reply = await c.next((m) => m.id === 7);
    assert.equal(reply.type, 'reply', JSON.stringify(reply));
    assert.equal((reply.data as { seq: number }).seq, 1);
    const m = await peer.next((m) => m.type === 'message' && m.room === 'unknown-fields');
    assert.deepEqual([m.from, m.body, m.contentType], ['unk', 'hello from the future', 'text']);
    await Promise.all([c.close(), peer.close()]);
  });

  it('answers the usual validation error when the bytes are a command the schemas refuse', async () => {
    const c = await connectUser(server().wsUrl, 'val', { encoding: 'proto' });
    await c.call({ type: 'join', room: 'valid' });
    const cases: [string, Buffer, string][] = [
      // Protobuf cannot leave out `room`: absent reads as '', which no room is called.
      ['a join without a room', bytes(len(F.id, uint(F.idNumber, 1)), len(F.join, Buffer.alloc(0))), 'invalid_request'],
      ['a publish with an empty text body', bytes(len(F.id, uint(F.idNumber, 2)), len(F.publish, bytes(len(F.room, 'valid'), len(F.text, '')))), 'invalid_request'],
      ['a publish with no body', bytes(len(F.id, uint(F.idNumber, 3)), len(F.publish, len(F.room, 'valid'))), 'invalid_request'],
      ['a text too long', bytes(len(F.id, uint(F.idNumber, 4)), len(F.publish, bytes(len(F.room, 'valid'), len(F.text, 'x'.repeat(8001))))), 'invalid_request'],
      ['a publish to a room not joined', bytes(len(F.id, uint(F.idNumber, 5)), len(F.publish, bytes(len(F.room, 'elsewhere'), len(F.text, 'x')))), 'not_joined'],
    ];
    for (const [what, message, code] of cases) {
      c.sendRaw(framed(message));
      const id = cases.findIndex((x) => x[0] === what) + 1;
      const e = await c.next((m) => m.id === id);
      assert.deepEqual([e.type, e.code], ['error', code], `${what}: ${JSON.stringify(e)}`);
    }
    await c.barrier();
    assert.deepEqual(c.all('message'), [], 'nothing was published');
    assert.deepEqual((await c.call<{ messages: unknown[] }>({ type: 'history', room: 'valid' })).messages, []);
    await c.close();
  });

  it('takes a frame of thousands of broken messages for flooding (4006), as JSON does with lines', async () => {
    const c = await connectUser(server().wsUrl, 'flood', { encoding: 'proto' });
    const other = await connectUser(server().wsUrl, 'flood-peer', { encoding: 'proto' });
    // 60000 zero-length messages: each is answered (and takes a token of the rate limit) until the limit closes it.
    c.sendRaw(Buffer.alloc(60_000));
    assert.deepEqual(await c.waitClosed(), { code: 4006, reason: 'flooding: too many messages' });
    assert.deepEqual([...new Set(c.all('error').map((e) => e.code))], ['malformed', 'rate_limited']);
    assert.deepEqual(await other.call({ type: 'rooms' }), { rooms: [] });
    await other.close();
  });

  // docs/protocol.md §12.5: "a varint longer than 10 bytes" is malformed; in a known field it is, in an unknown
  // one the server skips it (proto-wire.ts leaves unknown varints to BinaryReader.skip, which reads any length).
  it('answers malformed to a varint longer than 10 bytes in an unknown field', async () => {
    const c = await connectUser(server().wsUrl, 'long-varint', { encoding: 'proto' });
    await c.call({ type: 'join', room: 'calm' });
    await refused(c, framed(bytes(len(F.ping, Buffer.alloc(0)), tag(99, VARINT), overlongOne)), 'an 11-byte varint in an unknown field');
    await c.close();
  });

  it('closes with 1009 on a frame larger than limits.maxFrameBytes; other sessions go on', async () => {
    const c = await connectUser(server().wsUrl, 'big', { encoding: 'proto' });
    const other = await connectUser(server().wsUrl, 'big-peer', { encoding: 'proto' });
    const max = Number(((await c.waitFor('connected')).limits as { maxFrameBytes: number }).maxFrameBytes);
    // A well-formed publish, only too large.
    c.sendRaw(framed(bytes(len(F.id, uint(F.idNumber, 1)), len(F.publish, bytes(len(F.room, 'x'), len(F.text, 'y'.repeat(max)))))));
    assert.equal((await c.waitClosed()).code, 1009);
    assert.deepEqual(c.all('error'), []);
    await other.barrier();
    assert.deepEqual(await other.call({ type: 'rooms' }), { rooms: [] });
    assert.equal(server().proc.exitCode, null, 'the server runs');
    await other.close();
  });
});
