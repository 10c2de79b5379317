/**
 * The receiving side of a wire run (bench/wire.ts), in a load-generator worker: frames decoded the way a client
 * of each encoding decodes them — every line through JSON.parse, every binary frame through the protocol's own
 * length-prefix split and Protobuf decoder — so that what the encoding costs a receiver shows in the
 * generator's CPU. And the frames such a client sends: publishes and joins in its encoding.
 */
import { splitDelimited, delimit } from '../../src/protocol/delimited.js';
import { encodeClientMessage, type PlainCommand } from '../../src/protocol/proto-commands.js';
import { decodeServerMessage } from '../../src/protocol/proto-pushes.js';
import { clientFrame, type RawClient } from './client.js';
import type { WireSpec } from './messages.js';

const AT = 0x40;
/** Digits of the send time (µs) after the body's "@", as the other workloads write it. */
export const SEND_TIME_DIGITS = 15;

/** What the worker does with what a wire receiver finds. */
export interface WireHandlers {
  /** A message whose body carries a send time. */
  delivered(c: RawClient, sentAtUs: number, now: number): void;
  /** Any other push (connected, reply, error…), as the JSON shape; `text` for error samples. */
  push(c: RawClient, push: { type?: string }, text: string): void;
  /** A message without a send time in its body, or bytes that do not decode. */
  strange(what: string): void;
}

/** The send time at the start of a body (`@<15 digits> …`), or -1. */
function sendTimeOf(body: unknown): number {
  if (typeof body !== 'string' || body.charCodeAt(0) !== AT) return -1;
  let v = 0;
  for (let i = 1; i <= SEND_TIME_DIGITS; i++) {
    const d = body.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}

function onPush(h: WireHandlers, c: RawClient, push: { type?: string; body?: unknown }, now: number, text: () => string): void {
  if (push.type !== 'message') return h.push(c, push, text());
  const t = sendTimeOf(push.body);
  if (t < 0) h.strange(`a message without a send time: ${text().slice(0, 200)}`);
  else h.delivered(c, t, now);
}

/** Text frames: newline-separated JSON pushes, each parsed; for `bare`, a frame that is a body alone. */
export function wireText(spec: WireSpec, h: WireHandlers, c: RawClient, buf: Buffer, start: number, end: number, now: number): void {
  if (spec.decode === 'bare' && buf[start] === AT) {
    // The naive hub's frame is the body and nothing else: there is nothing to parse, only the send time to read.
    const t = sendTimeOf(buf.toString('latin1', start, start + 1 + SEND_TIME_DIGITS));
    if (t < 0) h.strange(`a bare body without a send time`);
    else h.delivered(c, t, now);
    return;
  }
  // As a JSON client does: the frame as a string, then JSON.parse per line.
  const text = buf.toString('utf8', start, end);
  let pos = 0;
  while (pos < text.length) {
    let nl = text.indexOf('\n', pos);
    if (nl === -1) nl = text.length;
    if (nl > pos) {
      const line = text.slice(pos, nl);
      let push: { type?: string; body?: unknown };
      try {
        push = JSON.parse(line) as typeof push;
      } catch {
        h.strange(`unparsable line: ${line.slice(0, 200)}`);
        pos = nl + 1;
        continue;
      }
      onPush(h, c, push, now, () => line);
    }
    pos = nl + 1;
  }
}

/** Binary frames: length-delimited ServerMessages, each decoded by the protocol's decoder. */
export function wireBinary(h: WireHandlers, c: RawClient, buf: Buffer, start: number, end: number, now: number): void {
  splitDelimited(
    buf.subarray(start, end),
    (bytes) => {
      let push;
      try {
        push = decodeServerMessage(bytes);
      } catch (err) {
        h.strange(`undecodable ServerMessage: ${(err as Error).message}`);
        return;
      }
      onPush(h, c, push, now, () => JSON.stringify(push));
    },
    (reason) => h.strange(`bad binary frame: ${reason}`),
  );
}

/** Commands as one frame of this connection's encoding. */
export function commandFrame(spec: WireSpec | null, cmds: PlainCommand[]): Buffer {
  if (spec?.decode === 'proto') return clientFrame(Buffer.concat(cmds.map((cmd) => delimit(encodeClientMessage(cmd)))), 0x2);
  return clientFrame(Buffer.from(cmds.map((cmd) => JSON.stringify(cmd)).join('\n')));
}

/**
 * A publish as a frame of this connection's encoding, and where in the frame its body starts: the send time's
 * digits follow the body's "@", the filler follows them after a space.
 */
export function publishFrame(spec: WireSpec, room: string, body: string): { frame: Buffer; bodyAt: number } {
  const cmd = { type: 'publish', room, body };
  const frame = commandFrame(spec, [cmd]);
  // The header is a few bytes of length and a zero mask: the body cannot be found there.
  const at = frame.indexOf(body);
  if (at < 0) throw new Error('the body is not in the publish frame as it is');
  return { frame, bodyAt: at };
}

const LETTERS = Buffer.from('abcdefghijklmnopqrstuvwxyz ');

/** Fresh random letters (and spaces) into `buf[at, at + len)`: a body deflate cannot shrink more than text. */
export function randomFiller(buf: Buffer, at: number, len: number): void {
  for (let i = at; i < at + len; i++) buf[i] = LETTERS[(Math.random() * LETTERS.length) | 0]!;
}
