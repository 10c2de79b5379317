/**
 * The JSON codec against golden bytes: what `encode` gives for each kind of
 * push, and the WebSocket frames built from them (RFC 6455 §5.2: FIN + opcode,
 * the length in 7 bits, or 126 + 16 bits, or 127 + 64 bits, then the payload;
 * JSON messages sharing a frame are joined by 0x0a). Clients parse these
 * bytes: a change here is a protocol change.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { frameOf, joinedLength, joinedPayload, textFrame, type Framing } from '../../src/outbound/frame.js';
import type { DecodedMessage } from '../../src/protocol/codec.js';
import { CODECS, codecNamed, DEFAULT_CODEC } from '../../src/protocol/codecs.js';
import { jsonCodec } from '../../src/protocol/json-codec.js';
import type { ServerPush } from '../../src/protocol/pushes.js';
import { parseWithWs } from '../helpers/ws-receiver.js';

function hex(b: Buffer): string {
  return b.toString('hex');
}

function utf8(text: string): Buffer {
  return Buffer.from(text, 'utf8');
}

/** Asserts the exact bytes (and shows them as text when they differ). */
function assertBytes(actual: Buffer, expected: Buffer): void {
  assert.equal(actual.toString('utf8'), expected.toString('utf8'));
  assert.ok(actual.equals(expected), `bytes differ: ${hex(actual)} != ${hex(expected)}`);
}

const SETTINGS = {
  heartbeat: { intervalMs: 25_000, timeoutMs: 10_000 },
  limits: { maxFrameBytes: 65_536, messagesPerSecond: 50, burst: 100, roomsPerSession: 100, maxTextLength: 8_000 },
};

// ── the pushes and their golden encodings ────────────────────────────────────

const PONG: ServerPush = { type: 'pong', id: 1 };
const PONG_JSON = '{"type":"pong","id":1}';

const ROOM_MESSAGE: ServerPush = { type: 'message', id: 'm1', room: 'general', seq: 1, from: 'alice', contentType: 'text', body: 'hi', ts: 1_700_000_000_000 };
const ROOM_MESSAGE_JSON = '{"type":"message","id":"m1","room":"general","seq":1,"from":"alice","contentType":"text","body":"hi","ts":1700000000000}';

const DM: ServerPush = { type: 'message', id: 'm2', to: 'bob', seq: 7, from: 'alice', contentType: 'text', body: 'héllo\n', ts: 1_700_000_000_001, key: 'k1' };
/** é is c3 a9 in UTF-8; the newline is escaped as 5c 6e (\n), never a raw 0a. */
const DM_HEX =
  '7b2274797065223a226d657373616765222c226964223a226d32222c22746f223a22626f62222c22736571223a372c2266726f6d223a22616c696365222c' +
  '22636f6e74656e7454797065223a2274657874222c22626f6479223a2268c3a96c6c6f5c6e222c227473223a313730303030303030303030312c226b6579223a226b31227d';

const PRESENCE: ServerPush = { type: 'presence', room: 'general', user: 'bob', event: 'join' };
const PRESENCE_JSON = '{"type":"presence","room":"general","user":"bob","event":"join"}';

const TYPING: ServerPush = { type: 'typing', to: 'bob', from: 'alice', active: false };
const TYPING_JSON = '{"type":"typing","to":"bob","from":"alice","active":false}';

const ERROR: ServerPush = { type: 'error', id: 3, code: 'not_joined', message: 'not in room x' };
const ERROR_JSON = '{"type":"error","id":3,"code":"not_joined","message":"not in room x"}';

const REPLY: ServerPush = { type: 'reply', id: 'r1', data: { room: 'general', kind: 'public', durable: false, seq: 0 } };
const REPLY_JSON = '{"type":"reply","id":"r1","data":{"room":"general","kind":"public","durable":false,"seq":0}}';

