/**
 * Outbox + Flusher with a fake Wire. flusher.run() is called directly instead
 * of waiting for setImmediate (the scheduled run that follows finds nothing).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SharedBatch } from '../../src/outbound/shared-batch.js';
import { Flusher } from '../../src/outbound/flusher.js';
import { Outbox, type Held, type QueueLimits, type Wire } from '../../src/outbound/outbox.js';

class FakeWire implements Wire {
  readonly frames: Buffer[] = [];
  readonly payloads: Buffer[] = [];
  bufferedBytes = 0;
  /** What writeFrame answers (false: the socket wants the writer to wait for drain). */
  writeResult = true;

  constructor(readonly preframed = true) {}

  writeFrame(frame: Buffer): boolean {
    this.frames.push(frame);
    return this.writeResult;
  }

  sendPayload(payload: Buffer): void {
    this.payloads.push(payload);
  }

  drainWaiters: (() => void)[] = [];
  onDrain(cb: () => void): void {
    this.drainWaiters.push(cb);
  }
  /** The socket wrote out what it held. */
  drain(): void {
    this.bufferedBytes = 0;
    const w = this.drainWaiters;
    this.drainWaiters = [];
    for (const cb of w) cb();
  }

  /** Payload texts of the frames written so far (unmasked server frames). */
  frameTexts(): string[] {
    return this.frames.map(framePayload);
  }
}

function framePayload(frame: Buffer): string {
  assert.equal(frame[0], 0x81, 'final text frame');
  let len = frame[1]! & 0x7f;
  let at = 2;
  if (len === 126) {
    len = frame.readUInt16BE(2);
    at = 4;
  } else if (len === 127) {
    len = Number(frame.readBigUInt64BE(2));
    at = 10;
  }
  assert.equal(frame.length, at + len);
  return frame.subarray(at).toString('utf8');
}

const b = (s: string): Buffer => Buffer.from(s, 'utf8');
const LIMITS: QueueLimits = { maxQueueBytes: 1 << 20, maxQueueMessages: 1000 };

function setup(opts: { preframed?: boolean; limits?: Partial<QueueLimits> } = {}) {
  const flusher = new Flusher();
  const wire = new FakeWire(opts.preframed ?? true);
  let overflows = 0;
  let held: Held | null = null;
  const outbox = new Outbox(wire, flusher, { ...LIMITS, ...opts.limits }, {
    overflowed: (h) => {
      overflows++;
      held = h;
    },
  });
  return { flusher, wire, outbox, overflows: () => overflows, held: () => held };
}

/** A batch for the flusher's current epoch holding the given messages. */
function batchOf(flusher: Flusher, ...msgs: string[]): SharedBatch {
  const batch = new SharedBatch(flusher.tick.epoch);
  for (const m of msgs) batch.add(b(m));
  return batch;
}

