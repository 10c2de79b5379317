/** Reconnect backoff: exponential growth, a ceiling, and jitter within its bounds. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Backoff } from '../../client/src/backoff.js';

describe('client backoff', () => {
  it('grows by the factor from the initial delay and stops at the maximum (no jitter)', () => {
    const b = new Backoff({ initialMs: 100, maxMs: 1_000, factor: 2, jitter: 0 });
    assert.deepEqual([1, 2, 3, 4, 5, 6].map(() => b.next()), [100, 200, 400, 800, 1_000, 1_000]);
    assert.equal(b.attempt, 6);
  });

  it('reset starts over', () => {
    const b = new Backoff({ initialMs: 100, maxMs: 1_000, jitter: 0 });
    b.next();
    b.next();
    b.reset();
    assert.equal(b.attempt, 0);
    assert.equal(b.next(), 100);
  });

  it('jitter draws from [ceiling·(1−jitter), ceiling]', () => {
    const low = new Backoff({ initialMs: 1_000, maxMs: 60_000, jitter: 0.5 }, () => 0);
    const high = new Backoff({ initialMs: 1_000, maxMs: 60_000, jitter: 0.5 }, () => 1);
    assert.deepEqual([low.next(), low.next(), low.next()], [500, 1_000, 2_000]);
    assert.deepEqual([high.next(), high.next(), high.next()], [1_000, 2_000, 4_000]);
    const full = new Backoff({ initialMs: 1_000, jitter: 1 }, () => 0);
    assert.equal(full.next(), 0, 'full jitter can retry at once');
  });

  it('with Math.random every delay stays within its bounds, and delays spread out', () => {
    const seen = new Set<number>();
    for (let run = 0; run < 200; run++) {
      const b = new Backoff({ initialMs: 500, maxMs: 30_000, factor: 2, jitter: 0.5 });
      for (let n = 0; n < 10; n++) {
        const d = b.next();
        const ceil = Math.min(30_000, 500 * 2 ** n);
        assert.ok(d >= ceil * 0.5 - 1 && d <= ceil, `attempt ${n}: ${d} not in [${ceil / 2}, ${ceil}]`);
        if (n === 3) seen.add(d);
      }
    }
    assert.ok(seen.size > 50, 'jitter spreads reconnects of many clients');
  });

  it('clamps silly options', () => {
    const b = new Backoff({ initialMs: -5, maxMs: -1, factor: 0.1, jitter: 7 }, () => 1);
    assert.equal(b.next(), 0);
    const c = new Backoff({ initialMs: 10, factor: 0.5, jitter: -1 });
    assert.deepEqual([c.next(), c.next()], [10, 10], 'factor below 1 is treated as 1');
  });
});
