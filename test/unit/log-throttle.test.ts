/** LogThrottle: a repeating error is logged at once, then once per interval with a count, and stops when it does. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LogThrottle } from '../../src/observe/log-throttle.js';

interface Line {
  level: 'error' | 'warn';
  msg: string;
  fields: Record<string, unknown>;
}

function recorder(): { log: { error(o: object, m: string): void; warn(o: object, m: string): void }; lines: Line[] } {
  const lines: Line[] = [];
  return {
    lines,
    log: {
      error: (fields, msg) => lines.push({ level: 'error', msg, fields: fields as Record<string, unknown> }),
      warn: (fields, msg) => lines.push({ level: 'warn', msg, fields: fields as Record<string, unknown> }),
    },
  };
}

/** Polls `cond` every few ms; fails after `timeoutMs`. */
async function until(cond: () => boolean, what: string, timeoutMs = 2_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('LogThrottle', () => {
  it('logs the first occurrence at once, the rest of the interval as one line with the count and the last fields', async () => {
    const { log, lines } = recorder();
    const t = new LogThrottle(log, 60);
    for (let i = 0; i < 1000; i++) t.error({ err: `down ${i}`, n: i }, 'store commit failed');
    assert.deepEqual(lines, [{ level: 'error', msg: 'store commit failed', fields: { err: 'down 0', n: 0 } }]);
    await until(() => lines.length === 2, 'the summary line');
    assert.deepEqual(lines[1], { level: 'error', msg: 'store commit failed', fields: { err: 'down 999', n: 999, repeated: 999, intervalMs: 60 } });
    // Still coming: one line per interval.
    for (let i = 0; i < 5; i++) t.error({ err: 'again' }, 'store commit failed');
    await until(() => lines.length === 3, 'the next summary');
    assert.equal(lines[2]!.fields.repeated, 5);
    // An interval with none ends the series: the next one is logged at once, as it came.
    await new Promise((resolve) => setTimeout(resolve, 150));
    assert.equal(lines.length, 3, 'nothing is logged for a quiet interval');
    t.error({ err: 'later' }, 'store commit failed');
    assert.deepEqual(lines[3], { level: 'error', msg: 'store commit failed', fields: { err: 'later' } });
    t.flush();
  });

  it('keeps a series per level and message, and flush() tells what was counted and ends them', () => {
    const { log, lines } = recorder();
    const t = new LogThrottle(log, 60_000);
    t.error({ a: 1 }, 'one');
    t.error({ a: 2 }, 'one');
    t.error({ b: 1 }, 'two');
    t.warn({ c: 1 }, 'one');
    t.warn({ c: 2 }, 'one');
    t.warn({ c: 3 }, 'one');
    assert.deepEqual(
      lines.map((l) => [l.level, l.msg]),
      [
        ['error', 'one'],
        ['error', 'two'],
        ['warn', 'one'],
      ],
    );
    t.flush();
    assert.deepEqual(
      lines.slice(3).map((l) => [l.level, l.msg, l.fields]),
      [
        ['error', 'one', { a: 2, repeated: 1, intervalMs: 60_000 }],
        ['warn', 'one', { c: 3, repeated: 2, intervalMs: 60_000 }],
      ],
      'only the series with repeats get a line',
    );
    t.error({ a: 3 }, 'one');
    assert.equal(lines.length, 6, 'after a flush the next occurrence is logged at once');
    t.flush();
  });
});
