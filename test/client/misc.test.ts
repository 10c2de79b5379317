/** Small pieces: pacing bucket, event emitter and async-iterator stream, keys, upload helpers. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { randomKey } from '../../client/src/client.js';
import { Emitter, EventStream } from '../../client/src/events.js';
import { FrameWriter } from '../../client/src/frame-writer.js';
import { extraCost } from '../../src/protocol/sync-cost.js';
import { TokenBucket } from '../../client/src/rate.js';
import { mediaTypeOf } from '../../client/src/upload.js';

class TestEmitter extends Emitter<{ a: (n: number) => void; b: (s: string, t: string) => void }> {
  fire<K extends 'a' | 'b'>(k: K, ...args: Parameters<TestEmitter['emitArgs'][K]>): void {
    (this.emit as (k: string, ...a: unknown[]) => void)(k, ...args);
  }
  declare emitArgs: { a: (n: number) => void; b: (s: string, t: string) => void };
}

describe('client misc', () => {
  it('token bucket: capacity at once, then the rate', () => {
    const b = new TokenBucket(10, 5, 0);
    let n = 0;
    while (b.take(0)) n++;
    assert.equal(n, 5);
    assert.equal(b.waitMs(0), 100);
    assert.equal(b.take(50), false);
    assert.equal(b.take(100), true);
    assert.equal(b.available(10_000), 5, 'never above capacity');
    b.configure(1_000, 1_000, 20_000);
    assert.equal(b.available(20_000), 1_000);
  });

  it('pacing charges a sync what the server does (one more token per 20 conversations), so lines after it wait', async () => {
    const sent: string[] = [];
    const writer = new FrameWriter(() => ({ isOpen: true, send: (frame) => sent.push(...String(frame).split('\n')) }));
    writer.configure({ maxFrameBytes: 65_536, messagesPerSecond: 50 });
    const since = Object.fromEntries(Array.from({ length: 1_000 }, (_, i) => [`u${i}`, 1]));
    assert.equal(extraCost({ type: 'sync', since }), 50);
    assert.equal(extraCost({ type: 'sync', since: 3 }), 0);
    writer.write({ type: 'sync', since });
    for (let i = 0; i < 10; i++) writer.write({ type: 'join', room: `r${i}` });
    await new Promise((resolve) => setImmediate(resolve));
    // The sync took the whole bucket (1 + 50 of 50 tokens): the joins wait for the refill instead of being refused.
    assert.equal(sent.length, 1);
    writer.stop();
  });

  it('emitter: on/off/once, and a throwing listener does not stop the others', () => {
    const errors: unknown[] = [];
    const e = new TestEmitter((err) => errors.push(err));
    const got: number[] = [];
    const off = e.on('a', (n) => got.push(n));
    e.once('a', (n) => got.push(n * 10));
    e.on('a', () => {
      throw new Error('boom');
    });
    e.fire('a', 1);
    e.fire('a', 2);
    off();
    e.fire('a', 3);
    assert.deepEqual(got, [1, 10, 2]);
    assert.equal(errors.length, 3);
    assert.equal(e.listenerCount('a'), 1);
  });

  it('event stream: buffers until read, ends after the buffer, break ends it', async () => {
    let ended = 0;
    const s = new EventStream<number>(() => ended++);
    s.push(1);
    s.push(2);
    const it = s[Symbol.asyncIterator]();
    assert.deepEqual(await it.next(), { value: 1, done: false });
    const pending = it.next();
    s.push(3);
    s.push(4);
    assert.deepEqual(await pending, { value: 2, done: false });
    s.end();
    assert.deepEqual(await it.next(), { value: 3, done: false });
    assert.deepEqual(await it.next(), { value: 4, done: false });
    assert.deepEqual(await it.next(), { value: undefined, done: true });
    assert.equal(ended, 1);

    const t = new EventStream<number>(() => ended++);
    const seen: number[] = [];
    setTimeout(() => [5, 6, 7].forEach((v) => t.push(v)), 5);
    for await (const v of t) {
      seen.push(v);
      if (v === 6) break;
    }
    assert.deepEqual(seen, [5, 6]);
    assert.equal(ended, 2, 'breaking out of for-await ends the stream');
  });

  it('message keys are v7 UUIDs: unique, carrying their time, ordered by it', () => {
    const before = Date.now();
    const keys = new Set(Array.from({ length: 1000 }, () => randomKey()));
    assert.equal(keys.size, 1000);
    for (const k of [...keys].slice(0, 10)) assert.match(k, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const first = [...keys][0]!;
    const ms = parseInt(first.replace(/-/g, '').slice(0, 12), 16);
    assert.ok(ms >= before && ms <= Date.now(), 'the first 48 bits are the time in ms');
    // A key made in a later millisecond sorts after one made earlier.
    while (Date.now() === ms);
    assert.ok(randomKey() > first);
  });

  it('upload helpers: content type from MIME (URLs: http-base.test.ts)', () => {
    assert.deepEqual(['image/png', 'audio/ogg', 'video/mp4', 'application/pdf'].map(mediaTypeOf), ['image', 'audio', 'video', 'file']);
  });
});