const CONNECTED_JSON =
  '{"type":"connected","session":"S1","user":"alice","heartbeat":{"intervalMs":25000,"timeoutMs":10000},' +
  '"limits":{"maxFrameBytes":65536,"messagesPerSecond":50,"burst":100,"roomsPerSession":100,"maxTextLength":8000}}';

describe('JSON codec: the registry', () => {
  it('JSON is registered, is the default, and has id 0, text frames and the newline separator', () => {
    assert.equal(CODECS[0], jsonCodec);
    assert.equal(codecNamed('switchboard.v1.json'), jsonCodec);
    assert.equal(DEFAULT_CODEC, jsonCodec);
    assert.equal(codecNamed('json'), jsonCodec);
    assert.equal(codecNamed('JSON'), undefined);
    assert.equal(codecNamed('protobuf'), undefined);
    assert.equal(jsonCodec.name, 'json');
    assert.equal(jsonCodec.id, 0);
    assert.equal(jsonCodec.binary, false);
    assert.equal(jsonCodec.separator, 0x0a);
  });

  it('codec ids are unique (per-codec state is kept in arrays by id)', () => {
    assert.equal(new Set(CODECS.map((c) => c.id)).size, CODECS.length);
    assert.equal(new Set(CODECS.map((c) => c.name)).size, CODECS.length);
  });
});

describe('JSON codec: golden encodings', () => {
  it('connected (connectedEncoder)', () => {
    const encode = jsonCodec.connectedEncoder(SETTINGS);
    assertBytes(encode('S1', 'alice'), utf8(CONNECTED_JSON));
    // The settings are encoded once; session and user per call.
    assertBytes(encode('S2', 'bob'), utf8(CONNECTED_JSON.replace('"S1"', '"S2"').replace('"alice"', '"bob"')));
    assertBytes(jsonCodec.encode({ type: 'connected', session: 'S1', user: 'alice', ...SETTINGS }), utf8(CONNECTED_JSON));
  });

  it('a message in a room', () => {
    assertBytes(jsonCodec.encode(ROOM_MESSAGE), utf8(ROOM_MESSAGE_JSON));
  });

  it('a direct message with a key (UTF-8, escaped newline)', () => {
    const bytes = jsonCodec.encode(DM);
    assert.equal(hex(bytes), DM_HEX);
    assert.equal(bytes.indexOf(0x0a), -1);
  });

  it('presence', () => {
    assertBytes(jsonCodec.encode(PRESENCE), utf8(PRESENCE_JSON));
  });

  it('typing', () => {
    assertBytes(jsonCodec.encode(TYPING), utf8(TYPING_JSON));
  });

  it('an error with its request id', () => {
    assertBytes(jsonCodec.encode(ERROR), utf8(ERROR_JSON));
  });

  it('a reply', () => {
    assertBytes(jsonCodec.encode(REPLY), utf8(REPLY_JSON));
  });

  it('pong', () => {
    assertBytes(jsonCodec.encode(PONG), utf8(PONG_JSON));
  });
});

