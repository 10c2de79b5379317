/**
 * Protocol version 2 against its golden vectors (test/golden/protocol-v2/vectors.json),
 * in both directions and both encodings: encoding each push or command gives
 * exactly the bytes of the file, and decoding those bytes gives exactly its
 * meaning — the server's codecs for commands, the client's decoder
 * (decodeServerMessage) for pushes. Clients in other languages are written
 * against these bytes: a change here is a protocol change.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { frameOf } from '../../src/outbound/frame.js';
import type { DecodedMessage } from '../../src/protocol/codec.js';
import { commandSchemas, isCommandType } from '../../src/protocol/commands.js';
import { delimit, splitDelimited } from '../../src/protocol/delimited.js';
import { json2Codec } from '../../src/protocol/json2-codec.js';
import { jsonCodec } from '../../src/protocol/json-codec.js';
import { protoCodec } from '../../src/protocol/proto-codec.js';
import { decodeClientMessage, encodeClientMessage } from '../../src/protocol/proto-commands.js';
import { decodeServerMessage, encodeServerMessage } from '../../src/protocol/proto-pushes.js';
import type { ServerPush } from '../../src/protocol/pushes.js';
import { readFileSync } from 'node:fs';
import { bytesOfListing, countGoldenBlocks, fillGoldenBlocks, listing } from '../golden/protocol-v2/annotate.js';
import { loadVectors, v2Meaning } from '../golden/protocol-v2/vectors.js';
import { REPO_ROOT } from '../helpers/server.js';
import { seededRandom } from '../helpers/seeded-random.js';
import { parseWithWs } from '../helpers/ws-receiver.js';

const V = loadVectors();
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const unhex = (h: string): Buffer => Buffer.from(h, 'hex');
const pushNamed = (name: string) => V.pushes.find((p) => p.name === name)!;
const commandNamed = (name: string) => V.commands.find((c) => c.name === name)!;

/** What a version 2 JSON client makes of a line: the lean `message` leaves out `contentType` when it is text. */
function readLeanJson(line: string): unknown {
  const v = JSON.parse(line) as Record<string, unknown>;
  if (v.type === 'message' && v.contentType === undefined) v.contentType = 'text';
  return v;
}

/** Every message of a Protobuf payload, as the client decodes it. */
function readProto(payload: Uint8Array): ServerPush[] {
  const out: ServerPush[] = [];
  splitDelimited(payload, (m) => out.push(decodeServerMessage(m)), (reason) => assert.fail(reason));
  return out;
}

function decodeAll(codec: { decode(frame: Buffer, on: (m: DecodedMessage) => void): void }, frame: Buffer): DecodedMessage[] {
  const out: DecodedMessage[] = [];
  codec.decode(frame, (m) => out.push(m));
  return out;
}

describe('protocol v2 golden vectors: coverage', () => {
  it('every kind of push and every command is in the file', () => {
    const pushTypes = new Set(V.pushes.map((p) => p.push.type));
    for (const t of ['message', 'connected', 'notice', 'reply', 'error', 'pong', 'typing', 'signal', 'presence', 'left', 'unread'])
      assert.ok(pushTypes.has(t as ServerPush['type']), t);
    const commandTypes = new Set(V.commands.map((c) => c.command.type));
    for (const t of Object.keys(commandSchemas)) assert.ok(commandTypes.has(t), t);
  });

  it('the cases the protocol document walks through are there', () => {
    for (const name of ['message-room-text', 'message-direct-text', 'message-room-media', 'message-direct-media', 'message-room-custom', 'message-direct-custom'])
      assert.ok(pushNamed(name), name);
    for (const name of ['notice', 'notice-with-data', 'reply-number-id', 'reply-string-id', 'presence-join', 'presence-leave', 'left-removed', 'left-deleted'])
      assert.ok(pushNamed(name), name);
    for (const name of ['join', 'join-since', 'publish-text', 'publish-media', 'publish-custom', 'signal', 'sync-seq', 'sync-map'])
      assert.ok(commandNamed(name), name);
  });

  it('the meaning of each push is what version 2 keeps of it', () => {
    for (const v of V.pushes) assert.deepEqual(v.meaning, v2Meaning(v.push), v.name);
  });

  it('every command is one the server accepts, in the shape its schema gives back', () => {
    for (const { name, command } of V.commands) {
      assert.ok(isCommandType(command.type), name);
      const r = commandSchemas[command.type].safeParse(command);
      assert.ok(r.success, `${name}: ${r.success ? '' : r.error.message}`);
    }
  });
});

