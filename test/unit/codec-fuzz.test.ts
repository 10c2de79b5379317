/**
 * A bounded fuzz of the decoders, part of `npm test`: random bytes and
 * mutations of the golden frames (bit flips, interesting bytes, truncation,
 * splicing, repeats) into the server's `decode` of each codec and the
 * client's `splitDelimited` + `decodeServerMessage`. Nothing may escape the
 * server's decode; it answers at least once for every frame that holds
 * anything; the client's decoder throws nothing but Errors. Deterministic:
 * a failure names its seed and case, and `FUZZ_SEED=<seed>` runs the same
 * inputs again (FUZZ_CASES raises the count for a longer run by hand).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Codec, DecodedMessage } from '../../src/protocol/codec.js';
import { commandSchemas, isCommandType } from '../../src/protocol/commands.js';
import { splitDelimited } from '../../src/protocol/delimited.js';
import { json2Codec } from '../../src/protocol/json2-codec.js';
import { jsonCodec } from '../../src/protocol/json-codec.js';
import { protoCodec } from '../../src/protocol/proto-codec.js';
import { decodeServerMessage } from '../../src/protocol/proto-pushes.js';
import { loadVectors } from '../golden/protocol-v2/vectors.js';
import { seededRandom } from '../helpers/seeded-random.js';

const SEED = Number(process.env.FUZZ_SEED ?? 190_419);
const CASES = Number(process.env.FUZZ_CASES ?? 15_000);
/** Longer than any one decode of these small inputs may take, even on a loaded machine. */
const SLOW_MS = 500;

const V = loadVectors();
const bytesOf = (hex: string): Uint8Array => Uint8Array.from(Buffer.from(hex, 'hex'));
const text = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'utf8'));

const CLIENT_PROTO = [...V.commands.map((c) => bytesOf(c.proto)), ...V.clientPayloads.map((p) => bytesOf(p.proto))];
const CLIENT_JSON = [...V.commands.map((c) => text(c.json)), ...V.clientPayloads.map((p) => text(p.json))];
const SERVER_PROTO = [...V.pushes.map((p) => bytesOf(p.proto)), ...V.serverFrames.map((f) => stripHeader(bytesOf(f.proto)))];

/** A server frame's payload (the frames of the vectors are short: a 7-bit or 16-bit length). */
function stripHeader(frame: Uint8Array): Uint8Array {
  return frame.subarray(frame[1] === 126 ? 4 : 2);
}

const INTERESTING = [0x00, 0x01, 0x08, 0x0a, 0x12, 0x1a, 0x7f, 0x80, 0xff, 0x22, 0x7b, 0x7d, 0x5b, 0x5d, 0x5c];

