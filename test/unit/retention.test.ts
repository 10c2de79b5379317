/** Retention passes, step by step, against a store that records each step. */
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { RetentionTimer, retentionPass, unusedUploadsPass, type RoomRetention } from '../../src/store/retention.js';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ConversationTrimRule, CountCursor, CountTrim, HistoryPage, HistoryQuery, Store, UploadTrim } from '../../src/store/store.js';

const DAY = 86_400_000;

class SteppingStore {
  readonly steps: string[] = [];
  /** Set: each trimOlder waits for finishStep() instead of taking the next of `older`. */
  hold = false;
  private answer: ((n: number) => void) | null = null;
  private asked: (() => void) | null = null;

  constructor(
    /** What each trimOlder step removes, in turn. */
    private readonly older: number[] = [],
    /** Conversations in id order, with how many messages each has to lose. */
    private readonly convs: [string, number][] = [],
  ) {}

  trimOlder(before: number, limit: number): Promise<number> {
    this.steps.push(`older ${before} ${limit}`);
    this.asked?.();
    if (!this.hold) return Promise.resolve(this.older.shift() ?? 0);
    return new Promise((resolve) => (this.answer = resolve));
  }
  /** Resolves once a trimOlder step is asked for. */
  stepAsked(): Promise<void> {
    return new Promise((resolve) => (this.asked = resolve));
  }
  finishStep(removed: number): void {
    this.answer!(removed);
  }
  /** What each trimUploads step removes, in turn; a step is full (`more`) while more are listed after it. */
  unused: string[][] = [];
  async trimUploads(before: number, limit: number): Promise<UploadTrim> {
    this.steps.push(`uploads ${before} ${limit}`);
    const removed = this.unused.shift() ?? [];
    return { removed, more: this.unused.length > 0 };
  }
  async trimToCount(keep: number, from: CountCursor, limit: number): Promise<CountTrim> {
    this.steps.push(`count ${keep} ${limit} after '${from.after}'`);
    const i = this.convs.findIndex(([c]) => c > from.after);
    if (i < 0) return { removed: 0, next: null };
    const [conv, n] = this.convs[i]!;
    return { removed: Math.min(n, limit), next: i === this.convs.length - 1 ? null : { after: conv } };
  }
  /** What each trimConversation step of a conversation removes, in turn (0 once none are left); `full`: always a full step. */
  perConv = new Map<string, number[] | 'full'>();
  async trimConversation(conv: string, rule: ConversationTrimRule, limit: number): Promise<number> {
    this.steps.push(`conv ${conv} keep ${rule.keep ?? '-'} before ${rule.before ?? '-'} ${limit}`);
    const plan = this.perConv.get(conv);
    if (plan === 'full') return limit;
    return Math.min(plan?.shift() ?? 0, limit);
  }
  /** What each conversation holds, as [oldest seq, last seq]. */
  held = new Map<string, [number, number]>();
  async history(q: HistoryQuery): Promise<HistoryPage> {
    this.steps.push(`held ${q.conv}`);
    const [oldestSeq, lastSeq] = this.held.get(q.conv) ?? [0, 0];
    return { messages: [], oldestSeq, lastSeq };
  }
}

const room = (name: string, maxCount: number | null, maxAgeDays: number | null): RoomRetention => ({ name, maxCount, maxAgeDays });

/** The timer's own timeouts do not keep the process alive (unref): this does, until the test ends. */
function keepAlive(t: TestContext): void {
  const alive = setInterval(() => {}, 1_000);
  t.after(() => clearInterval(alive));
}

