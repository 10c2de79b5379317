/**
 * The lean JSON encoding of protocol version 2 (subprotocol
 * `switchboard.v2.json`): frames as in version 1 (json-codec.ts), but a
 * `message` push carries only what a receiver needs. Left out: the `id` (a
 * message is identified by its conversation and `seq`; the id is in the
 * sender's ack and in history), `contentType` when it is `text`, and the
 * sender's idempotency `key` (its ack answers the sender). For a 64-byte text
 * in room `general` from `alice` at seq 5,000, the envelope around the body is
 * 90 bytes where version 1's is 155 (docs/protocol.md §12.2: other seqs). Every
 * other push is as in version 1.
 */
import type { Codec } from './codec.js';
import { connectedEncoder, decodeFrame, MESSAGE_SEPARATOR } from './json-codec.js';
import type { MessagePush, ServerPush } from './pushes.js';

/** A `message` push, its fields always in the same order (docs/protocol.md's golden examples show them). */
export function leanMessage(m: MessagePush): string {
  const where = m.room !== undefined ? `"room":${JSON.stringify(m.room)}` : `"to":${JSON.stringify(m.to)}`;
  const type = m.contentType === 'text' ? '' : `,"contentType":${JSON.stringify(m.contentType)}`;
  // No body at all is left out, as JSON.stringify leaves out an undefined field (`"body":undefined` is no JSON).
  const body = m.body === undefined ? '' : `,"body":${JSON.stringify(m.body)}`;
  return `{"type":"message",${where},"seq":${m.seq},"from":${JSON.stringify(m.from)},"ts":${m.ts}${type}${body}}`;
}

export function encodePush(push: ServerPush): Buffer {
  return Buffer.from(push.type === 'message' ? leanMessage(push) : JSON.stringify(push));
}

export const json2Codec: Codec = {
  name: 'switchboard.v2.json',
  id: 1,
  binary: false,
  separator: MESSAGE_SEPARATOR,
  encode: encodePush,
  connectedEncoder,
  decode: decodeFrame,
};