describe('protocol v2 golden vectors: pushes, Protobuf (switchboard.v2.proto)', () => {
  for (const v of V.pushes) {
    it(`${v.name}: encodes to the bytes, and the bytes decode to the meaning`, () => {
      assert.equal(hex(protoCodec.encode(v.push)), v.proto);
      // What version 2 leaves out of a message makes no difference to its bytes.
      assert.equal(hex(protoCodec.encode(v.meaning as ServerPush)), v.proto);
      const bytes = unhex(v.proto);
      assert.equal(hex(delimit(encodeServerMessage(v.push))), v.proto);
      assert.deepEqual(readProto(bytes), [v.meaning]);
    });
  }

  it('connected: the per-server encoder gives the same bytes', () => {
    const v = pushNamed('connected');
    const p = v.push as Extract<ServerPush, { type: 'connected' }>;
    assert.equal(hex(protoCodec.connectedEncoder(p)(p.session, p.user)), v.proto);
  });
});

describe('protocol v2 golden vectors: pushes, lean JSON (switchboard.v2.json)', () => {
  for (const v of V.pushes) {
    it(`${v.name}: encodes to the text, and the text reads as the meaning`, () => {
      assert.equal(json2Codec.encode(v.push).toString('utf8'), v.json);
      assert.equal(json2Codec.encode(v.meaning as ServerPush).toString('utf8'), v.json);
      assert.equal(v.json.includes('\n'), false, 'no raw newline: it separates messages');
      assert.deepEqual(readLeanJson(v.json), v.meaning);
    });
  }

  it('a message push carries no id, no key, and no contentType when it is text', () => {
    for (const v of V.pushes.filter((p) => p.push.type === 'message')) {
      const parsed = JSON.parse(v.json) as Record<string, unknown>;
      assert.equal(parsed.id, undefined, v.name);
      assert.equal(parsed.key, undefined, v.name);
      const push = v.push as Extract<ServerPush, { type: 'message' }>;
      assert.equal(parsed.contentType, push.contentType === 'text' ? undefined : push.contentType, v.name);
    }
  });

  it('every other push is as in version 1', () => {
    for (const v of V.pushes.filter((p) => p.push.type !== 'message')) assert.equal(jsonCodec.encode(v.push).toString('utf8'), v.json, v.name);
  });

  it('connected: the per-server encoder gives the same text', () => {
    const v = pushNamed('connected');
    const p = v.push as Extract<ServerPush, { type: 'connected' }>;
    assert.equal(json2Codec.connectedEncoder(p)(p.session, p.user).toString('utf8'), v.json);
  });
});

describe('the lean JSON message, written by hand, is what JSON.stringify writes', () => {
  it('on 2,000 varied pushes: odd strings, bodies of every kind, rooms and direct messages', () => {
    const rnd = seededRandom(2);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    const STRINGS = ['general', 'é', '"quoted" \\ back', 'line\nbreak\ttab', '\u2028\u2029', '\ud800 lone', '👨‍👩‍👧', '\u0000\u001f', ''];
    const BODIES = [...STRINGS, { url: '/files/x', size: 1 }, { a: [1, { b: null }] }, [1, 'two'], 42, 1.5, true, null, undefined];
    for (let i = 0; i < 2_000; i++) {
      const where = rnd() < 0.5 ? { room: pick(STRINGS) } : { to: pick(STRINGS) };
      const push: ServerPush = {
        type: 'message',
        id: 'id',
        ...where,
        seq: Math.floor(rnd() * 2 ** 53),
        from: pick(STRINGS),
        contentType: pick(['text', 'image', 'x-poll']),
        body: pick(BODIES),
        ts: Math.floor(rnd() * 2 ** 42),
        key: pick([undefined, 'k']),
      };
      const { type, seq, from, ts, contentType, body } = push;
      const expected = JSON.stringify({ type, ...where, seq, from, ts, ...(contentType === 'text' ? {} : { contentType }), body });
      assert.equal(json2Codec.encode(push).toString('utf8'), expected, `case ${i}`);
    }
  });
});

