/**
 * The JSON encoding's framing (docs/protocol.md §2): a text frame carries one
 * or more messages separated by `\n`. Incoming frames are split and each piece
 * parsed on its own (a bad line does not spoil the others); outgoing lines are
 * packed into as few frames as fit under the server's `maxFrameBytes`.
 */
import type { ServerPush } from '../../src/protocol/pushes.js';

export interface ParsedFrame {
  messages: ServerPush[];
  /** Lines that were not JSON objects with a string `type` (a server bug; reported, not thrown). */
  invalid: string[];
}

export function parseFrame(text: string): ParsedFrame {
  const out: ParsedFrame = { messages: [], invalid: [] };
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    const line = text.slice(start, end);
    start = end + 1;
    if (line.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      out.invalid.push(line);
      continue;
    }
    if (typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string') out.messages.push(value as ServerPush);
    else out.invalid.push(line);
  }
  return out;
}

const encoder = new TextEncoder();

/** UTF-8 length of a string. */
export function utf8Length(s: string): number {
  // Fast path: pure ASCII is one byte per character.
  // eslint-disable-next-line no-control-regex
  if (/^[\x00-\x7f]*$/.test(s)) return s.length;
  return encoder.encode(s).length;
}

/**
 * Packs encoded lines into frames of at most `maxBytes` bytes each (lines joined
 * with `\n`), keeping their order. A line longer than `maxBytes` is a caller error:
 * check with {@link utf8Length} before queueing.
 */
export function packFrames(lines: readonly string[], maxBytes: number): string[] {
  const frames: string[] = [];
  let current: string[] = [];
  let size = 0;
  for (const line of lines) {
    const n = utf8Length(line);
    const added = current.length === 0 ? n : n + 1;
    if (current.length > 0 && size + added > maxBytes) {
      frames.push(current.join('\n'));
      current = [];
      size = 0;
    }
    size += current.length === 0 ? n : n + 1;
    current.push(line);
  }
  if (current.length > 0) frames.push(current.join('\n'));
  return frames;
}