describe('JSON codec: golden frames', () => {
  const frame = (pushes: ServerPush[], from = 0, to = pushes.length) =>
    frameOf(
      pushes.map((p) => jsonCodec.encode(p)),
      from,
      to,
      jsonCodec,
    );

  it('one message: 0x81, a 7-bit length, the message', () => {
    // 0x16 = 22 bytes.
    assert.equal(hex(frame([PONG])), '8116' + '7b2274797065223a22706f6e67222c226964223a317d');
  });

  it('two messages: joined by one 0x0a, no trailing separator', () => {
    // 22 + 1 + 64 = 87 = 0x57.
    assert.equal(
      hex(frame([PONG, PRESENCE])),
      '8157' +
        '7b2274797065223a22706f6e67222c226964223a317d' +
        '0a' +
        '7b2274797065223a2270726573656e6365222c22726f6f6d223a2267656e6572616c222c2275736572223a22626f62222c226576656e74223a226a6f696e227d',
    );
  });

  it('three messages past 125 bytes: 126 and a 16-bit length', () => {
    // 22 + 1 + 64 + 1 + 58 = 146 = 0x0092.
    assert.equal(
      hex(frame([PONG, PRESENCE, TYPING])),
      '817e0092' +
        '7b2274797065223a22706f6e67222c226964223a317d' +
        '0a' +
        '7b2274797065223a2270726573656e6365222c22726f6f6d223a2267656e6572616c222c2275736572223a22626f62222c226576656e74223a226a6f696e227d' +
        '0a' +
        '7b2274797065223a22747970696e67222c22746f223a22626f62222c2266726f6d223a22616c696365222c22616374697665223a66616c73657d',
    );
  });

  it('frames only parts[from..to)', () => {
    const parts = [PONG, PRESENCE, TYPING, ERROR].map((p) => jsonCodec.encode(p));
    // 64 + 1 + 58 = 123 = 0x7b.
    assert.equal(hex(frameOf(parts, 1, 3, jsonCodec)), '817b' + hex(utf8(`${PRESENCE_JSON}\n${TYPING_JSON}`)));
    assert.equal(hex(frameOf(parts, 3, 4, jsonCodec)), '8145' + hex(utf8(ERROR_JSON)));
  });

  it('textFrame is frameOf with the JSON codec', () => {
    const parts = [ROOM_MESSAGE, DM, REPLY].map((p) => jsonCodec.encode(p));
    assert.ok(textFrame(parts, 0, 3).equals(frameOf(parts, 0, 3, jsonCodec)));
  });

  /** A pong and a notice padded with `pad` x's: 22 + 1 + 50 + pad bytes of payload. */
  function padded(pad: number): { parts: Buffer[]; payload: string } {
    const notice: ServerPush = { type: 'notice', from: 'System', text: 'x'.repeat(pad), ts: 1 };
    const payload = `${PONG_JSON}\n{"type":"notice","from":"System","text":"${'x'.repeat(pad)}","ts":1}`;
    return { parts: [jsonCodec.encode(PONG), jsonCodec.encode(notice)], payload };
  }

  const boundaries: { payload: number; pad: number; header: string }[] = [
    { payload: 125, pad: 52, header: '817d' },
    { payload: 126, pad: 53, header: '817e007e' },
    { payload: 65_535, pad: 65_462, header: '817effff' },
    { payload: 65_536, pad: 65_463, header: '817f0000000000010000' },
  ];

  for (const { payload, pad, header } of boundaries) {
    it(`a payload of ${payload} bytes: header ${header}`, async () => {
      const p = padded(pad);
      assert.equal(Buffer.byteLength(p.payload), payload);
      const f = frameOf(p.parts, 0, 2, jsonCodec);
      assert.equal(f.length, header.length / 2 + payload);
      assert.equal(hex(f.subarray(0, header.length / 2)), header);
      assertBytes(f.subarray(header.length / 2), utf8(p.payload));
      const ws = await parseWithWs(f);
      assert.equal(ws.isBinary, false);
      assert.equal(ws.payload.toString('utf8'), p.payload);
    });
  }

  it('ws reads the three-message frame as one text message with three lines', async () => {
    const ws = await parseWithWs(frame([PONG, PRESENCE, TYPING]));
    assert.equal(ws.isBinary, false);
    assert.deepEqual(
      ws.payload
        .toString('utf8')
        .split('\n')
        .map((l) => JSON.parse(l)),
      [PONG, PRESENCE, TYPING],
    );
  });
});

