/**
 * TimerWheel with an injected clock: the test moves time and calls advance()
 * itself, as the wheel's interval would.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TimerWheel, type Timed } from '../../src/transport/heartbeat.js';

// horizon 1000 ms, finest 100 ms → resolution max(5, 100/5) = 20 ms.
const HORIZON = 1000;
const FINEST = 100;
const RES = 20;

class Clock {
  t: number;
  constructor(start = 0) {
    this.t = start;
  }
  readonly now = (): number => this.t;
}

class Entry implements Timed {
  wheelSlot = -1;
  readonly fired: number[] = [];
  constructor(private readonly onDue?: (now: number, self: Entry) => void) {}
  due(now: number): void {
    this.fired.push(now);
    this.onDue?.(now, this);
  }
}

function makeWheel(start = 0) {
  const clock = new Clock(start);
  const wheel = new TimerWheel(HORIZON, FINEST, clock.now);
  /** Moves time forward one millisecond at a time, advancing the wheel at each step. */
  const runTo = (t: number): void => {
    while (clock.t < t) {
      clock.t++;
      wheel.advance();
    }
  };
  return { clock, wheel, runTo };
}

describe('TimerWheel', () => {
  it('never fires an entry before its delay', () => {
    const problems: string[] = [];
    for (const offset of [0, 1, 7, 13, 19, 20, 33]) {
      for (const delay of [1, 5, 19, 20, 21, 25, 40, 99, 100, 101, 500, 999, 1000]) {
        const { clock, wheel, runTo } = makeWheel();
        runTo(offset);
        const e = new Entry();
        wheel.schedule(e, delay);
        const at = clock.t;
        runTo(at + delay + 3 * RES);
        assert.equal(e.fired.length, 1, `offset ${offset}, delay ${delay}: fired once`);
        const waited = e.fired[0]! - at;
        if (waited < delay) problems.push(`scheduled at ${at} for ${delay} ms, fired after ${waited} ms`);
      }
    }
    assert.deepEqual(problems, [], 'entries fired early');
  });

  it('fires within one resolution after its delay', () => {
    for (const offset of [0, 1, 7, 13, 19, 20, 33]) {
      for (const delay of [1, 5, 19, 20, 21, 25, 40, 99, 100, 101, 500, 999, 1000]) {
        const { clock, wheel, runTo } = makeWheel();
        runTo(offset);
        const e = new Entry();
        wheel.schedule(e, delay);
        const at = clock.t;
        runTo(at + delay + 3 * RES);
        const waited = e.fired[0]! - at;
        assert.ok(waited <= delay + RES, `offset ${offset}, delay ${delay}: fired after ${waited} ms`);
      }
    }
  });

  it('an entry scheduled on a tick boundary fires in [delay, delay + resolution]', () => {
    const { wheel, runTo } = makeWheel();
    const entries = [1, 20, 21, 55, 100, 640].map((d) => ({ d, e: new Entry() }));
    for (const { d, e } of entries) wheel.schedule(e, d);
    runTo(HORIZON);
    for (const { d, e } of entries) {
      assert.equal(e.fired.length, 1);
      assert.ok(e.fired[0]! >= d && e.fired[0]! <= d + RES, `delay ${d} fired at ${e.fired[0]}`);
    }
  });

  it('sets and clears wheelSlot', () => {
    const { wheel, runTo } = makeWheel();
    const e = new Entry();
    assert.equal(e.wheelSlot, -1);
    wheel.schedule(e, 100);
    assert.ok(e.wheelSlot >= 0);
    runTo(200);
    assert.equal(e.wheelSlot, -1, 'cleared when fired');
  });

  it('cancel removes an entry; cancelling twice or an unscheduled entry is harmless', () => {
    const { wheel, runTo } = makeWheel();
    const a = new Entry();
    const b = new Entry();
    wheel.schedule(a, 100);
    wheel.schedule(b, 100);
    runTo(50);
    wheel.cancel(a);
    assert.equal(a.wheelSlot, -1);
    wheel.cancel(a);
    wheel.cancel(new Entry());
    runTo(500);
    assert.deepEqual(a.fired, []);
    assert.equal(b.fired.length, 1, 'the other entry in the same slot still fires');
  });

  it('scheduling again moves the entry (it fires once, at the new time)', () => {
    const { wheel, runTo } = makeWheel();
    const e = new Entry();
    wheel.schedule(e, 100);
    runTo(60);
    wheel.schedule(e, 300);
    runTo(1000);
    assert.equal(e.fired.length, 1);
    assert.ok(e.fired[0]! >= 360 && e.fired[0]! <= 360 + RES, `fired at ${e.fired[0]}`);
    wheel.schedule(e, 50);
    wheel.schedule(e, 50);
    runTo(1200);
    assert.equal(e.fired.length, 2, 'scheduled twice in a row, fires once');
  });

  it('an entry may reschedule itself from due()', () => {
    const { wheel, runTo } = makeWheel();
    const e = new Entry((now, self) => wheel.schedule(self, 100));
    wheel.schedule(e, 100);
    runTo(1000);
    assert.equal(e.fired.length, 10);
    for (let i = 1; i < e.fired.length; i++) assert.ok(e.fired[i]! - e.fired[i - 1]! >= 100, `interval ${i}`);
  });

  it('entries may cancel or schedule others from due()', () => {
    const { wheel, runTo } = makeWheel();
    const victim = new Entry();
    const spawned = new Entry();
    const killer = new Entry(() => {
      wheel.cancel(victim);
      wheel.schedule(spawned, 200);
    });
    wheel.schedule(killer, 100);
    wheel.schedule(victim, 100);
    runTo(1000);
    assert.equal(killer.fired.length, 1);
    // The victim shared the killer's slot: it may have fired first, but never after being cancelled.
    assert.ok(victim.fired.length <= 1);
    if (victim.fired.length === 1) assert.ok(victim.fired[0]! <= killer.fired[0]!);
    assert.equal(spawned.fired.length, 1);
    assert.ok(spawned.fired[0]! >= killer.fired[0]! + 200);
  });

  it('catches up after a long stall: every entry due meanwhile fires once', () => {
    const { clock, wheel, runTo } = makeWheel();
    const entries = [100, 300, 500, 900, 1000].map((d) => {
      const e = new Entry();
      wheel.schedule(e, d);
      return e;
    });
    const later = new Entry();
    clock.t = 2500; // the event loop was blocked for 2.5 s (longer than the wheel's horizon)
    wheel.advance();
    for (const e of entries) assert.deepEqual(e.fired, [2500]);
    wheel.schedule(later, 100);
    runTo(4000);
    for (const e of entries) assert.equal(e.fired.length, 1, 'no second firing on a later lap');
    assert.equal(later.fired.length, 1);
    assert.ok(later.fired[0]! >= 2600 && later.fired[0]! <= 2600 + RES, `later fired at ${later.fired[0]}`);
  });

  it('after a stall, an entry rescheduled from due() waits its full delay again', () => {
    // Like a heartbeat: due() sends a ping and schedules the pong deadline. After a
    // stall the deadline must not expire in the same catch-up, before any pong can arrive.
    const { clock, wheel, runTo } = makeWheel();
    const e = new Entry((now, self) => wheel.schedule(self, 100));
    wheel.schedule(e, 100);
    clock.t = 1000;
    wheel.advance();
    assert.deepEqual(e.fired, [1000], 'one firing for the catch-up');
    runTo(1099);
    assert.equal(e.fired.length, 1, 'not again before 100 ms have passed');
    runTo(1100 + RES);
    assert.equal(e.fired.length, 2);
  });

  it('an entry scheduled while the wheel is behind still waits its delay', () => {
    // advance() has not run for 500 ms (a busy event loop); a deadline set now must not be measured from the stale cursor.
    const { clock, wheel, runTo } = makeWheel();
    clock.t = 500;
    const e = new Entry();
    wheel.schedule(e, 100);
    runTo(800);
    assert.equal(e.fired.length, 1);
    assert.ok(e.fired[0]! >= 600, `fired at ${e.fired[0]}, scheduled at 500 for 100 ms`);
  });

  it('a delay beyond the horizon is capped to the horizon', () => {
    const { wheel, runTo } = makeWheel();
    const e = new Entry();
    wheel.schedule(e, 10 * HORIZON);
    runTo(3 * HORIZON);
    assert.equal(e.fired.length, 1);
    assert.ok(e.fired[0]! >= HORIZON && e.fired[0]! <= HORIZON + 2 * RES, `fired at ${e.fired[0]}`);
  });

  it("spreads what one second of a connect storm scheduled (the server's defaults: slots of 20 ms, not 1 s)", () => {
    // The server's wheel: horizon the 25 s heartbeat, finest the 5 s auth and close timeouts (src/server.ts).
    const clock = new Clock();
    const wheel = new TimerWheel(25_000, 5_000, clock.now);
    // 2,000 sessions connect over one second, each pinging 25 s later.
    let firedNow = 0;
    const entries = Array.from({ length: 2000 }, () => new Entry(() => firedNow++));
    entries.forEach((e, i) => {
      if (i % 2 === 0 && i > 0) {
        clock.t++;
        wheel.advance();
      }
      wheel.schedule(e, 25_000);
    });
    let largest = 0;
    while (clock.t < 27_000) {
      clock.t++;
      firedNow = 0;
      wheel.advance();
      largest = Math.max(largest, firedNow);
    }
    assert.ok(entries.every((e) => e.fired.length === 1 && e.fired[0]! - 25_000 <= 1000 + 20));
    // 40 a slot (2 a millisecond); with 1 s slots it was all 2,000 at once.
    assert.ok(largest <= 50, `${largest} entries fired at once`);
  });

  it('a horizon of many slots gets longer slots, not more of them', () => {
    const clock = new Clock();
    // An hour's heartbeat: 8,192 slots of ~440 ms, not 180,000 of 20 ms.
    const wheel = new TimerWheel(3_600_000, 600_000, clock.now);
    const e = new Entry();
    wheel.schedule(e, 1000);
    while (clock.t < 3000) {
      clock.t++;
      wheel.advance();
    }
    assert.equal(e.fired.length, 1);
    const late = e.fired[0]! - 1000;
    assert.ok(late > 20 && late <= 3_600_000 / 8192 + 1, `fired ${late} ms late`);
  });

  it('start() drives the wheel with a real interval; stop() halts it', async () => {
    const wheel = new TimerWheel(1000, 25); // resolution 5 ms, real clock
    const e = new Entry();
    wheel.start();
    wheel.start(); // idempotent
    try {
      wheel.schedule(e, 20);
      const deadline = Date.now() + 2000;
      while (e.fired.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      assert.equal(e.fired.length, 1);
    } finally {
      wheel.stop();
      wheel.stop();
    }
    const f = new Entry();
    wheel.schedule(f, 10);
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(f.fired.length, 0, 'nothing fires once stopped');
  });
});
