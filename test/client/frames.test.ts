/** Framing: incoming frames split on newlines (JSON) or by length (Protobuf), outgoing commands packed under the frame limit. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { packFrames, parseFrame, utf8Length } from '../../client/src/frames.js';
import { parseBinaryFrame, protoWire } from '../../client/src/proto-wire.js';
import { delimit, splitDelimited } from '../../src/protocol/delimited.js';
import { decodeClientMessage } from '../../src/protocol/proto-commands.js';
import { encodeServerMessage } from '../../src/protocol/proto-pushes.js';
import type { ServerPush } from '../../src/protocol/pushes.js';

describe('client frames', () => {
  it('parses every newline-separated message of a frame, in order', () => {
    const frame = '{"type":"connected","session":"s"}\n{"type":"notice","text":"hi"}\n{"type":"message","seq":1}';
    const { messages, invalid } = parseFrame(frame);
    assert.deepEqual(messages.map((m) => m.type), ['connected', 'notice', 'message']);
    assert.deepEqual(invalid, []);
  });

  it('a single message without a newline, and empty or blank pieces, are fine', () => {
    assert.equal(parseFrame('{"type":"pong"}').messages.length, 1);
    const { messages, invalid } = parseFrame('\n{"type":"pong"}\n\n  \n{"type":"pong","id":2}\n');
    assert.equal(messages.length, 2);
    assert.deepEqual(invalid, []);
  });

  it('a bad line does not spoil the others; non-objects and objects without type are invalid', () => {
    const { messages, invalid } = parseFrame('{"type":"pong"}\nnot json\n[1,2]\n{"no":"type"}\n"str"\n{"type":"pong","id":1}');
    assert.equal(messages.length, 2);
    assert.deepEqual(invalid, ['not json', '[1,2]', '{"no":"type"}', '"str"']);
  });

  it('keeps newlines escaped inside strings intact (JSON never has raw newlines)', () => {
    const line = JSON.stringify({ type: 'message', body: 'two\nlines' });
    const { messages } = parseFrame(`${line}\n${line}`);
    assert.equal(messages.length, 2);
    assert.equal((messages[0] as { body?: string }).body, 'two\nlines');
  });

  it('measures UTF-8 bytes', () => {
    assert.equal(utf8Length('abc'), 3);
    assert.equal(utf8Length('é'), 2);
    assert.equal(utf8Length('€'), 3);
    assert.equal(utf8Length('😀'), 4);
  });

  it('packs lines into as few frames as fit under the limit, keeping order', () => {
    const lines = Array.from({ length: 10 }, (_, i) => JSON.stringify({ type: 'publish', id: i, body: 'x'.repeat(20) }));
    const one = packFrames(lines, 65_536);
    assert.equal(one.length, 1);
    assert.equal(one[0], lines.join('\n'));

    const len = utf8Length(lines[0]!);
    const small = packFrames(lines, len * 3 + 2); // exactly three lines and two separators
    assert.equal(small.length, 4);
    for (const f of small) assert.ok(utf8Length(f) <= len * 3 + 2);
    assert.deepEqual(small.join('\n').split('\n'), lines, 'order and content preserved');

    const tight = packFrames(lines, len * 3 + 1); // one byte short of three lines
    assert.equal(tight.length, 5);
  });

  it('counts multi-byte characters when packing', () => {
    const euro = JSON.stringify({ body: '€'.repeat(10) }); // 30 bytes of euros
    const frames = packFrames([euro, euro], utf8Length(euro) * 2);
    assert.equal(frames.length, 2, 'two lines plus a separator do not fit');
    assert.equal(packFrames([], 100).length, 0);
  });
});

describe('client frames: Protobuf', () => {
  const commands = Array.from({ length: 12 }, (_, i) => ({ type: 'publish', id: i + 1, room: 'general', body: `message ${i + 1}`, key: `k${i}` }));

  /** The commands a binary frame carries, as the server reads them. */
  function commandsIn(frame: Uint8Array): unknown[] {
    const out: unknown[] = [];
    splitDelimited(frame, (bytes) => out.push(decodeClientMessage(bytes)), (reason) => assert.fail(reason));
    return out;
  }

  it('packs size-delimited commands into binary frames under the limit, keeping order', () => {
    const encoded = commands.map((c) => protoWire.encode(c));
    const one = protoWire.size(encoded[0]!);
    const frames = protoWire.pack(encoded, one * 5);
    assert.equal(frames.length, 3, '12 commands of equal size, 5 to a frame');
    for (const f of frames) assert.ok(f.length <= one * 5);
    assert.deepEqual(frames.flatMap(commandsIn), commands);
    assert.deepEqual(protoWire.pack(encoded, 65_536).flatMap(commandsIn), commands, 'all in one frame when they fit');
    assert.equal(protoWire.pack(encoded, 65_536).length, 1);
  });

  it('reads the pushes of a binary frame; a length past the end ends the frame, what came before it stands', () => {
    const pushes: ServerPush[] = [
      { type: 'pong', id: 3 },
      { type: 'message', room: 'general', seq: 7, from: 'alice', ts: 1_700_000_000_000, contentType: 'text', body: 'hi' } as ServerPush,
    ];
    const bytes = pushes.map((p) => delimit(encodeServerMessage(p)));
    const frame = new Uint8Array([...bytes[0]!, ...bytes[1]!, 0x7f, 1, 2]);
    const { messages, invalid } = parseBinaryFrame(frame);
    assert.deepEqual(messages, pushes);
    assert.equal(invalid.length, 1);
    assert.match(invalid[0]!, /past the end/);
  });
});
