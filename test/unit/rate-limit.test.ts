import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RateLimiter, type RateVerdict } from '../../src/transport/rate-limit.js';

const T0 = 1_700_000_000_000;

function takeN(r: RateLimiter, n: number, now: number): RateVerdict[] {
  return Array.from({ length: n }, () => r.take(now));
}

describe('RateLimiter', () => {
  it('allows a burst, then refuses, then declares a flood', () => {
    const r = new RateLimiter({ messagesPerSecond: 10, burst: 5, maxRateStrikes: 3 }, T0);
    assert.deepEqual(takeN(r, 5, T0), ['ok', 'ok', 'ok', 'ok', 'ok']);
    assert.deepEqual(takeN(r, 3, T0), ['refuse', 'refuse', 'refuse']);
    assert.equal(r.take(T0), 'flood');
    assert.equal(r.take(T0), 'flood');
  });

  it('charges extra for a costly line: the bucket goes below zero and later lines wait for the refill', () => {
    const r = new RateLimiter({ messagesPerSecond: 10, burst: 5, maxRateStrikes: 100 }, T0);
    assert.equal(r.take(T0), 'ok');
    r.charge(50);
    assert.equal(r.take(T0 + 4_000), 'refuse', '46 tokens owed, 40 refilled');
    assert.equal(r.take(T0 + 4_700), 'ok');
  });

  it('refills at messagesPerSecond', () => {
    const r = new RateLimiter({ messagesPerSecond: 10, burst: 5, maxRateStrikes: 100 }, T0);
    takeN(r, 5, T0);
    assert.equal(r.take(T0 + 50), 'refuse', 'half a token after 50 ms');
    assert.equal(r.take(T0 + 100), 'ok', 'one token after 100 ms');
    assert.equal(r.take(T0 + 100), 'refuse');
    assert.deepEqual(takeN(r, 3, T0 + 400), ['ok', 'ok', 'ok']);
    assert.equal(r.take(T0 + 400), 'refuse');
  });

  it('refills to the burst and no further', () => {
    const r = new RateLimiter({ messagesPerSecond: 10, burst: 5, maxRateStrikes: 100 }, T0);
    takeN(r, 5, T0);
    const later = T0 + 60_000;
    assert.deepEqual(takeN(r, 5, later), ['ok', 'ok', 'ok', 'ok', 'ok']);
    assert.equal(r.take(later), 'refuse');
  });

  it('sustains exactly the configured rate', () => {
    const r = new RateLimiter({ messagesPerSecond: 50, burst: 1, maxRateStrikes: 100 }, T0);
    let ok = 0;
    // One attempt every 10 ms for 10 s: 1 (burst) + 50/s * 10 s.
    for (let t = 0; t <= 10_000; t += 10) if (r.take(T0 + t) === 'ok') ok++;
    assert.equal(ok, 501);
  });

  it('supports fractional rates', () => {
    const r = new RateLimiter({ messagesPerSecond: 0.5, burst: 1, maxRateStrikes: 100 }, T0);
    assert.equal(r.take(T0), 'ok');
    assert.equal(r.take(T0 + 1999), 'refuse');
    assert.equal(r.take(T0 + 2000), 'ok');
  });

  it('counts strikes per second: spaced-out refusals are not a flood', () => {
    const r = new RateLimiter({ messagesPerSecond: 1, burst: 1, maxRateStrikes: 2 }, T0);
    assert.equal(r.take(T0), 'ok');
    assert.deepEqual(takeN(r, 2, T0 + 10), ['refuse', 'refuse']);
    // A new second: the strike count starts over (the bucket has refilled one token meanwhile).
    assert.equal(r.take(T0 + 1010), 'ok');
    assert.deepEqual(takeN(r, 2, T0 + 1020), ['refuse', 'refuse']);
    assert.equal(r.take(T0 + 1030), 'flood');
  });

  it('works with a clock starting at zero', () => {
    const r = new RateLimiter({ messagesPerSecond: 10, burst: 2, maxRateStrikes: 1 }, 0);
    assert.deepEqual(takeN(r, 4, 0), ['ok', 'ok', 'refuse', 'flood']);
    assert.equal(r.take(100), 'ok');
  });

  it('ignores a clock that goes backwards', () => {
    const r = new RateLimiter({ messagesPerSecond: 10, burst: 1, maxRateStrikes: 100 }, T0);
    assert.equal(r.take(T0), 'ok');
    assert.equal(r.take(T0 - 5000), 'refuse', 'no tokens from a clock step back');
    assert.equal(r.take(T0 + 100), 'ok');
  });
});
