/**
 * The flusher's pacing, on a fake clock: how long a flush asked for waits
 * after the previous one, given how long that one took.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FANOUT_QUEUES, Flusher, type Flushable } from '../../src/outbound/flusher.js';

/** A flusher whose clock moves only when told to. */
function paced(maxDelayMs: number, fanoutPeriodMs?: number) {
  let time = 1_000;
  const flusher = new Flusher(maxDelayMs, () => time, undefined, fanoutPeriodMs);
  /** `n` queues (sessions) that each take `costMs` of the clock to flush. */
  const queues = (n: number, costMs: number): Flushable[] =>
    Array.from({ length: n }, () => ({ lastFlush: 0, flush: () => void (time += costMs) }));
  return {
    flusher,
    queues,
    advance: (ms: number) => void (time += ms),
    /** Runs one flush of `list`, as the scheduled run would. */
    flushOf(list: Flushable[]) {
      // mark() schedules a run of its own; the runs are driven here, and the one left scheduled finds nothing.
      for (const q of list) flusher.mark(q);
      flusher.run();
    },
    /** Two flushes of the same queues: the second is of sessions that receive steadily. */
    steadyFlushOf(list: Flushable[]) {
      this.flushOf(list);
      this.flushOf(list);
    },
  };
}

describe('Flusher pacing', () => {
  it('writes at once when nothing was flushed before', () => {
    const { flusher } = paced(10);
    assert.ok(flusher.delay() <= 0);
  });

  it('pauses after a flush of steadily receiving sessions for as long as the flush took', () => {
    const p = paced(10);
    p.steadyFlushOf(p.queues(4, 1)); // 4 ms of writes, to the same sessions as the flush before
    assert.equal(p.flusher.delay(), 4);
    p.advance(3);
    assert.equal(p.flusher.delay(), 1);
    p.advance(1);
    assert.ok(p.flusher.delay() <= 0, 'once the pause is over a flush goes out at once');
  });

  it('never pauses longer than its limit', () => {
    const p = paced(10);
    p.steadyFlushOf(p.queues(100, 0.5)); // 50 ms of writes
    assert.equal(p.flusher.delay(), 10);
  });

  it('does not pause after short flushes', () => {
    const p = paced(10);
    p.steadyFlushOf(p.queues(10, 0.01));
    assert.ok(p.flusher.delay() < 1, 'a pause under a millisecond is not taken (no timer that short)');
  });

  it('does not pause when most sessions written were not written in the flush before (small rooms, DMs)', () => {
    const p = paced(10);
    const steady = p.queues(4, 1);
    p.flushOf(steady);
    p.flushOf([...steady, ...p.queues(5, 1)]);
    assert.ok(p.flusher.delay() <= 0, 'waiting would not have put more into those frames');
    p.flushOf([...steady, ...p.queues(4, 1)]);
    assert.equal(p.flusher.delay(), 8, 'half of them steady: the pause is taken');
  });

  it('with a limit of 0 flushes every turn, however long the last flush took', () => {
    const p = paced(0);
    p.steadyFlushOf(p.queues(100, 0.5));
    assert.equal(p.flusher.delay(), 0);
  });

  describe("a big room's fan-out (at least FANOUT_QUEUES steady queues)", () => {
    it('starts the next flush a fixed period after this one began, however long this one took', () => {
      // A node with all 1,000 members of a room, and a node with 500 of them: flushes of 10 ms and of 5 ms.
      for (const [members, flushMs] of [[1_000, 10], [500, 5], [FANOUT_QUEUES, 2]] as const) {
        const p = paced(10);
        p.steadyFlushOf(p.queues(members, flushMs / members));
        assert.ok(Math.abs(p.flusher.delay() - (20 - flushMs)) < 1e-9, `${members} members: the next flush 20 ms after this one's start`);
      }
    });

    it('pauses as long as the flush took, up to the limit, once the flush is longer than half the period', () => {
      const p = paced(10);
      p.steadyFlushOf(p.queues(1_000, 0.015)); // 15 ms
      assert.ok(Math.abs(p.flusher.delay() - 10) < 1e-9, 'the limit: writes take at most about half the time, as before');
      const q = paced(10, 40);
      q.steadyFlushOf(q.queues(1_000, 0.015));
      assert.ok(Math.abs(q.flusher.delay() - 25) < 1e-9, 'a longer period wins over the pause');
    });

    it('does not apply to fewer steady queues (small busy rooms), nor to a flush of mostly new ones', () => {
      const p = paced(10);
      p.steadyFlushOf(p.queues(FANOUT_QUEUES - 1, 2 / FANOUT_QUEUES));
      assert.ok(p.flusher.delay() < 2, 'paced by its own length alone');
      const steady = p.queues(FANOUT_QUEUES, 0.001);
      p.flushOf(steady);
      p.flushOf([...steady, ...p.queues(FANOUT_QUEUES + 1, 0.001)]);
      assert.ok(p.flusher.delay() <= 0, 'most of them new: no pause at all');
    });

    it('is off with a period of 0, and with a limit of 0 nothing pauses', () => {
      const p = paced(10, 0);
      p.steadyFlushOf(p.queues(500, 0.01)); // 5 ms
      assert.ok(Math.abs(p.flusher.delay() - 5) < 1e-9);
      const q = paced(0);
      q.steadyFlushOf(q.queues(500, 0.01));
      assert.equal(q.flusher.delay(), 0);
      const r = paced(0, 20);
      r.steadyFlushOf(r.queues(500, 0.01));
      assert.equal(r.flusher.delay(), 0);
    });
  });

  it('flushes every queue marked since the last run, once each', () => {
    const { flusher } = paced(10);
    const flushed: string[] = [];
    flusher.mark({ lastFlush: 0, flush: () => flushed.push('a') });
    flusher.mark({ lastFlush: 0, flush: () => flushed.push('b') });
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
    // Each flush takes 20 ms of the fake clock, so a 20 ms pause follows it once the session is a steady one.
    const q = { lastFlush: 0, flush: () => void runs.push((clock += 20)) };
    flusher.mark(q);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(runs, [1_020], 'the first flush after a quiet spell is immediate');
    flusher.mark(q);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(runs, [1_020, 1_040], 'one flush does not make a steady receiver: no pause after it');
    clock = 1_050;
    flusher.mark(q);
    flusher.mark(q);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(runs, [1_020, 1_040], 'within the pause nothing is written yet');
    clock = 1_060;
    await new Promise((r) => setTimeout(r, 30));
    assert.deepEqual(runs, [1_020, 1_040, 1_080, 1_100], 'both marks flushed in one run once the pause was over');
  });
});

describe('Flusher runs', () => {
  it('leaves a run asked for during a flush to the next turn, and every queue is written once', async () => {
    const flusher = new Flusher();
    const written: string[] = [];
    const queue = (name: string, during?: () => void): Flushable => ({
      lastFlush: 0,
      flush: () => {
        written.push(name);
        during?.();
      },
    });
    const late = queue('late');
    // A flush that marks another queue and asks for a run at once, as a write that ends a session might.
    const first = queue('first', () => {
      flusher.mark(late);
      flusher.run();
    });
    for (const q of [first, queue('second'), queue('third')]) flusher.mark(q);
    flusher.run();
    assert.deepEqual(written, ['first', 'second', 'third'], 'the run under way walks its own queues to the end');
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(written, ['first', 'second', 'third', 'late']);
  });
});

