/**
 * WebSocket framing for the server side (RFC 6455 §5.2): FIN set, text opcode,
 * no mask. Building the frame ourselves lets one buffer be written to many
 * sockets, instead of the library framing the same payload once per socket.
 */
import { MESSAGE_SEPARATOR } from '../protocol/codec.js';

const FIN_TEXT = 0x81;

function headerLength(payload: number): number {
  return payload < 126 ? 2 : payload < 65536 ? 4 : 10;
}

function writeHeader(out: Buffer, payload: number): number {
  out[0] = FIN_TEXT;
  if (payload < 126) {
    out[1] = payload;
    return 2;
  }
  if (payload < 65536) {
    out[1] = 126;
    out.writeUInt16BE(payload, 2);
    return 4;
  }
  out[1] = 127;
  out.writeUInt32BE(Math.floor(payload / 2 ** 32), 2);
  out.writeUInt32BE(payload >>> 0, 6);
  return 10;
}

/** Length of parts[from..to) joined by the message separator. */
export function joinedLength(parts: readonly Buffer[], from: number, to: number): number {
  let n = to - from - 1;
  for (let i = from; i < to; i++) n += parts[i]!.length;
  return n;
}

/** One text frame whose payload is parts[from..to) joined by newlines. */
export function textFrame(parts: readonly Buffer[], from: number, to: number): Buffer {
  const payload = joinedLength(parts, from, to);
  const out = Buffer.allocUnsafe(headerLength(payload) + payload);
  let at = writeHeader(out, payload);
  for (let i = from; i < to; i++) {
    if (i > from) out[at++] = MESSAGE_SEPARATOR;
    at += parts[i]!.copy(out, at);
  }
  return out;
}

/** The payload alone (for connections whose frames the transport must build, e.g. compressed ones). */
export function joinedPayload(parts: readonly Buffer[], from: number, to: number): Buffer {
  if (to - from === 1) return parts[from]!;
  const out = Buffer.allocUnsafe(joinedLength(parts, from, to));
  let at = 0;
  for (let i = from; i < to; i++) {
    if (i > from) out[at++] = MESSAGE_SEPARATOR;
    at += parts[i]!.copy(out, at);
  }
  return out;
}

/** A ping control frame with an empty payload, shared by every connection. */
export const PING_FRAME = Buffer.from([0x89, 0x00]);