class Mutator {
  private readonly rnd: () => number;
  constructor(seed: number) {
    this.rnd = seededRandom(seed);
  }
  int(n: number): number {
    return Math.floor(this.rnd() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  random(): Uint8Array {
    return Uint8Array.from({ length: this.int(64) }, () => (this.rnd() < 0.3 ? this.pick(INTERESTING) : this.int(256)));
  }
  /** One input made from the corpus: a valid frame changed a little, or a lot. */
  mutate(corpus: readonly Uint8Array[]): Uint8Array {
    if (this.rnd() < 0.1) return this.random();
    let b = [...this.pick(corpus)];
    const steps = 1 + this.int(4);
    for (let s = 0; s < steps; s++) {
      const at = this.int(b.length + 1);
      switch (this.int(7)) {
        case 0: // flip a bit
          if (b.length > 0) b[at % b.length]! ^= 1 << this.int(8);
          break;
        case 1: // an interesting byte
          if (b.length > 0) b[at % b.length] = this.pick(INTERESTING);
          break;
        case 2: // cut short
          b = b.slice(0, at);
          break;
        case 3: // splice: this one's start, another's end
          {
            const other = this.pick(corpus);
            b = [...b.slice(0, at), ...other.subarray(this.int(other.length + 1))];
          }
          break;
        case 4: // insert random bytes
          b.splice(at, 0, ...this.random().subarray(0, 1 + this.int(8)));
          break;
        case 5: // repeat a run (a length that counts the copy too, a field twice)
          {
            const from = this.int(b.length + 1);
            b.splice(at, 0, ...b.slice(from, from + 1 + this.int(16)));
          }
          break;
        default: // drop a byte
          b.splice(at, 1);
      }
    }
    return Uint8Array.from(b);
  }
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

/** Whether a JSON frame holds a line that is not blank: the JSON codecs answer for each such line. */
function holdsALine(frame: Uint8Array): boolean {
  return Buffer.from(frame)
    .toString('utf8')
    .split('\n')
    .some((line) => line.trim() !== '');
}

function checkServerDecode(codec: Codec, frame: Uint8Array, where: string): void {
  const answers: DecodedMessage[] = [];
  const started = performance.now();
  try {
    codec.decode(Buffer.from(frame), (m) => answers.push(m));
  } catch (e) {
    assert.fail(`${where}: ${codec.name} decode threw ${String(e)}`);
  }
  assert.ok(performance.now() - started < SLOW_MS, `${where}: ${codec.name} took ${performance.now() - started} ms`);
  const mustAnswer = codec.binary ? true : holdsALine(frame);
  if (mustAnswer) assert.ok(answers.length >= 1, `${where}: ${codec.name} answered nothing`);
  for (const a of answers) {
    if (!a.ok) {
      assert.equal(typeof a.error, 'string', where);
      if (codec.binary) assert.equal(a.code, 'malformed', where);
      continue;
    }
    // What comes out is checked by the schemas next: they must take it without throwing either.
    const type = (a.value as { type?: unknown } | null)?.type;
    if (isCommandType(type)) commandSchemas[type].safeParse(a.value);
  }
}

function checkClientDecode(frame: Uint8Array, where: string): void {
  const started = performance.now();
  let errors = 0;
  try {
    splitDelimited(
      frame,
      (message) => {
        try {
          decodeServerMessage(message);
        } catch (e) {
          assert.ok(e instanceof Error, `${where}: decodeServerMessage threw a non-Error: ${String(e)}`);
        }
      },
      () => errors++,
    );
  } catch (e) {
    assert.fail(`${where}: splitDelimited threw ${String(e)}`);
  }
  assert.ok(errors <= 1, `${where}: a frame ends at its first bad length`);
  assert.ok(performance.now() - started < SLOW_MS, `${where}: took ${performance.now() - started} ms`);
  // A whole frame handed to the message decoder (a client that forgot the length prefix).
  try {
    decodeServerMessage(frame);
  } catch (e) {
    assert.ok(e instanceof Error, `${where}: decodeServerMessage threw a non-Error: ${String(e)}`);
  }
}

describe(`codec fuzz (seed ${SEED}, ${CASES} cases per target; FUZZ_SEED to repeat)`, { timeout: 60_000 }, () => {
  it('server: switchboard.v2.proto decode, on mutated client frames and random bytes', () => {
    const m = new Mutator(SEED);
    for (let i = 0; i < CASES; i++) {
      const frame = m.mutate(CLIENT_PROTO);
      checkServerDecode(protoCodec, frame, `seed ${SEED} case ${i} (${hex(frame)})`);
    }
  });

  it('server: switchboard.v2.json and version 1 JSON decode, on mutated client frames and random bytes', () => {
    const m = new Mutator(SEED + 1);
    for (let i = 0; i < CASES; i++) {
      const frame = m.mutate(CLIENT_JSON);
      const where = `seed ${SEED + 1} case ${i} (${hex(frame)})`;
      checkServerDecode(json2Codec, frame, where);
      checkServerDecode(jsonCodec, frame, where);
    }
  });

  it('server: each decoder given the other encoding', () => {
    const m = new Mutator(SEED + 2);
    for (let i = 0; i < CASES / 4; i++) {
      const where = `seed ${SEED + 2} case ${i}`;
      checkServerDecode(protoCodec, m.mutate(CLIENT_JSON), where);
      checkServerDecode(jsonCodec, m.mutate(CLIENT_PROTO), where);
    }
  });

  it('client: splitDelimited and decodeServerMessage, on mutated server frames and random bytes', () => {
    const m = new Mutator(SEED + 3);
    for (let i = 0; i < CASES; i++) {
      const frame = m.mutate(SERVER_PROTO);
      checkClientDecode(frame, `seed ${SEED + 3} case ${i} (${hex(frame)})`);
    }
  });

  it('the corpus itself decodes cleanly (the fuzz starts from valid frames)', () => {
    for (const frame of CLIENT_PROTO) {
      protoCodec.decode(Buffer.from(frame), (a) => assert.ok(a.ok, hex(frame)));
    }
    for (const frame of SERVER_PROTO) splitDelimited(frame, (msg) => decodeServerMessage(msg), (reason) => assert.fail(reason));
  });
});
