/** The offline queue: order, per-conversation gating, resend after a drop, retries, limit. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { QueueFullError } from '../../client/src/errors.js';
import { OfflineQueue, type QueuedTarget } from '../../client/src/offline-queue.js';

function entry(key: string, target: QueuedTarget) {
  const settled: { key: string; ok: boolean }[] = [];
  return {
    key,
    target,
    command: { key, ...target },
    resolve: () => settled.push({ key, ok: true }),
    reject: () => settled.push({ key, ok: false }),
  };
}

const all = (): boolean => true;

describe('client offline queue', () => {
  it('gives entries back in the order they were queued', () => {
    const q = new OfflineQueue();
    q.add(entry('a', { room: 'r' }));
    q.add(entry('b', { to: 'bob' }));
    q.add(entry('c', { room: 'r' }));
    assert.deepEqual(q.ready(0, all).map((e) => e.key), ['a', 'b', 'c']);
  });

  it('a conversation that cannot send holds back all its later entries, not the others', () => {
    const q = new OfflineQueue();
    q.add(entry('r1', { room: 'r' }));
    q.add(entry('d1', { to: 'bob' }));
    q.add(entry('r2', { room: 'r' }));
    q.add(entry('s1', { room: 's' }));
    const ready = q.ready(0, (t) => !('room' in t && t.room === 'r'));
    assert.deepEqual(ready.map((e) => e.key), ['d1', 's1']);
  });

  it('sent entries are not ready again until the connection drops; then they go out again, in order, same key', () => {
    const q = new OfflineQueue<{ key: string }>();
    for (const k of ['a', 'b', 'c']) q.add(entry(k, { room: 'r' }));
    q.markSent('a', 1);
    q.markSent('b', 2);
    assert.deepEqual(q.ready(0, all).map((e) => e.key), ['c']);
    q.settle('a'); // acked
    assert.equal(q.requeueSent(), 1);
    assert.deepEqual(q.ready(0, all).map((e) => e.key), ['b', 'c']);
    assert.equal(q.get('b')!.attempts, 1);
    assert.equal(q.get('b')!.command.key, 'b');
    assert.equal(q.size, 2);
  });

  it('retryLater keeps the place and holds back its conversation until the time comes', () => {
    const q = new OfflineQueue();
    q.add(entry('a', { room: 'r' }));
    q.add(entry('b', { room: 'r' }));
    q.add(entry('x', { to: 'bob' }));
    q.markSent('a', 1);
    q.retryLater('a', 1_000);
    assert.deepEqual(q.ready(500, all).map((e) => e.key), ['x']);
    assert.equal(q.nextRetryAt(500), 1_000);
    assert.deepEqual(q.ready(1_000, all).map((e) => e.key), ['a', 'b', 'x']);
  });

  it('refuses more than the limit with QueueFullError, and duplicate keys', () => {
    const q = new OfflineQueue(2);
    q.add(entry('a', { room: 'r' }));
    assert.throws(() => q.add(entry('a', { room: 'r' })), /already queued/);
    q.add(entry('b', { room: 'r' }));
    assert.throws(() => q.add(entry('c', { room: 'r' })), QueueFullError);
    q.settle('a');
    q.add(entry('c', { room: 'r' }));
    assert.deepEqual(q.drain().map((e) => e.key), ['b', 'c']);
    assert.equal(q.size, 0);
  });
});