describe('Outbox', () => {
  it('sends several pushes of one turn as ONE frame', () => {
    const { flusher, wire, outbox } = setup();
    outbox.push(b('{"n":1}'));
    outbox.push(b('{"n":2}'));
    const batch = batchOf(flusher, '{"r":1}', '{"r":2}');
    outbox.pushShared(batch, 0);
    outbox.push(b('{"n":3}'));
    assert.equal(wire.frames.length, 0, 'nothing is written before the flusher runs');
    flusher.run();
    assert.equal(wire.frames.length, 1);
    assert.deepEqual(wire.frameTexts(), ['{"n":1}\n{"n":2}\n{"r":1}\n{"r":2}\n{"n":3}']);
    flusher.run();
    assert.equal(wire.frames.length, 1, 'an empty queue writes nothing');
    outbox.push(b('{"n":4}'));
    flusher.run();
    assert.deepEqual(wire.frameTexts().slice(1), ['{"n":4}']);
  });

  it('a shared batch alone is framed once and the same frame Buffer is written to every wire', () => {
    const flusher = new Flusher();
    const wires = [new FakeWire(), new FakeWire(), new FakeWire()];
    const boxes = wires.map((w) => new Outbox(w, flusher, LIMITS, { overflowed: () => assert.fail('no overflow') }));
    const batch = batchOf(flusher, '{"m":1}', '{"m":2}');
    for (const box of boxes) box.pushShared(batch, 0);
    flusher.run();
    const frame = wires[0]!.frames[0]!;
    assert.ok(frame);
    for (const w of wires) {
      assert.equal(w.frames.length, 1);
      assert.equal(w.frames[0], frame, 'same Buffer instance');
    }
    assert.equal(batch.frame, frame);
    assert.equal(framePayload(frame), '{"m":1}\n{"m":2}');
  });

  it('honours start offsets (a member that joined mid-turn)', () => {
    const flusher = new Flusher();
    const early = new FakeWire();
    const late = new FakeWire();
    const a = new Outbox(early, flusher, LIMITS, { overflowed: () => {} });
    const c = new Outbox(late, flusher, LIMITS, { overflowed: () => {} });
    const batch = batchOf(flusher, '{"m":1}');
    a.pushShared(batch, 0);
    c.pushShared(batch, batch.chunks.length);
    batch.add(b('{"m":2}'));
    batch.add(b('{"m":3}'));
    flusher.run();
    assert.deepEqual(early.frameTexts(), ['{"m":1}\n{"m":2}\n{"m":3}']);
    assert.deepEqual(late.frameTexts(), ['{"m":2}\n{"m":3}']);
    assert.notEqual(late.frames[0], early.frames[0]);
  });

  it('a start offset is honoured whichever outbox flushes first', () => {
    const flusher = new Flusher();
    const late = new FakeWire();
    const early = new FakeWire();
    // The late joiner is marked first, so it flushes before the full-batch reader builds the shared frame.
    const batch = batchOf(flusher, '{"m":1}', '{"m":2}');
    new Outbox(late, flusher, LIMITS, { overflowed: () => {} }).pushShared(batch, 1);
    new Outbox(early, flusher, LIMITS, { overflowed: () => {} }).pushShared(batch, 0);
    flusher.run();
    assert.deepEqual(late.frameTexts(), ['{"m":2}']);
    assert.deepEqual(early.frameTexts(), ['{"m":1}\n{"m":2}']);
  });

  it('a start at the end of a batch with nothing after it writes nothing', () => {
    const { flusher, wire, outbox } = setup();
    const batch = batchOf(flusher, '{"m":1}');
    outbox.pushShared(batch, 1);
    flusher.run();
    assert.equal(wire.frames.length, 0);
  });

  it('mixes direct messages and several batches in arrival order', () => {
    const { flusher, wire, outbox } = setup();
    const r1 = batchOf(flusher, '{"r1":1}', '{"r1":2}');
    const r2 = batchOf(flusher, '{"r2":1}');
    outbox.pushShared(r1, 1);
    outbox.push(b('{"d":1}'));
    outbox.pushShared(r2, 0);
    flusher.run();
    assert.deepEqual(wire.frameTexts(), ['{"r1":2}\n{"d":1}\n{"r2":1}']);
  });

  it('a non-preframed wire gets sendPayload with the joined payload', () => {
    const { flusher, wire, outbox } = setup({ preframed: false });
    const batch = batchOf(flusher, '{"r":1}', '{"r":2}');
    outbox.push(b('{"d":1}'));
    outbox.pushShared(batch, 0);
    flusher.run();
    assert.equal(wire.frames.length, 0);
    assert.deepEqual(
      wire.payloads.map((p) => p.toString()),
      ['{"d":1}\n{"r":1}\n{"r":2}'],
    );
  });

  it('a non-preframed wire with a shared batch alone gets the payload, not a frame', () => {
    const { flusher, wire, outbox } = setup({ preframed: false });
    const batch = batchOf(flusher, '{"r":1}', '{"r":2}');
    outbox.pushShared(batch, 0);
    flusher.run();
    assert.equal(wire.frames.length, 0);
    assert.deepEqual(
      wire.payloads.map((p) => p.toString()),
      ['{"r":1}\n{"r":2}'],
    );
  });

  it('the flusher closes the epoch before writing', () => {
    const { flusher, outbox } = setup();
    const before = flusher.tick.epoch;
    outbox.push(b('{}'));
    flusher.run();
    assert.ok(flusher.tick.epoch > before);
  });

  it('the flusher runs by itself on the next turn (setImmediate)', async () => {
    const { wire, outbox } = setup();
    outbox.push(b('{"a":1}'));
    outbox.push(b('{"a":2}'));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(wire.frameTexts(), ['{"a":1}\n{"a":2}']);
  });

  describe('holding while the socket is full', () => {
    it('keeps what arrives while the socket holds more than 64 KiB, and writes it as one frame on drain', () => {
      const { flusher, wire, outbox, overflows } = setup();
      wire.bufferedBytes = 64 * 1024 + 1;
      outbox.push(b('{"n":1}'));
      flusher.run();
      outbox.pushShared(batchOf(flusher, '{"r":1}', '{"r":2}'), 1);
      flusher.run();
      assert.equal(wire.frames.length, 0, 'nothing written while the socket is full');
      assert.equal(wire.drainWaiters.length, 1, 'one drain wait, not one per turn');
      wire.drain();
      flusher.run();
      assert.deepEqual(wire.frameTexts(), ['{"n":1}\n{"r":2}']);
      assert.equal(overflows(), 0);
      outbox.push(b('{"n":2}'));
      flusher.run();
      assert.deepEqual(wire.frameTexts().at(-1), '{"n":2}', 'after the drain writes go straight out again');
    });

    it('counts what it holds against the message limit', () => {
      const { flusher, wire, outbox, overflows, held } = setup({ limits: { maxQueueMessages: 5 } });
      wire.bufferedBytes = 64 * 1024 + 1;
      for (let turn = 0; turn < 3; turn++) {
        outbox.push(b('{}'));
        outbox.push(b('{}'));
        flusher.run();
      }
      assert.equal(overflows(), 1, '6 held > 5');
      assert.deepEqual(held(), { messages: 6, bytes: 12 }, 'the owner is told what is dropped with the session');
    });

    it('counts held bytes and the socket\'s unsent bytes against the byte limit', () => {
      const { flusher, wire, outbox, overflows, held } = setup({ limits: { maxQueueBytes: 100 * 1024 } });
      wire.bufferedBytes = 70 * 1024;
      outbox.push(Buffer.alloc(20 * 1024, 0x61));
      flusher.run();
      assert.equal(overflows(), 0, '90 KiB in all');
      outbox.push(Buffer.alloc(20 * 1024, 0x61));
      flusher.run();
      assert.equal(overflows(), 1, '110 KiB in all');
      assert.deepEqual(held(), { messages: 2, bytes: 40 * 1024 });
    });

    it('a forced flush writes what it holds (a close other than 4005 tells the client everything first)', () => {
      const { flusher, wire, outbox } = setup();
      wire.bufferedBytes = 64 * 1024 + 1;
      outbox.push(b('{"n":1}'));
      flusher.run();
      outbox.push(b('{"error":"bye"}'));
      outbox.flush(true);
      assert.deepEqual(wire.frameTexts(), ['{"n":1}\n{"error":"bye"}']);
    });

    it('drops what it holds when closed: nothing is written after the close', () => {
      const { flusher, wire, outbox } = setup();
      wire.bufferedBytes = 64 * 1024 + 1;
      outbox.push(b('{"n":1}'));
      flusher.run();
      outbox.close();
      wire.drain();
      flusher.run();
      assert.equal(wire.frames.length, 0);
    });
  });

  describe('overflow', () => {
    it('fires when bufferedBytes exceeds maxQueueBytes', () => {
      const { flusher, wire, outbox, overflows } = setup({ limits: { maxQueueBytes: 2048 } });
      wire.bufferedBytes = 2048;
      outbox.push(b('{}'));
      flusher.run();
      assert.equal(overflows(), 0, 'at the limit is fine');
      wire.bufferedBytes = 2049;
      outbox.push(b('{}'));
      flusher.run();
      assert.equal(overflows(), 1);
    });

    it('fires when writes keep returning false past maxQueueMessages', () => {
      const { flusher, wire, outbox, overflows } = setup({ limits: { maxQueueMessages: 5 } });
      wire.writeResult = false;
      const turn = (n: number) => {
        for (let i = 0; i < n; i++) outbox.push(b(`{"i":${i}}`));
        flusher.run();
      };
      turn(2); // backlog 2
      turn(3); // backlog 5: at the limit
      assert.equal(overflows(), 0);
      turn(1); // backlog 6
      assert.equal(overflows(), 1);
    });

    it('counts shared-batch messages towards the backlog', () => {
      const { flusher, wire, outbox, overflows } = setup({ limits: { maxQueueMessages: 3 } });
      wire.writeResult = false;
      outbox.pushShared(batchOf(flusher, '{}', '{}', '{}'), 0);
      flusher.run();
      assert.equal(overflows(), 0);
      outbox.pushShared(batchOf(flusher, '{}'), 0);
      flusher.run();
      assert.equal(overflows(), 1);
    });

    it('a write that succeeds clears the backlog', () => {
      const { flusher, wire, outbox, overflows } = setup({ limits: { maxQueueMessages: 3 } });
      wire.writeResult = false;
      outbox.push(b('{}'));
      outbox.push(b('{}'));
      flusher.run(); // backlog 2
      wire.writeResult = true;
      outbox.push(b('{}'));
      flusher.run(); // drained: backlog 0
      wire.writeResult = false;
      outbox.push(b('{}'));
      outbox.push(b('{}'));
      flusher.run(); // backlog 2
      assert.equal(overflows(), 0);
    });

    it('a flush that writes nothing does not clear the backlog', () => {
      const { flusher, wire, outbox, overflows } = setup({ limits: { maxQueueMessages: 3 } });
      wire.writeResult = false;
      outbox.push(b('{}'));
      outbox.push(b('{}'));
      flusher.run(); // backlog 2, socket not drained
      // A mid-turn join with nothing after it: queued, but nothing to write. Says nothing about the socket.
      outbox.pushShared(batchOf(flusher, '{}'), 1);
      flusher.run();
      outbox.push(b('{}'));
      outbox.push(b('{}'));
      flusher.run(); // backlog 4 > 3
      assert.equal(overflows(), 1);
    });
  });

  describe('close', () => {
    it('drops what is queued: nothing is written after close()', () => {
      const { flusher, wire, outbox } = setup();
      outbox.push(b('{"a":1}'));
      outbox.pushShared(batchOf(flusher, '{"r":1}'), 0);
      outbox.close();
      flusher.run();
      assert.equal(wire.frames.length, 0);
      outbox.push(b('{"a":2}'));
      outbox.pushShared(batchOf(flusher, '{"r":2}'), 0);
      flusher.run();
      assert.equal(wire.frames.length, 0);
      assert.equal(wire.payloads.length, 0);
    });

    it('does not disturb other outboxes sharing the batch', () => {
      const flusher = new Flusher();
      const w1 = new FakeWire();
      const w2 = new FakeWire();
      const o1 = new Outbox(w1, flusher, LIMITS, { overflowed: () => {} });
      const o2 = new Outbox(w2, flusher, LIMITS, { overflowed: () => {} });
      const batch = batchOf(flusher, '{"r":1}');
      o1.pushShared(batch, 0);
      o2.pushShared(batch, 0);
      o1.close();
      flusher.run();
      assert.equal(w1.frames.length, 0);
      assert.deepEqual(w2.frameTexts(), ['{"r":1}']);
    });

    it('an overflow callback that closes the outbox is safe', () => {
      const flusher = new Flusher();
      const wire = new FakeWire();
      wire.bufferedBytes = 1 << 30;
      let calls = 0;
      const outbox: Outbox = new Outbox(wire, flusher, LIMITS, { overflowed: () => {
        calls++;
        outbox.close();
      } });
      outbox.push(b('{}'));
      flusher.run();
      outbox.push(b('{}'));
      flusher.run();
      assert.equal(calls, 1);
      assert.equal(wire.frames.length, 0, 'a socket that full gets nothing more: the queue is held, then dropped');
    });
  });
});
