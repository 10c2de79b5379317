/**
 * The Protobuf encoding (`switchboard.v2.proto`): a command is a
 * size-delimited `ClientMessage`, several of them concatenated in one binary
 * frame; a binary frame from the server is a run of size-delimited
 * `ServerMessage`s. The codecs are the server's own (src/protocol), so both
 * sides read the schema the same way. Loaded by wire.ts only when a client
 * asks for Protobuf.
 */
import { delimit, splitDelimited } from '../../src/protocol/delimited.js';
import { encodeClientMessage, type PlainCommand } from '../../src/protocol/proto-commands.js';
import { decodeServerMessage } from '../../src/protocol/proto-pushes.js';
import type { ParsedFrame } from './frames.js';

/** Concatenates size-delimited messages into frames of at most `maxBytes` bytes, in order. */
function packBinary(messages: readonly Uint8Array[], maxBytes: number): Uint8Array[] {
  const frames: Uint8Array[] = [];
  let run: Uint8Array[] = [];
  let size = 0;
  const close = (): void => {
    if (run.length === 1) frames.push(run[0]!);
    else if (run.length > 1) {
      const frame = new Uint8Array(size);
      let at = 0;
      for (const m of run) {
        frame.set(m, at);
        at += m.length;
      }
      frames.push(frame);
    }
    run = [];
    size = 0;
  };
  for (const m of messages) {
    if (run.length > 0 && size + m.length > maxBytes) close();
    run.push(m);
    size += m.length;
  }
  close();
  return frames;
}

/** A `Wire` (wire.ts, which checks the shape where it loads this module; importing it here would make a cycle). */
export const protoWire = {
  encoding: 'proto' as const,
  encode: (cmd: Record<string, unknown>): Uint8Array => delimit(encodeClientMessage(cmd as PlainCommand)),
  size: (bytes: Uint8Array): number => bytes.length,
  pack: packBinary,
};

/** A binary frame's pushes; a message that does not decode is reported, and a broken length ends the frame (nothing after it can be found). */
export function parseBinaryFrame(frame: Uint8Array): ParsedFrame {
  const out: ParsedFrame = { messages: [], invalid: [] };
  splitDelimited(
    frame,
    (bytes) => {
      try {
        out.messages.push(decodeServerMessage(bytes));
      } catch (err) {
        out.invalid.push(`a ServerMessage that does not decode (${(err as Error).message})`);
      }
    },
    (reason) => out.invalid.push(reason),
  );
  return out;
}
