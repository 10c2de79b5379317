/**
 * Frames deflated once for many sockets (RFC 7692): ws's own client parser,
 * with permessage-deflate negotiated as this server negotiates it, reads back
 * the payload, for text and binary, small and large, at the default window and
 * at a smaller one a client asked for; and a room's batch is deflated once for
 * all its compressing members.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import { deflatedFrame } from '../../src/outbound/deflate-frame.js';
import { Outbox, type Wire } from '../../src/outbound/outbox.js';
import { SharedBatch } from '../../src/outbound/shared-batch.js';
import { Flusher } from '../../src/outbound/flusher.js';
import { jsonCodec } from '../../src/protocol/json-codec.js';
import { protoCodec } from '../../src/protocol/proto-codec.js';

interface Extension {
  accept(offers: Record<string, unknown>[]): unknown;
}
interface ReceiverLike {
  write(chunk: Buffer): boolean;
  on(event: 'message', cb: (data: Buffer, isBinary: boolean) => void): this;
  on(event: 'error', cb: (err: Error) => void): this;
}
const ws = createRequire(import.meta.url)('ws') as {
  Receiver: new (opts: { isServer: boolean; maxPayload?: number; extensions?: Record<string, Extension> }) => ReceiverLike;
  PerMessageDeflate: new (opts: Record<string, unknown>, isServer: boolean, maxPayload: number) => Extension;
};

/** What a client with permessage-deflate (server_no_context_takeover, the given window) reads from frames. */
function readAsClient(frames: Buffer[], windowBits: number): Promise<{ payload: Buffer; isBinary: boolean }[]> {
  const pmd = new ws.PerMessageDeflate({}, false, 0);
  // As the server's answer is parsed from the handshake: each parameter a list of values.
  pmd.accept([{ server_no_context_takeover: [true], client_no_context_takeover: [true], server_max_window_bits: [String(windowBits)] }]);
  const r = new ws.Receiver({ isServer: false, maxPayload: 0, extensions: { 'permessage-deflate': pmd } });
  const got: { payload: Buffer; isBinary: boolean }[] = [];
  return new Promise((resolve, reject) => {
    r.on('message', (data, isBinary) => {
      got.push({ payload: Buffer.from(data), isBinary });
      if (got.length === frames.length) resolve(got);
    });
    r.on('error', reject);
    for (const f of frames) r.write(f);
  });
}

describe('deflatedFrame', () => {
  it('is read back by a compressing client, text and binary, at windows 15 and 10', async () => {
    for (const windowBits of [15, 10])
      for (const framing of [jsonCodec, protoCodec]) {
        const odd = framing.binary ? Buffer.from([0, 1, 2, 3, 250, 251]) : Buffer.from('naïve ☕ 👋🏽');
        const payloads = [Buffer.from('{"type":"message","body":"hi"}'), Buffer.from('x'.repeat(70_000)), odd];
        const frames = payloads.map((p) => deflatedFrame(p, framing, windowBits));
        for (const f of frames) assert.equal(f[0]! & 0x40, 0x40, 'RSV1 set');
        const got = await readAsClient(frames, windowBits);
        assert.deepEqual(
          got.map((g) => [g.payload.toString('hex'), g.isBinary]),
          payloads.map((p) => [p.toString('hex'), framing.binary]),
        );
      }
    assert.ok(deflatedFrame(Buffer.from('x'.repeat(70_000)), jsonCodec, 15).length < 1_000, 'it compresses');
  });
});

class CountingWire implements Wire {
  readonly preframed = true;
  readonly bufferedBytes = 0;
  readonly frames: Buffer[] = [];
  constructor(readonly deflate: { windowBits: number; threshold: number } | null) {}
  writeFrame(frame: Buffer): boolean {
    this.frames.push(frame);
    return true;
  }
  onDrain(): void {}
  sendPayload(): void {
    throw new Error('a preframed wire gets frames');
  }
}

describe('a shared batch to compressing members', () => {
  it('is deflated once, and the same bytes go to every member with the default window; a small one is not compressed', () => {
    const flusher = new Flusher();
    const limits = { maxQueueBytes: 1 << 20, maxQueueMessages: 10_000 };
    const owner = { overflowed: () => assert.fail('no overflow') };
    const wires = [new CountingWire({ windowBits: 15, threshold: 64 }), new CountingWire({ windowBits: 15, threshold: 64 }), new CountingWire(null)];
    const boxes = wires.map((w) => new Outbox(w, flusher, limits, owner, jsonCodec));
    const big = new SharedBatch(0);
    big.add(Buffer.from(`{"body":"${'y'.repeat(500)}"}`));
    big.add(Buffer.from(`{"body":"${'z'.repeat(500)}"}`));
    for (const b of boxes) {
      b.pushShared(big, 0);
      b.flush();
    }
    assert.equal(wires[0]!.frames[0], wires[1]!.frames[0], 'the very same buffer');
    assert.equal(wires[0]!.frames[0]![0], 0xc1);
    assert.equal(wires[2]!.frames[0]![0], 0x81, 'the member without compression gets the plain frame');
    const small = new SharedBatch(1);
    small.add(Buffer.from('{"type":"pong"}'));
    boxes[0]!.pushShared(small, 0);
    boxes[0]!.flush();
    assert.equal(wires[0]!.frames[1]![0], 0x81, 'under the threshold: not compressed');
  });
});
