/**
 * The common `message` push — a text body, fields of one-byte tags, as
 * proto-message-writer.ts writes it — read straight from its bytes. A client
 * runs this once per delivery: it allocates only the push and its strings,
 * and reuses the room's and the sender's string while they repeat (they do,
 * message after message) instead of decoding them again. Anything
 * else (another body, an unknown field, a non-canonical tag, a wrong wire
 * type, bytes cut short) answers undefined, and the strict reader in
 * proto-pushes.ts decides. Browser-safe.
 */
import type { MessagePush } from './pushes.js';

const decoder = new TextDecoder('utf-8', { fatal: true });

/** A string's bytes and its value, reused while the same bytes come again. */
class Remembered {
  private bytes = new Uint8Array(0);
  private value = '';

  read(buf: Uint8Array, start: number, end: number): string {
    const len = end - start;
    const known = this.bytes;
    if (known.length === len) {
      let same = true;
      for (let i = 0; i < len; i++)
        if (known[i] !== buf[start + i]) {
          same = false;
          break;
        }
      if (same) return this.value;
    }
    const value = readString(buf, start, end);
    if (len <= 128) {
      this.bytes = buf.slice(start, end);
      this.value = value;
    }
    return value;
  }
}

const places = new Remembered();
const senders = new Remembered();

/** UTF-8, strictly: invalid bytes throw, as the generated decoder's do. (TextDecoder beats String.fromCharCode over the
 * bytes from a dozen characters on: ~100 ns against ~280 for a 64-byte body.) */
function readString(buf: Uint8Array, start: number, end: number): string {
  return decoder.decode(buf.subarray(start, end));
}

/**
 * A `ServerMessage` holding a text `message` push, or undefined when the bytes are anything else or anything
 * unusual (the caller then reads them strictly).
 */
export function readTextMessage(buf: Uint8Array): MessagePush | undefined {
  const n = buf.length;
  if (n < 2 || buf[0] !== 0x0a) return undefined;
  // ServerMessage.message's length: the message must be the whole of the bytes.
  let pos = 1;
  let len = 0;
  for (let shift = 0; ; shift += 7) {
    if (pos >= n || shift > 21) return undefined;
    const b = buf[pos++]!;
    len |= (b & 0x7f) << shift;
    if (b < 0x80) break;
  }
  if (pos + len !== n) return undefined;
  let room: string | undefined;
  let to: string | undefined;
  let from = '';
  let contentType = 'text';
  let text: string | undefined;
  let seq = 0;
  let ts = 0;
  while (pos < n) {
    const tag = buf[pos++]!;
    if (tag === 0x18 || tag === 0x28) {
      // seq (3) or ts (5): a varint below 2^53 (at most 8 bytes).
      let value = 0;
      let scale = 1;
      for (let i = 0; ; i++) {
        if (pos >= n || i === 8) return undefined;
        const b = buf[pos++]!;
        value += (b & 0x7f) * scale;
        if (b < 0x80) break;
        scale *= 128;
      }
      if (value > Number.MAX_SAFE_INTEGER) return undefined;
      if (tag === 0x18) seq = value;
      else ts = value;
      continue;
    }
    // Every other field read here is a string: room 1, to 2, from 4, content_type 6, text 7.
    if (tag !== 0x0a && tag !== 0x12 && tag !== 0x22 && tag !== 0x32 && tag !== 0x3a) return undefined;
    let size = 0;
    for (let shift = 0; ; shift += 7) {
      if (pos >= n || shift > 21) return undefined;
      const b = buf[pos++]!;
      size |= (b & 0x7f) << shift;
      if (b < 0x80) break;
    }
    const end = pos + size;
    if (end > n) return undefined;
    if (tag === 0x0a) room = places.read(buf, pos, end);
    else if (tag === 0x12) to = places.read(buf, pos, end);
    else if (tag === 0x22) from = senders.read(buf, pos, end);
    else if (tag === 0x32) contentType = readString(buf, pos, end) || 'text';
    else text = readString(buf, pos, end);
    pos = end;
  }
  if (text === undefined || contentType !== 'text') return undefined;
  const push = { type: 'message' } as MessagePush;
  if (room) push.room = room;
  if (to) push.to = to;
  push.seq = seq;
  push.from = from;
  push.contentType = 'text';
  push.body = text;
  push.ts = ts;
  return push;
}
