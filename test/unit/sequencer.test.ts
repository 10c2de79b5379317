/**
 * The sequencer without a hub or a store: durable messages offered out of order (two nodes publishing), twice
 * (a broker redelivering), or with a gap a broker lost, reach the stream in seq order exactly once; a gap is
 * read from the (fake) store after the wait, and what the store no longer has is skipped, never waited on.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HistoryPage, HistoryQuery, StoredMessage } from '../../src/hub/persistence.js';
import { Sequencer, type Ordered } from '../../src/hub/sequencer.js';
import type { MessagePush } from '../../src/protocol/pushes.js';

class Stream implements Ordered {
  readonly conv = 'r:lobby';
  lastSeq: number | undefined = 0;
  pending: Map<number, MessagePush> | null = null;
  filling = false;
  closed = false;
  readonly got: number[] = [];
}

function push(seq: number): MessagePush {
  return { type: 'message', id: `m${seq}`, room: 'lobby', seq, from: 'ann', contentType: 'text', body: `b${seq}`, ts: seq };
}

function stored(seq: number): StoredMessage {
  return { id: `m${seq}`, conv: 'r:lobby', seq, from: 'ann', contentType: 'text', body: JSON.stringify(`b${seq}`), ts: seq, key: null };
}

/** A sequencer over a fake store holding `kept` seqs (up to `last`), with timers run by hand. */
function setup(opts: { kept: number[]; last?: number; fillLimit?: number; failReads?: number }) {
  const timers: (() => void)[] = [];
  const reads: HistoryQuery[] = [];
  const skipped: [number, number][] = [];
  let failures = opts.failReads ?? 0;
  const seq = new Sequencer<Stream>({
    deliver: (s, p) => s.got.push(p.seq),
    history: async (q): Promise<HistoryPage> => {
      reads.push(q);
      if (failures-- > 0) throw new Error('store away');
      const after = q.after ?? 0;
      const messages = opts.kept.filter((s) => s > after).slice(0, q.limit).map(stored);
      return { messages, oldestSeq: opts.kept[0] ?? 0, lastSeq: opts.last ?? Math.max(0, ...opts.kept) };
    },
    defer: (fn) => void timers.push(fn),
    gapWaitMs: 50,
    fillLimit: opts.fillLimit ?? 100,
    skipped: (_conv, from, to) => skipped.push([from, to]),
  });
  /** Runs the timers due (and what their reads lead to) until none is left. */
  const settle = async (): Promise<void> => {
    for (let i = 0; i < 20 && timers.length > 0; i++) {
      timers.shift()!();
      await new Promise((r) => setImmediate(r));
    }
  };
  return { seq, timers, reads, skipped, settle };
}

describe('sequencer', () => {
  it('delivers in order at once when nothing is missing, and drops what it already delivered', () => {
    const { seq, reads, timers } = setup({ kept: [] });
    const s = new Stream();
    for (const n of [1, 2, 2, 3, 1]) seq.offer(s, push(n));
    assert.deepEqual(s.got, [1, 2, 3]);
    assert.equal(timers.length, 0);
    assert.equal(reads.length, 0);
  });

  it('holds a message past a gap until the missing one arrives, without reading the store', () => {
    const { seq, timers, reads } = setup({ kept: [1, 2, 3] });
    const s = new Stream();
    seq.offer(s, push(1));
    seq.offer(s, push(3));
    assert.deepEqual(s.got, [1]);
    seq.offer(s, push(2));
    assert.deepEqual(s.got, [1, 2, 3]);
    assert.equal(s.pending, null);
    // The wait still runs out, and finds nothing to do.
    timers.shift()!();
    assert.equal(reads.length, 1, 'one read at most, even so');
  });

  it('reads a gap the broker lost from the store after the wait, then delivers what waited', async () => {
    const { seq, reads, settle } = setup({ kept: [1, 2, 3, 4, 5, 6] });
    const s = new Stream();
    seq.offer(s, push(1));
    seq.offer(s, push(5));
    seq.offer(s, push(6));
    assert.deepEqual(s.got, [1]);
    await settle();
    assert.deepEqual(s.got, [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(reads[0], { conv: 'r:lobby', after: 1, limit: 100 });
    assert.equal(s.pending, null);
    assert.equal(s.filling, false);
  });

  it('reads a long gap in several pages', async () => {
    const kept = Array.from({ length: 250 }, (_, i) => i + 1);
    const { seq, reads, settle } = setup({ kept, fillLimit: 100 });
    const s = new Stream();
    seq.offer(s, push(250));
    await settle();
    assert.deepEqual(s.got, kept);
    assert.deepEqual(
      reads.map((r) => r.after),
      [0, 100, 200],
    );
  });

  it('skips what retention removed, and only up to what the store had when it was read', async () => {
    // 2 and 3 are gone from the store; 7 was committed after the read (the store's last seq was 5 then).
    const { seq, skipped, settle } = setup({ kept: [1, 4, 5], last: 5 });
    const s = new Stream();
    seq.offer(s, push(1));
    seq.offer(s, push(4));
    seq.offer(s, push(8));
    await settle();
    assert.deepEqual(skipped, [[2, 3]]);
    // 8 waits for 7, which the store will have (8 could not have been numbered before 7 was committed).
    assert.deepEqual(s.got, [1, 4, 5]);
    assert.deepEqual([...s.pending!.keys()], [8]);
  });

  it('tries again when the store is away, and delivers once it answers', async () => {
    const { seq, settle, reads } = setup({ kept: [1, 2, 3], failReads: 2 });
    const s = new Stream();
    seq.offer(s, push(1));
    seq.offer(s, push(3));
    await settle();
    assert.deepEqual(s.got, [1, 2, 3]);
    assert.equal(reads.length, 3);
  });

  it('catches up after an outage with nothing pending: what was stored meanwhile is delivered', async () => {
    const { seq, settle } = setup({ kept: [1, 2, 3, 4] });
    const s = new Stream();
    seq.offer(s, push(1));
    seq.catchUp(s);
    await settle();
    assert.deepEqual(s.got, [1, 2, 3, 4]);
  });

  it('opens a stream with no past here at the lowest seq that arrived within the wait, in order', async () => {
    const { seq, settle, reads } = setup({ kept: [1, 2, 3, 4, 5] });
    const s = new Stream();
    s.lastSeq = undefined;
    seq.open(s, push(4));
    seq.offer(s, push(5));
    seq.offer(s, push(3));
    assert.deepEqual(s.got, [], 'nothing before the wait ends');
    await settle();
    assert.deepEqual(s.got, [3, 4, 5], 'the earlier one overtaken by a later one is not taken for a duplicate');
    assert.equal(reads.length, 0, 'no gap, no read');
    seq.offer(s, push(6));
    assert.deepEqual(s.got, [3, 4, 5, 6]);
  });

  it('an opened stream with a gap in what arrived fills it from the store', async () => {
    const { seq, settle } = setup({ kept: [1, 2, 3, 4, 5, 6] });
    const s = new Stream();
    s.lastSeq = undefined;
    seq.open(s, push(3));
    seq.offer(s, push(6));
    await settle();
    assert.deepEqual(s.got, [3, 4, 5, 6]);
  });

  it('delivers nothing more through a closed stream', async () => {
    const { seq, settle } = setup({ kept: [1, 2, 3] });
    const s = new Stream();
    seq.offer(s, push(1));
    seq.offer(s, push(3));
    s.closed = true;
    await settle();
    assert.deepEqual(s.got, [1]);
  });
});
