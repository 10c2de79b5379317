/**
 * The flusher's pacing, on a fake clock: how long a flush asked for waits
 * after the previous one, given how long that one took.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Flusher, type Flushable } from '../../src/session/flusher.js';

/** A flusher whose clock moves only when told to; `writes` queues take `costMs` each to flush. */
function paced(maxDelayMs: number) {
  let time = 1_000;
  const flusher = new Flusher(maxDelayMs, () => time);
  const queue = (costMs: number): Flushable => ({ flush: () => void (time += costMs) });
  return {
    flusher,
    advance: (ms: number) => void (time += ms),
    /** Runs one flush of `writes` queues that each take `costMs`, as the scheduled run would. */
    flushOf(writes: number, costMs: number) {
      const list = Array.from({ length: writes }, () => queue(costMs));
      // mark() schedules a run of its own; the runs are driven here, and the one left scheduled finds nothing.
      for (const q of list) flusher.mark(q);
      flusher.run();
    },
  };
}

describe('Flusher pacing', () => {
  it('writes at once when nothing was flushed before', () => {
    const { flusher } = paced(10);
    assert.ok(flusher.delay() <= 0);
  });

  it('pauses after a flush for as long as the flush took', () => {
    const p = paced(10);
    p.flushOf(4, 1); // 4 ms of writes
    assert.equal(p.flusher.delay(), 4);
    p.advance(3);
    assert.equal(p.flusher.delay(), 1);
    p.advance(1);
    assert.ok(p.flusher.delay() <= 0, 'once the pause is over a flush goes out at once');
  });

  it('never pauses longer than its limit', () => {
    const p = paced(10);
    p.flushOf(100, 0.5); // 50 ms of writes
    assert.equal(p.flusher.delay(), 10);
  });

  it('does not pause after short flushes', () => {
    const p = paced(10);
    p.flushOf(10, 0.01);
    assert.ok(p.flusher.delay() < 1, 'a pause under a millisecond is not taken (no timer that short)');
  });

  it('with a limit of 0 flushes every turn, however long the last flush took', () => {
    const p = paced(0);
    p.flushOf(100, 0.5);
    assert.equal(p.flusher.delay(), 0);
  });

  it('flushes every queue marked since the last run, once each', () => {
    const { flusher } = paced(10);
    const flushed: string[] = [];
    flusher.mark({ flush: () => flushed.push('a') });
    flusher.mark({ flush: () => flushed.push('b') });
    const epoch = flusher.tick.epoch;
    flusher.run();
    flusher.run();
    assert.deepEqual(flushed, ['a', 'b']);
    assert.ok(flusher.tick.epoch > epoch, 'a run closes the batches of the turn before it');
  });

  it('on the event loop: writes at once when quiet, then a burst that came during the pause leaves in one run', async () => {
    let clock = 1_000;
    const flusher = new Flusher(50, () => clock);
    const runs: number[] = [];
    // Each flush takes 20 ms of the fake clock, so a 20 ms pause follows it.
    const q = { flush: () => void runs.push((clock += 20)) };
    flusher.mark(q);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(runs, [1_020], 'the first flush after a quiet spell is immediate');
    clock = 1_030;
    flusher.mark(q);
    flusher.mark(q);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(runs, [1_020], 'within the pause nothing is written yet');
    clock = 1_040;
    await new Promise((r) => setTimeout(r, 30));
    assert.deepEqual(runs, [1_020, 1_060, 1_080], 'both marks flushed in one run once the pause was over');
  });
});
