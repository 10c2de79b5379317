/**
 * A text `message` push straight into the bytes a Protobuf connection
 * receives (length prefix, `ServerMessage`, `Message`), without building the
 * generated object first: the generic path (create + toBinary) costs several
 * microseconds per message, this a fraction of one. Same bytes as the generic
 * path, field for field in number order (test/unit/proto-message-writer.test.ts).
 * Pushes with other bodies take the generic path.
 */
import { varintLength } from './delimited.js';
import type { MessagePush } from './pushes.js';

const TAG_PUSH_MESSAGE = 0x0a; // ServerMessage.message = 1, length-delimited
const TAG_ROOM = 0x0a; // Message.room = 1
const TAG_TO = 0x12; // Message.to = 2
const TAG_SEQ = 0x18; // Message.seq = 3, varint
const TAG_FROM = 0x22; // Message.from = 4
const TAG_TS = 0x28; // Message.ts = 5, varint
const TAG_TEXT = 0x3a; // Message.text = 7

function writeVarint(out: Buffer, at: number, n: number): number {
  while (n >= 0x80) {
    out[at++] = (n % 128) | 0x80;
    n = Math.floor(n / 128);
  }
  out[at++] = n;
  return at;
}

/** Bytes of a string field (tag, length, UTF-8), its UTF-8 length given. */
function stringField(bytes: number): number {
  return 1 + varintLength(bytes) + bytes;
}

function writeString(out: Buffer, at: number, tag: number, value: string, bytes: number): number {
  out[at++] = tag;
  at = writeVarint(out, at, bytes);
  return at + out.write(value, at, bytes, 'utf8');
}

/** Whether writeTextMessage can encode this push: a text body. */
export function isPlainText(push: MessagePush): boolean {
  return push.contentType === 'text' && typeof push.body === 'string';
}

/** A text message push, size-delimited, as proto-codec.ts frames it. */
export function writeTextMessage(push: MessagePush): Buffer {
  const text = push.body as string;
  const place = push.room !== undefined ? push.room : (push.to ?? '');
  const placeTag = push.room !== undefined ? TAG_ROOM : TAG_TO;
  const placeBytes = Buffer.byteLength(place);
  const fromBytes = Buffer.byteLength(push.from);
  const textBytes = Buffer.byteLength(text);
  const message =
    (placeBytes > 0 ? stringField(placeBytes) : 0) +
    (push.seq !== 0 ? 1 + varintLength(push.seq) : 0) +
    (fromBytes > 0 ? stringField(fromBytes) : 0) +
    (push.ts !== 0 ? 1 + varintLength(push.ts) : 0) +
    stringField(textBytes);
  const server = 1 + varintLength(message) + message;
  const out = Buffer.allocUnsafe(varintLength(server) + server);
  let at = writeVarint(out, 0, server);
  out[at++] = TAG_PUSH_MESSAGE;
  at = writeVarint(out, at, message);
  if (placeBytes > 0) at = writeString(out, at, placeTag, place, placeBytes);
  if (push.seq !== 0) {
    out[at++] = TAG_SEQ;
    at = writeVarint(out, at, push.seq);
  }
  if (fromBytes > 0) at = writeString(out, at, TAG_FROM, push.from, fromBytes);
  if (push.ts !== 0) {
    out[at++] = TAG_TS;
    at = writeVarint(out, at, push.ts);
  }
  writeString(out, at, TAG_TEXT, text, textBytes);
  return out;
}
