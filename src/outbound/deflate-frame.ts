/**
 * permessage-deflate (RFC 7692) frames built once for many sockets. With
 * `server_no_context_takeover`, which this server always asks for, every
 * message is compressed on its own, from an empty window: the same payload
 * compresses to the same bytes for every connection with the same window
 * size. So a room's batch is deflated once and those bytes written to every
 * member that negotiated compression, as the uncompressed frame is, instead of
 * `ws` compressing the same payload once per member.
 */
import { constants, deflateRawSync } from 'node:zlib';
import { frameWithFirstByte, type Framing } from './frame.js';

/** FIN, RSV1 ("compressed"), and the opcode. */
const FIN_RSV1_TEXT = 0xc1;
const FIN_RSV1_BINARY = 0xc2;
/** What a sync flush ends with, and RFC 7692 §7.2.1 says to take off. */
const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/** How a connection's frames are compressed: deflate's window (server_max_window_bits), and the smallest payload worth it. */
export interface DeflateParams {
  windowBits: number;
  threshold: number;
}

/** The window a client gets unless it asks for a smaller one: the one whose frames a batch keeps. */
export const DEFAULT_WINDOW_BITS = 15;

/** The compressed frame of a payload, as RFC 7692 lays it out. */
export function deflatedFrame(payload: Buffer, framing: Framing, windowBits: number): Buffer {
  const out = deflateRawSync(payload, { windowBits, finishFlush: constants.Z_SYNC_FLUSH });
  const ends = out.length >= 4 && out.subarray(out.length - 4).equals(TAIL);
  return frameWithFirstByte(ends ? out.subarray(0, out.length - 4) : out, framing.binary ? FIN_RSV1_BINARY : FIN_RSV1_TEXT);
}
