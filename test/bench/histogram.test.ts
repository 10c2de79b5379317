/** The load generator's latency histogram: buckets are contiguous, bounded in error, and quantiles never optimistic. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BUCKETS, Histogram, bucketOf, bucketUpper } from '../../bench/load/histogram.js';

test('every value falls into a bucket whose upper bound is at least the value and within 0.8 %', () => {
  let prev = -1;
  for (let v = 0; v < 5_000_000; v += v < 1000 ? 1 : Math.ceil(v / 997)) {
    const b = bucketOf(v);
    assert.ok(b >= prev, `buckets go up with values (${v})`);
    assert.ok(b < BUCKETS);
    const up = bucketUpper(b);
    assert.ok(up >= v, `upper bound ${up} ≥ ${v}`);
    assert.ok(up - v <= Math.max(0, v * 0.008), `bucket of ${v} is at most 0.8 % wide (upper ${up})`);
    prev = b;
  }
  assert.equal(bucketOf(-5), 0);
  assert.equal(bucketOf(2 ** 40), BUCKETS - 1);
});

test('quantiles, merge and reset', () => {
  const h = new Histogram();
  for (let i = 1; i <= 1000; i++) h.record(i * 100);
  const p50 = h.quantile(0.5);
  assert.ok(p50 >= 50_000 && p50 <= 50_000 * 1.008, `p50 ${p50}`);
  assert.equal(h.quantile(1), 100_000);
  const other = new Histogram();
  other.record(1_000_000);
  h.merge(other.snapshot());
  assert.equal(h.count, 1001);
  assert.equal(h.max, 1_000_000);
  assert.equal(h.quantile(1), 1_000_000);
  h.reset();
  assert.ok(Number.isNaN(h.quantile(0.5)));
});
