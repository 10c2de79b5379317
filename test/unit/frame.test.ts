import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import { joinedLength, joinedPayload, PING_FRAME, textFrame } from '../../src/outbound/frame.js';

// @types/ws does not declare the Receiver; ws exports it at runtime.
interface ReceiverLike {
  write(chunk: Buffer): boolean;
  on(event: 'message', cb: (data: Buffer, isBinary: boolean) => void): this;
  on(event: 'error', cb: (err: Error) => void): this;
  on(event: 'ping', cb: (data: Buffer) => void): this;
}
type ReceiverCtor = new (opts: { isServer: boolean; maxPayload?: number }) => ReceiverLike;
const { Receiver } = createRequire(import.meta.url)('ws') as { Receiver: ReceiverCtor };

/** Feeds a frame to ws's client-side parser (server frames are unmasked) and returns what it read. */
function parseWithWs(frame: Buffer): Promise<{ text: string; isBinary: boolean }> {
  return new Promise((resolve, reject) => {
    const r = new Receiver({ isServer: false, maxPayload: 0 });
    r.on('message', (data, isBinary) => resolve({ text: Buffer.from(data).toString('utf8'), isBinary }));
    r.on('error', reject);
    r.write(frame);
  });
}

/** Parses an unmasked single frame by hand (RFC 6455 §5.2). */
function parseByHand(frame: Buffer): { fin: boolean; opcode: number; masked: boolean; headerLength: number; payload: Buffer } {
  const fin = (frame[0]! & 0x80) !== 0;
  assert.equal(frame[0]! & 0x70, 0, 'RSV bits clear');
  const opcode = frame[0]! & 0x0f;
  const masked = (frame[1]! & 0x80) !== 0;
  let len = frame[1]! & 0x7f;
  let at = 2;
  if (len === 126) {
    len = frame.readUInt16BE(2);
    at = 4;
  } else if (len === 127) {
    const big = frame.readBigUInt64BE(2);
    assert.ok(big < 2n ** 53n);
    len = Number(big);
    at = 10;
  }
  assert.equal(frame.length, at + len, 'frame length = header + payload');
  return { fin, opcode, masked, headerLength: at, payload: frame.subarray(at) };
}

/** Parts whose newline-joined length is exactly `total` bytes, spread over `count` parts. */
function partsOfTotal(total: number, count: number): Buffer[] {
  if (total === 0) return [Buffer.alloc(0)];
  const n = Math.max(1, Math.min(count, Math.floor((total + 1) / 2)));
  const content = total - (n - 1); // bytes besides separators
  const parts: Buffer[] = [];
  let left = content;
  for (let i = 0; i < n; i++) {
    const size = i === n - 1 ? left : Math.floor(content / n);
    parts.push(Buffer.alloc(size, 97 + (i % 26)));
    left -= size;
  }
  assert.equal(joinedLength(parts, 0, parts.length), total);
  return parts;
}

function expectedPayload(parts: Buffer[]): string {
  return parts.map((p) => p.toString('utf8')).join('\n');
}

describe('textFrame', () => {
  const cases: { len: number; header: number }[] = [
    { len: 0, header: 2 },
    { len: 1, header: 2 },
    { len: 125, header: 2 },
    { len: 126, header: 4 },
    { len: 127, header: 4 },
    { len: 1000, header: 4 },
    { len: 65535, header: 4 },
    { len: 65536, header: 10 },
    { len: 70000, header: 10 },
    { len: 1 << 20, header: 10 },
  ];

  for (const { len, header } of cases) {
    for (const count of [1, 3]) {
      it(`payload ${len} bytes in ${count} part(s): ${header}-byte header, valid for ws`, async () => {
        const parts = partsOfTotal(len, count);
        const frame = textFrame(parts, 0, parts.length);
        const f = parseByHand(frame);
        assert.equal(f.fin, true);
        assert.equal(f.opcode, 0x1, 'text opcode');
        assert.equal(f.masked, false, 'server frames are not masked');
        assert.equal(f.headerLength, header);
        assert.equal(frame[0], 0x81);
        if (header === 2) assert.equal(frame[1], len);
        if (header === 4) {
          assert.equal(frame[1], 126);
          assert.equal(frame.readUInt16BE(2), len);
        }
        if (header === 10) {
          assert.equal(frame[1], 127);
          assert.equal(frame.readBigUInt64BE(2), BigInt(len));
        }
        assert.equal(f.payload.toString('utf8'), expectedPayload(parts));
        const ws = await parseWithWs(frame);
        assert.equal(ws.isBinary, false);
        assert.equal(ws.text, expectedPayload(parts));
      });
    }
  }

  it('joins JSON messages with single newlines and frames only parts[from..to)', async () => {
    const parts = ['{"a":1}', '{"b":"é"}', '{"c":3}', '{"d":4}'].map((s) => Buffer.from(s));
    const frame = textFrame(parts, 1, 3);
    const { text } = await parseWithWs(frame);
    assert.equal(text, '{"b":"é"}\n{"c":3}');
    assert.deepEqual(
      text.split('\n').map((l) => JSON.parse(l)),
      [{ b: 'é' }, { c: 3 }],
    );
    assert.equal(textFrame(parts, 2, 3).subarray(2).toString(), '{"c":3}');
  });

  it('a frame of empty parts is only separators', () => {
    const frame = textFrame([Buffer.alloc(0), Buffer.alloc(0), Buffer.alloc(0)], 0, 3);
    assert.deepEqual([...frame], [0x81, 2, 0x0a, 0x0a]);
  });
});

describe('joinedPayload / joinedLength', () => {
  it('returns the single part itself without copying', () => {
    const one = Buffer.from('{"x":1}');
    assert.equal(joinedPayload([one], 0, 1), one);
    assert.equal(joinedPayload([Buffer.from('a'), one], 1, 2), one);
  });

  it('joins several parts with newlines', () => {
    const parts = ['a', 'bc', '', 'def'].map((s) => Buffer.from(s));
    assert.equal(joinedLength(parts, 0, 4), 9);
    assert.equal(joinedPayload(parts, 0, 4).toString(), 'a\nbc\n\ndef');
    assert.equal(joinedPayload(parts, 1, 3).toString(), 'bc\n');
  });

  it('the payload of a frame equals joinedPayload', () => {
    const parts = Array.from({ length: 50 }, (_, i) => Buffer.from(JSON.stringify({ i, pad: 'x'.repeat(i * 50) })));
    const frame = textFrame(parts, 0, parts.length);
    assert.ok(frame.subarray(parseByHand(frame).headerLength).equals(joinedPayload(parts, 0, parts.length)));
  });
});

describe('PING_FRAME', () => {
  it('is a final ping with an empty payload', async () => {
    assert.deepEqual([...PING_FRAME], [0x89, 0x00]);
    const got = await new Promise<Buffer>((resolve, reject) => {
      const r = new Receiver({ isServer: false });
      r.on('ping', resolve);
      r.on('error', reject);
      r.write(PING_FRAME);
    });
    assert.equal(got.length, 0);
  });
});