describe('JSON codec: decoding a client frame', () => {
  function decode(text: string): DecodedMessage[] {
    const out: DecodedMessage[] = [];
    jsonCodec.decode(utf8(text), (m) => out.push(m));
    return out;
  }

  it('splits the lines, skips blank ones, reports a bad one without spoiling the others', () => {
    const frame = '\n{"type":"ping","id":1}\n\n{"type":"join",\n   \n{"type":"join","room":"général"}\r\n\t\n{"type":"rooms"}';
    const got = decode(frame);
    assert.equal(got.length, 4);
    assert.deepEqual(got[0], { ok: true, value: { type: 'ping', id: 1 } });
    assert.equal(got[1]!.ok, false);
    assert.ok(!got[1]!.ok && typeof got[1]!.error === 'string' && got[1]!.error.length > 0, 'a reason is given');
    assert.deepEqual(got[2], { ok: true, value: { type: 'join', room: 'général' } });
    assert.deepEqual(got[3], { ok: true, value: { type: 'rooms' } });
  });

  it('a frame of only separators and blanks holds no message', () => {
    assert.deepEqual(decode(''), []);
    assert.deepEqual(decode('\n\n\n'), []);
    assert.deepEqual(decode(' \r\n\t\n'), []);
  });

  it('decodes what the frames above carry (a server frame\'s payload, read back)', () => {
    const parts = [PONG, PRESENCE, TYPING, DM].map((p) => jsonCodec.encode(p));
    const out: DecodedMessage[] = [];
    jsonCodec.decode(joinedPayload(parts, 0, parts.length, jsonCodec), (m) => out.push(m));
    assert.deepEqual(
      out,
      [PONG, PRESENCE, TYPING, DM].map((value) => ({ ok: true, value })),
    );
  });
});

describe('framing of a binary codec (no separator)', () => {
  const BINARY: Framing = { binary: true, separator: -1 };

  it('uses opcode 2 (0x82) and plain concatenation', () => {
    const parts = [Buffer.from([0x01, 0x02, 0x03]), Buffer.from([0x04, 0x05]), Buffer.from([0x06])];
    assert.equal(hex(frameOf(parts, 0, 3, BINARY)), '8206' + '010203' + '0405' + '06');
    assert.equal(hex(frameOf(parts, 1, 3, BINARY)), '8203' + '0405' + '06');
    assert.equal(joinedLength(parts, 0, 3, BINARY), 6);
    assert.equal(hex(joinedPayload(parts, 0, 3, BINARY)), '010203040506');
    // A 0x0a inside a message is only data.
    assert.equal(hex(frameOf([Buffer.from([0x0a]), Buffer.from([0x0a])], 0, 2, BINARY)), '82020a0a');
  });

  it('the same parts in JSON framing get 0x81 and the separators', () => {
    const parts = [Buffer.from([0x01, 0x02, 0x03]), Buffer.from([0x04, 0x05]), Buffer.from([0x06])];
    assert.equal(hex(frameOf(parts, 0, 3, jsonCodec)), '8108' + '010203' + '0a' + '0405' + '0a' + '06');
  });

  it('length boundaries count no separators', () => {
    const half = (n: number) => [Buffer.alloc(n, 0xaa), Buffer.alloc(n, 0xbb)];
    assert.equal(hex(frameOf(half(62), 0, 2, BINARY).subarray(0, 2)), '827c');
    assert.equal(hex(frameOf(half(63), 0, 2, BINARY).subarray(0, 4)), '827e007e');
    const big = frameOf(half(32_768), 0, 2, BINARY);
    assert.equal(hex(big.subarray(0, 10)), '827f0000000000010000');
    assert.equal(big.length, 10 + 65_536);
    assert.equal(big[10], 0xaa);
    assert.equal(big[10 + 32_768], 0xbb, 'the second part follows the first directly');
  });

  it('ws reads it as one binary message', async () => {
    const parts = [Buffer.from([0x01, 0x02, 0x03]), Buffer.from([0x0a, 0x05])];
    const ws = await parseWithWs(frameOf(parts, 0, 2, BINARY));
    assert.equal(ws.isBinary, true);
    assert.equal(hex(ws.payload), '0102030a05');
  });
});
