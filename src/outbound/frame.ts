/**
 * WebSocket framing for the server side (RFC 6455 §5.2): FIN set, the codec's
 * opcode (text or binary), no mask. Building the frame ourselves lets one
 * buffer be written to many sockets, instead of the library framing the same
 * payload once per socket. Several messages share a frame the codec's way:
 * joined by its separator, or simply concatenated when each carries its length.
 */
import type { Codec } from '../protocol/codec.js';
import { jsonCodec } from '../protocol/json-codec.js';

/** What framing needs of a codec. */
export type Framing = Pick<Codec, 'binary' | 'separator'>;

const FIN_TEXT = 0x81;
const FIN_BINARY = 0x82;

function headerLength(payload: number): number {
  return payload < 126 ? 2 : payload < 65536 ? 4 : 10;
}

function writeHeader(out: Buffer, payload: number, first: number): number {
  out[0] = first;
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

/** Length of parts[from..to) joined the codec's way. */
export function joinedLength(parts: readonly Buffer[], from: number, to: number, framing: Framing = jsonCodec): number {
  let n = framing.separator < 0 ? 0 : to - from - 1;
  for (let i = from; i < to; i++) n += parts[i]!.length;
  return n;
}

function copyJoined(parts: readonly Buffer[], from: number, to: number, out: Buffer, at: number, separator: number): void {
  for (let i = from; i < to; i++) {
    if (i > from && separator >= 0) out[at++] = separator;
    at += parts[i]!.copy(out, at);
  }
}

/** One frame whose payload is parts[from..to) joined the codec's way. */
export function frameOf(parts: readonly Buffer[], from: number, to: number, framing: Framing): Buffer {
  const payload = joinedLength(parts, from, to, framing);
  const out = Buffer.allocUnsafe(headerLength(payload) + payload);
  copyJoined(parts, from, to, out, writeHeader(out, payload, framing.binary ? FIN_BINARY : FIN_TEXT), framing.separator);
  return out;
}

/** A frame whose payload is `payload`, its first byte (FIN, RSV bits, opcode) given. */
export function frameWithFirstByte(payload: Buffer, first: number): Buffer {
  const out = Buffer.allocUnsafe(headerLength(payload.length) + payload.length);
  payload.copy(out, writeHeader(out, payload.length, first));
  return out;
}

/** One JSON text frame: parts[from..to) joined by newlines. */
export function textFrame(parts: readonly Buffer[], from: number, to: number): Buffer {
  return frameOf(parts, from, to, jsonCodec);
}

/** The payload alone (for connections whose frames the transport must build, e.g. compressed ones). */
export function joinedPayload(parts: readonly Buffer[], from: number, to: number, framing: Framing = jsonCodec): Buffer {
  if (to - from === 1) return parts[from]!;
  const out = Buffer.allocUnsafe(joinedLength(parts, from, to, framing));
  copyJoined(parts, from, to, out, 0, framing.separator);
  return out;
}

/** A ping control frame with an empty payload, shared by every connection. */
export const PING_FRAME = Buffer.from([0x89, 0x00]);
