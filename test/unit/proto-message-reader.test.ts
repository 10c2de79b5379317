/**
 * The client's reader of text message pushes: the same push as the strict
 * reader for what it takes, nothing for what it leaves to it, and no stale
 * string from its memory of the last room and sender.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fromBinary } from '@bufbuild/protobuf';
import { ServerMessageSchema } from '../../src/protocol/gen/switchboard_pb.js';
import { readTextMessage } from '../../src/protocol/proto-message-reader.js';
import { encodeServerMessage } from '../../src/protocol/proto-pushes.js';
import type { MessagePush } from '../../src/protocol/pushes.js';

function push(room: string, from: string, body: string, seq = 7): MessagePush {
  return { type: 'message', id: 'x', room, seq, from, contentType: 'text', body, ts: 1_795_565_437_229 };
}
const expected = (p: MessagePush): MessagePush => {
  const { id: _id, key: _key, ...rest } = p;
  return rest as MessagePush;
};

describe('readTextMessage', () => {
  it('reads text pushes, and never answers a remembered room or sender for other bytes of the same length', () => {
    const pushes = [
      push('general', 'alice', 'hi'),
      push('general', 'alice', 'again'),
      push('generaL', 'alicE', 'same lengths, other bytes'),
      push('général', 'zoë', 'not ASCII'),
      push('général', 'zoë', ''),
      { ...push('x', 'bob', 'a DM'), room: undefined, to: 'carol' } as MessagePush,
      push('general', 'alice', 'back'),
    ];
    for (const p of pushes) assert.deepEqual(readTextMessage(encodeServerMessage(p)), JSON.parse(JSON.stringify(expected(p))));
  });

  it('leaves other bodies, other pushes and unusual bytes to the strict reader', () => {
    const media: MessagePush = { ...push('r', 'u', ''), contentType: 'image', body: { url: '/files/abc' } };
    const custom: MessagePush = { ...push('r', 'u', ''), contentType: 'x-poll', body: 'a string in a custom type' };
    for (const p of [media, custom]) assert.equal(readTextMessage(encodeServerMessage(p)), undefined);
    assert.equal(readTextMessage(encodeServerMessage({ type: 'pong' })), undefined);
    const text = encodeServerMessage(push('r', 'u', 'b'));
    assert.equal(readTextMessage(text.subarray(0, text.length - 1)), undefined, 'cut short');
    assert.equal(readTextMessage(Uint8Array.from([...text, 0x00])), undefined, 'bytes after the message');
    // An unknown field (15, varint) inside the message: the generic reader skips it; this one does not try.
    const inner = Uint8Array.from([...text.subarray(2), 0x78, 0x01]);
    const withUnknown = Uint8Array.from([0x0a, inner.length, ...inner]);
    assert.equal(readTextMessage(withUnknown), undefined);
    assert.equal(fromBinary(ServerMessageSchema, withUnknown).push.case, 'message');
  });

  it('throws on invalid UTF-8, as the strict reader does', () => {
    const bytes = encodeServerMessage(push('r', 'u', 'ab'));
    bytes[bytes.length - 1] = 0xff;
    assert.throws(() => readTextMessage(bytes));
  });
});
