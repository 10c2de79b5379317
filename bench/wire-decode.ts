/**
 * What decoding costs a receiver, per message and nothing else (no sockets, no frames to read): the receiving
 * code of the wire benchmark (bench/load/wire.ts) run over frames the server's codecs encoded, for each encoding,
 * with frames of 1 and of several messages, and with permessage-deflate's inflation in front of it. A companion to
 * `npm run bench -- --wire`, whose receiver CPU also holds each frame's read and parse.
 *
 *   node dist/bench/wire-decode.js [--ms 1000] [--per-frame 1,7]
 */
import { constants as zlib, deflateRawSync } from 'node:zlib';
import { codecNamed } from '../src/protocol/codecs.js';
import type { MessagePush } from '../src/protocol/pushes.js';
import { inflateMessage, type RawClient } from './load/client.js';
import { wireBinary, wireText, type WireHandlers } from './load/wire.js';
import type { WireSpec } from './load/messages.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i !== -1 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

const MS = Number(arg('ms', '1000'));
const PER_FRAME = arg('per-frame', '1,7').split(',').map(Number);

const ENCODINGS: { name: string; codec: string; spec: WireSpec }[] = [
  { name: 'v1', codec: 'switchboard.v1.json', spec: { protocol: null, decode: 'json', deflate: false } },
  { name: 'lean', codec: 'switchboard.v2.json', spec: { protocol: 'switchboard.v2.json', decode: 'json', deflate: false } },
  { name: 'proto', codec: 'switchboard.v2.proto', spec: { protocol: 'switchboard.v2.proto', decode: 'proto', deflate: false } },
];

/** A 64-character text as the wire benchmark sends it: the send time, then random letters. */
function push(i: number): MessagePush {
  let body = `@${String(1e14 + i).padStart(15, '0')} `;
  while (body.length < 64) body += 'abcdefghijklmnopqrstuvwxyz '[Math.floor(Math.random() * 27)];
  return { type: 'message', id: `mxctl6ey-4896f6e3-${i}`, room: 'wire', seq: 100_000 + i, from: 'w00042', contentType: 'text', body, ts: Date.now() } as MessagePush;
}

/** What permessage-deflate without context takeover sends for a frame: a stream of its own, its sync-flush tail cut. */
function deflated(frame: Buffer): Buffer {
  const out = deflateRawSync(frame, { finishFlush: zlib.Z_SYNC_FLUSH });
  return out.subarray(0, out.length - 4);
}

let delivered = 0;
const handlers: WireHandlers = {
  delivered: () => void delivered++,
  push: () => {
    throw new Error('only messages were encoded');
  },
  strange: (what) => {
    throw new Error(what);
  },
};
const client = null as unknown as RawClient;

/** ns per message of `fn` (which handles one frame of `n` messages), over about MS milliseconds. */
function time(n: number, fn: () => void): number {
  for (let i = 0; i < 2000; i++) fn();
  let rounds = 0;
  const t0 = process.hrtime.bigint();
  const until = t0 + BigInt(MS) * 1_000_000n;
  let now = t0;
  while (now < until) {
    for (let i = 0; i < 200; i++) fn();
    rounds += 200;
    now = process.hrtime.bigint();
  }
  return Number(now - t0) / rounds / n;
}

const rows: string[] = [];
for (const n of PER_FRAME)
  for (const e of ENCODINGS) {
    const codec = codecNamed(e.codec);
    if (!codec) throw new Error(`no codec ${e.codec}`);
    const parts = Array.from({ length: n }, (_, i) => codec.encode(push(i)));
    const frame = codec.binary ? Buffer.concat(parts) : Buffer.from(parts.map((p) => p.toString()).join('\n'));
    const decode = (f: Buffer): void => (codec.binary ? wireBinary(handlers, client, f, 0, f.length, 0) : wireText(e.spec, handlers, client, f, 0, f.length, 0));
    delivered = 0;
    decode(frame);
    if (delivered !== n) throw new Error(`${e.name}: ${delivered} of ${n} messages decoded`);
    const small = deflated(frame);
    const plain = time(n, () => decode(frame));
    const inflating = time(n, () => decode(inflateMessage(small)));
    rows.push(`| ${e.name} | ${n} | ${(frame.length / n).toFixed(1)} | ${plain.toFixed(0)} | ${(small.length / n).toFixed(1)} | ${inflating.toFixed(0)} |`);
  }
process.stdout.write(
  ['| encoding | messages per frame | bytes/message | decode ns/message | deflated bytes/message | inflate + decode ns/message |', '|---|--:|--:|--:|--:|--:|', ...rows].join('\n') +
    '\n',
);
