/**
 * The hand-written encoder of text message pushes gives exactly the bytes of
 * the generated one, for rooms and direct messages, empty and multi-byte
 * strings, and seq and ts from 0 to 2^53 - 1.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { delimit } from '../../src/protocol/delimited.js';
import { encodeServerMessage } from '../../src/protocol/proto-pushes.js';
import { writeTextMessage } from '../../src/protocol/proto-message-writer.js';
import type { MessagePush } from '../../src/protocol/pushes.js';

function generic(push: MessagePush): Buffer {
  return Buffer.from(delimit(encodeServerMessage(push)));
}

const texts = ['x', 'x'.repeat(64), 'y'.repeat(200), 'é', 'naïve café ☕ 👋🏽', 'z'.repeat(20_000)];
const numbers = [0, 1, 127, 128, 16_383, 16_384, 2 ** 31, 2 ** 32 + 5, 1_795_565_437_229, Number.MAX_SAFE_INTEGER];

describe('writeTextMessage', () => {
  it('writes the bytes the generated encoder writes', () => {
    let cases = 0;
    for (const text of texts)
      for (const n of numbers)
        for (const place of [{ room: 'general' }, { to: 'bøb' }, { room: 'r'.repeat(100) }] as const) {
          const push: MessagePush = { type: 'message', id: 'ignored', ...place, seq: n, from: 'alice', contentType: 'text', body: text, ts: n, key: 'k' };
          assert.deepEqual(writeTextMessage(push), generic(push), JSON.stringify({ text: text.slice(0, 10), n, place }));
          cases++;
        }
    assert.equal(cases, texts.length * numbers.length * 3);
  });
});
