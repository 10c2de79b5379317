/** Framing: incoming frames split on newlines, outgoing lines packed under the frame limit. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { packFrames, parseFrame, utf8Length } from '../../client/src/frames.js';

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
