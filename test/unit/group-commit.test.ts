/** The Committer's pacing under load (store.groupCommitMs): a lone publish is committed at once, a busy stream shares commits. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import { Committer } from '../../src/store/committer.js';
import type { Appended, NewMessage, Store, WriteBatch } from '../../src/store/store.js';

/** Records when each commit began and what it carried; answers at once. */
class TimedStore {
  readonly kind = 'sqlite' as const;
  commits: { at: number; messages: number }[] = [];
  commit(batch: WriteBatch): Promise<Appended[]> {
    this.commits.push({ at: performance.now(), messages: batch.messages.length });
    return Promise.resolve(batch.messages.map((m, i) => ({ seq: i + 1, id: m.id, ts: m.ts, duplicate: false })));
  }
}

let n = 0;
const message = (): NewMessage => ({ id: `m${n++}`, conv: 'r:room', from: 'ann', contentType: 'text', body: '"hi"', ts: Date.now(), key: null, fileId: null });

function setup(groupCommitMs: number): { store: TimedStore; publish: (count: number) => Promise<void> } {
  const store = new TimedStore();
  const c = new Committer(store as unknown as Store, { maxPending: 1000, maxBatch: 1000, groupCommitMs }, pino({ level: 'silent' }));
  const publish = (count: number): Promise<void> =>
    Promise.all(
      Array.from({ length: count }, () => new Promise<void>((resolve, reject) => void c.append(message(), null, (err) => (err ? reject(err) : resolve())))),
    ).then(() => undefined);
  return { store, publish };
}

describe('Committer group commit (store.groupCommitMs)', () => {
  it('commits a publish that comes alone at once, however long the interval', async () => {
    const { store, publish } = setup(10_000);
    const started = performance.now();
    await publish(1);
    await publish(1);
    await publish(1);
    assert.equal(store.commits.length, 3);
    assert.ok(performance.now() - started < 1000, 'single publishes did not wait for the interval');
  });

  it('after a commit of several messages, starts the next no sooner than the interval after it', async () => {
    const { store, publish } = setup(60);
    await publish(3);
    const next = publish(1);
    const more = publish(2);
    await Promise.all([next, more]);
    assert.deepEqual(
      store.commits.map((c) => c.messages),
      [3, 3],
      'what came during the interval went in one commit',
    );
    const gap = store.commits[1]!.at - store.commits[0]!.at;
    assert.ok(gap >= 55, `the second commit began ${gap.toFixed(1)} ms after the first`);
  });

  it('with 0, commits as soon as the last commit is done', async () => {
    const { store, publish } = setup(0);
    const started = performance.now();
    await publish(3);
    await publish(3);
    assert.equal(store.commits.length, 2);
    assert.ok(performance.now() - started < 50);
  });

  it('waits only out what is left of the interval: a commit long after the last one goes at once', async () => {
    const { store, publish } = setup(40);
    await publish(2);
    await new Promise((resolve) => setTimeout(resolve, 60));
    const before = performance.now();
    await publish(2);
    assert.ok(store.commits[1]!.at - before < 20, 'the interval had passed: no wait');
  });
});