describe('protocol v2 golden vectors: commands', () => {
  for (const v of V.commands) {
    it(`${v.name}: Protobuf both ways`, () => {
      assert.equal(hex(delimit(encodeClientMessage(v.command))), v.proto);
      assert.deepEqual(decodeAll(protoCodec, unhex(v.proto)), [{ ok: true, value: v.command }]);
      assert.deepEqual(decodeClientMessage(unhex(v.proto).subarray(1)), v.command);
    });

    it(`${v.name}: JSON both ways`, () => {
      assert.equal(JSON.stringify(v.command), v.json);
      assert.deepEqual(decodeAll(json2Codec, Buffer.from(v.json)), [{ ok: true, value: v.command }]);
      assert.deepEqual(decodeAll(jsonCodec, Buffer.from(v.json)), [{ ok: true, value: v.command }]);
    });
  }
});

describe('protocol v2 golden vectors: whole frames', () => {
  for (const f of V.serverFrames) {
    const pushes = f.pushes.map(pushNamed);

    it(`${f.name}: a server frame in Protobuf is 0x82, the length, the size-delimited messages concatenated`, async () => {
      const frame = frameOf(
        pushes.map((p) => protoCodec.encode(p.push)),
        0,
        pushes.length,
        protoCodec,
      );
      assert.equal(hex(frame), f.proto);
      const ws = await parseWithWs(frame);
      assert.equal(ws.isBinary, true);
      assert.equal(hex(ws.payload), pushes.map((p) => p.proto).join(''));
      assert.deepEqual(readProto(ws.payload), pushes.map((p) => p.meaning));
    });

    it(`${f.name}: a server frame in lean JSON is 0x81, the length, the messages joined by 0x0a`, async () => {
      const frame = frameOf(
        pushes.map((p) => json2Codec.encode(p.push)),
        0,
        pushes.length,
        json2Codec,
      );
      assert.equal(hex(frame), f.json);
      const ws = await parseWithWs(frame);
      assert.equal(ws.isBinary, false);
      assert.equal(ws.payload.toString('utf8'), pushes.map((p) => p.json).join('\n'));
      assert.deepEqual(
        ws.payload
          .toString('utf8')
          .split('\n')
          .map(readLeanJson),
        pushes.map((p) => p.meaning),
      );
    });
  }

  for (const p of V.clientPayloads) {
    const commands = p.commands.map(commandNamed);

    it(`${p.name}: a client payload decodes to its commands in order, in each encoding`, () => {
      assert.equal(p.proto, commands.map((c) => hex(delimit(encodeClientMessage(c.command)))).join(''));
      assert.equal(p.json, commands.map((c) => JSON.stringify(c.command)).join('\n'));
      const expected = commands.map((c) => ({ ok: true, value: c.command }));
      assert.deepEqual(decodeAll(protoCodec, unhex(p.proto)), expected);
      assert.deepEqual(decodeAll(json2Codec, Buffer.from(p.json)), expected);
    });
  }
});

describe('docs/protocol.md quotes the vectors', () => {
  const doc = readFileSync(`${REPO_ROOT}docs/protocol.md`, 'utf8');

  it('every golden block and the schema are as the vectors and the .proto make them (annotate.js --fill to redo them)', () => {
    assert.ok(countGoldenBlocks(doc) >= 10, `${countGoldenBlocks(doc)} blocks`);
    const filled = fillGoldenBlocks(doc);
    if (filled !== doc) {
      const at = [...filled].findIndex((c, i) => c !== doc[i]);
      assert.fail(`docs/protocol.md differs from its golden blocks near: ${JSON.stringify(doc.slice(Math.max(0, at - 200), at + 200))}`);
    }
  });

  it('a listing shows every byte of its vector, in order', () => {
    for (const v of V.pushes) assert.equal(bytesOfListing(listing('push', v.name)), v.proto, v.name);
    for (const v of V.commands) assert.equal(bytesOfListing(listing('command', v.name)), v.proto, v.name);
    for (const v of V.clientPayloads) assert.equal(bytesOfListing(listing('payload', v.name)), v.proto, v.name);
    for (const v of V.serverFrames) assert.equal(bytesOfListing(listing('frame', v.name)), v.proto, v.name);
  });

  it('the sizes the text gives for message-room-text: 95 bytes of lean JSON, 36 of Protobuf', () => {
    const v = pushNamed('message-room-text');
    assert.equal(Buffer.byteLength(v.json), 95);
    assert.equal(v.proto.length / 2, 36);
  });
});