describe('retention', () => {
  it('runs a pass by age until a step removes less than a full one, then conversation by conversation by count', async () => {
    const store = new SteppingStore(
      [3, 3, 1],
      [
        ['a', 2],
        ['b', 0],
        ['c', 5],
      ],
    );
    const removed = await retentionPass(store as unknown as Store, { maxAgeMs: 1_000, maxCount: 10 }, 5_000, 3);
    assert.equal(removed, 3 + 3 + 1 + 2 + 0 + 3);
    assert.deepEqual(store.steps, ['older 4000 3', 'older 4000 3', 'older 4000 3', "count 10 3 after ''", "count 10 3 after 'a'", "count 10 3 after 'b'"]);
  });

  it('stops after the step under way and starts no pass after stop()', async (t) => {
    keepAlive(t);
    const store = new SteppingStore();
    store.hold = true;
    const passes: number[] = [];
    const timer = new RetentionTimer(store as unknown as Store, { maxAgeMs: 1_000, intervalMs: 1, stepSize: 2 }, () => 10_000, {
      passed: (removed) => passes.push(removed),
      failed: (err) => assert.fail(String(err)),
    });
    const asked = store.stepAsked();
    timer.start();
    await asked;
    let stopped = false;
    const stopping = timer.stop().then(() => (stopped = true));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(stopped, false, 'stop() waits for the step that is out');
    // A full step: the pass would go on, but it has been stopped.
    store.finishStep(2);
    await stopping;
    assert.deepEqual(store.steps, ['older 9000 2']);
    assert.deepEqual(passes, [2]);
  });

  it('ends the pause between two steps at once when stopped', async (t) => {
    keepAlive(t);
    const store = new SteppingStore();
    store.hold = true;
    const timer = new RetentionTimer(store as unknown as Store, { maxAgeMs: 1_000, intervalMs: 1, stepSize: 2 }, () => 10_000, {
      passed: () => {},
      failed: (err) => assert.fail(String(err)),
    });
    const asked = store.stepAsked();
    timer.start();
    await asked;
    // The step takes 500 ms, so the paced pass then pauses 500 ms before its next one.
    await sleep(500);
    store.finishStep(2);
    await new Promise((resolve) => setImmediate(resolve));
    const outcome = await Promise.race([timer.stop().then(() => 'stopped'), sleep(400).then(() => 'still pausing')]);
    assert.equal(outcome, 'stopped');
    assert.equal(store.steps.length, 1);
  });

  it('removes unused uploads step by step, records before bytes, until a step finds no more to look at', async () => {
    const store = new SteppingStore();
    store.unused = [['a', 'b'], [], ['e']];
    const removedBytes: string[][] = [];
    const n = await unusedUploadsPass(store as unknown as Store, 7_000, 2, async (ids) => {
      removedBytes.push(ids);
      store.steps.push(`bytes ${ids.join(',')}`);
    });
    assert.equal(n, 3);
    assert.deepEqual(store.steps, ['uploads 7000 2', 'bytes a,b', 'uploads 7000 2', 'uploads 7000 2', 'bytes e'], 'a full step of uploads in use goes on');
    assert.deepEqual(removedBytes, [['a', 'b'], ['e']]);
  });

  it('runs passes for unused uploads alone when no message retention is set, after the messages when it is', async (t) => {
    keepAlive(t);
    const store = new SteppingStore([1]);
    store.unused = [['x']];
    const passed = new Promise<[number, number]>((resolve) => {
      const timer = new RetentionTimer(
        store as unknown as Store,
        { maxAgeMs: 1_000, intervalMs: 1, stepSize: 2, unusedUploadsMaxAgeMs: 3_000, removeFiles: async () => {} },
        () => 10_000,
        {
          passed: (removed, files) => {
            void timer.stop();
            resolve([removed, files]);
          },
          failed: (err) => assert.fail(String(err)),
        },
      );
      timer.start();
    });
    assert.deepEqual(await passed, [1, 1]);
    assert.deepEqual(store.steps.slice(0, 2), ['older 9000 2', 'uploads 7000 2']);

    const alone = new SteppingStore();
    alone.unused = [['y']];
    const files = await new Promise<number>((resolve) => {
      const timer = new RetentionTimer(alone as unknown as Store, { intervalMs: 1, stepSize: 2, unusedUploadsMaxAgeMs: 0, removeFiles: async () => {} }, () => 10_000, {
        passed: (_removed, n) => {
          void timer.stop();
          resolve(n);
        },
        failed: (err) => assert.fail(String(err)),
      });
      timer.start();
    });
    assert.equal(files, 1);
    assert.equal(alone.steps[0], 'uploads 10000 2');
  });

  it('runs a pass only while it holds the lease of a store shared with other nodes, and skips it otherwise', async (t) => {
    keepAlive(t);
    class SharedStore extends SteppingStore {
      /** Whether another node holds the lease, pass by pass. */
      readonly busy = [true, false];
      async retentionLease<T>(pass: () => Promise<T>): Promise<T | null> {
        if (this.busy.shift()) return null;
        this.steps.push('lease');
        return pass();
      }
    }
    const store = new SharedStore([1]);
    const events: string[] = [];
    await new Promise<void>((resolve) => {
      const timer = new RetentionTimer(store as unknown as Store, { maxAgeMs: 1_000, intervalMs: 1, stepSize: 2 }, () => 10_000, {
        passed: (removed) => {
          events.push(`passed ${removed}`);
          void timer.stop().then(resolve);
        },
        skipped: () => events.push('skipped'),
        failed: (err) => assert.fail(String(err)),
      });
      timer.start();
    });
    assert.deepEqual(events, ['skipped', 'passed 1']);
    assert.deepEqual(store.steps, ['lease', 'older 9000 2'], 'no step without the lease');
  });

  it("applies a managed room's own limits after the server-wide steps where they are stricter, and leaves the other rooms be", async () => {
    const store = new SteppingStore();
    const rooms = [
      room('count', 5, null),
      room('looser', 500, 30),
      room('same', 100, 2),
      room('none', null, null),
      room('age', 200, 1),
      room('both', 2, 0.5),
      room('mixed', 1_000, 0.25),
    ];
    await retentionPass(store as unknown as Store, { maxAgeMs: 2 * DAY, maxCount: 100, rooms }, 10 * DAY, 3);
    assert.deepEqual(store.steps, [
      `older ${8 * DAY} 3`,
      "count 100 3 after ''",
      'conv r:count keep 5 before - 3',
      `conv r:age keep - before ${9 * DAY} 3`,
      `conv r:both keep 2 before ${9.5 * DAY} 3`,
      `conv r:mixed keep - before ${9.75 * DAY} 3`,
    ]);

    // No limits of the server's: every room limit is the stricter one.
    const alone = new SteppingStore();
    alone.perConv.set('r:x', [3, 1]);
    const removed = await retentionPass(alone as unknown as Store, { rooms: [room('x', 3, null), room('y', null, 1), room('z', null, null)] }, 10 * DAY, 3);
    assert.equal(removed, 4);
    assert.deepEqual(alone.steps, ['conv r:x keep 3 before - 3', 'held r:x', 'conv r:x keep 3 before - 3', `conv r:y keep - before ${9 * DAY} 3`]);
  });

  it('trims a room until a step is not full, and stops one that grows faster than it is trimmed once what it held has gone', async () => {
    const store = new SteppingStore();
    store.perConv.set('r:busy', 'full');
    // After the first step: seqs 4–10 are left, 7 messages: the pass removes those and stops.
    store.held.set('r:busy', [4, 10]);
    store.perConv.set('r:calm', [3, 3, 2]);
    store.held.set('r:calm', [4, 8]);
    const removed = await retentionPass(store as unknown as Store, { rooms: [room('busy', 1, null), room('calm', 1, null)] }, 0, 3);
    assert.equal(removed, 3 + 3 + 3 + 3 + (3 + 3 + 2));
    const busy = 'conv r:busy keep 1 before - 3';
    const calm = 'conv r:calm keep 1 before - 3';
    assert.deepEqual(store.steps, [busy, 'held r:busy', busy, busy, busy, calm, 'held r:calm', calm, calm]);
  });

  it('runs for the rooms alone when the server has no limits, and skips every pass (lease and all) while no room has any', async (t) => {
    keepAlive(t);
    class SharedStore extends SteppingStore {
      async retentionLease<T>(pass: () => Promise<T>): Promise<T | null> {
        this.steps.push('lease');
        return pass();
      }
    }
    const store = new SharedStore();
    store.perConv.set('r:a', [2, 1]);
    const rooms = [room('a', null, null), room('b', null, null)];
    let reads = 0;
    let thirdRead!: () => void;
    const readThrice = new Promise<void>((resolve) => (thirdRead = resolve));
    let onPassed = (removed: number): void => assert.fail(`a pass ran (${removed})`);
    const timer = new RetentionTimer(
      store as unknown as Store,
      {
        intervalMs: 1,
        stepSize: 2,
        rooms: () => {
          if (++reads === 3) thirdRead();
          return rooms;
        },
      },
      () => 10 * DAY,
      { passed: (removed) => onPassed(removed), failed: (err) => assert.fail(String(err)) },
    );
    timer.start();
    await readThrice;
    assert.deepEqual(store.steps, [], 'no room with limits: nothing at all');
    const passed = new Promise<number>((resolve) => (onPassed = resolve));
    rooms[0] = room('a', 7, null);
    assert.equal(await passed, 3);
    await timer.stop();
    assert.deepEqual(store.steps.slice(0, 4), ['lease', 'conv r:a keep 7 before - 2', 'held r:a', 'conv r:a keep 7 before - 2']);
  });
});
