/**
 * The sequencer: per conversation, each message reaches the app once, in seq
 * order, whatever mix of live pushes, replays and history pages carries it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { directKey, keyOfMessage, roomKey, Sequencer, conversationOfKey, type ConvKey } from '../../client/src/recovery.js';

interface M {
  seq: number;
  src?: string;
}

function harness() {
  const delivered: [ConvKey, number][] = [];
  const gaps: [ConvKey, number, number, string][] = [];
  const stalls: ConvKey[] = [];
  const s = new Sequencer<M>({
    deliver: (k, m) => delivered.push([k, m.seq]),
    gap: (k, from, to, reason) => gaps.push([k, from, to, reason]),
    stall: (k) => stalls.push(k),
  });
  const seqs = (k: ConvKey): number[] => delivered.filter(([x]) => x === k).map(([, n]) => n);
  return { s, delivered, gaps, stalls, seqs };
}

const R = roomKey('general');
const D = directKey('bob');

describe('client sequencer', () => {
  it('delivers in order and drops duplicates', () => {
    const { s, seqs } = harness();
    s.track(R, 0);
    assert.equal(s.push(R, { seq: 1 }), 'delivered');
    assert.equal(s.push(R, { seq: 2 }), 'delivered');
    assert.equal(s.push(R, { seq: 2 }), 'duplicate');
    assert.equal(s.push(R, { seq: 1 }), 'duplicate');
    assert.equal(s.push(R, { seq: 3 }), 'delivered');
    assert.deepEqual(seqs(R), [1, 2, 3]);
    assert.equal(s.duplicates, 2);
    assert.equal(s.last(R), 3);
  });

  it('holds a later message behind a gap, reports the stall once, and releases in order when the gap fills', () => {
    const { s, seqs, stalls } = harness();
    s.track(R, 5);
    assert.equal(s.push(R, { seq: 8 }), 'buffered');
    assert.equal(s.push(R, { seq: 7 }), 'buffered');
    assert.equal(s.push(R, { seq: 8 }), 'duplicate', 'already waiting');
    assert.deepEqual(stalls, [R], 'one stall for the gap');
    assert.deepEqual(seqs(R), []);
    assert.equal(s.firstPending(R), 7);
    s.push(R, { seq: 6 });
    assert.deepEqual(seqs(R), [6, 7, 8]);
    assert.equal(s.pendingCount(R), 0);
  });

  it('during recovery a gap is expected: no stall; endRecovery releases what follows', () => {
    const { s, seqs, stalls } = harness();
    s.track(D, 10);
    s.beginRecovery(D);
    s.push(D, { seq: 13 }); // live, before the replay
    s.push(D, { seq: 11 }); // replay
    s.push(D, { seq: 12 });
    s.push(D, { seq: 13 }); // replay of one already held
    s.endRecovery(D);
    s.push(D, { seq: 14 });
    assert.deepEqual(seqs(D), [11, 12, 13, 14]);
    assert.deepEqual(stalls, []);
  });

  it('a gap still open when recovery ends is reported as a stall', () => {
    const { s, stalls } = harness();
    s.track(R, 0);
    s.beginRecovery(R);
    s.push(R, { seq: 3 });
    s.endRecovery(R);
    assert.deepEqual(stalls, [R]);
  });

  it('with an unknown base, messages wait for the join reply; those at or below the base are history', () => {
    const { s, seqs } = harness();
    s.track(R, null);
    s.push(R, { seq: 42 });
    s.push(R, { seq: 41 });
    s.push(R, { seq: 43 });
    assert.deepEqual(seqs(R), []);
    s.setBase(R, 41);
    assert.deepEqual(seqs(R), [42, 43]);
    s.setBase(R, 100);
    assert.equal(s.last(R), 43, 'a known base is not moved');
  });

  it('skipTo reports lost messages and moves on', () => {
    const { s, seqs, gaps } = harness();
    s.track(R, 3);
    s.beginRecovery(R);
    s.push(R, { seq: 9 });
    s.skipTo(R, 8);
    assert.deepEqual(gaps, [[R, 4, 8, 'unrecoverable']]);
    assert.deepEqual(seqs(R), [9]);
    s.skipTo(R, 5);
    assert.equal(gaps.length, 1, 'skipping backwards does nothing');
  });

  it('reset follows a server whose counter restarted, reporting a forward jump', () => {
    const { s, seqs, gaps } = harness();
    s.track(R, 50);
    s.reset(R, 2, 'reset');
    assert.deepEqual(gaps, []);
    s.push(R, { seq: 3 });
    assert.deepEqual(seqs(R), [3]);
    s.reset(R, 10, 'not-durable');
    assert.deepEqual(gaps, [[R, 4, 10, 'not-durable']]);
    s.push(R, { seq: 11 });
    assert.deepEqual(seqs(R), [3, 11]);
  });

  it('a non-durable room delivers across a gap at once and says what was lost', () => {
    const { s, seqs, gaps, stalls } = harness();
    s.track(R, 0, { ordered: false });
    s.push(R, { seq: 1 });
    s.push(R, { seq: 4 });
    s.push(R, { seq: 4 });
    assert.deepEqual(seqs(R), [1, 4]);
    assert.deepEqual(gaps, [[R, 2, 3, 'not-durable']]);
    assert.deepEqual(stalls, []);
  });

  it('conversations are independent', () => {
    const { s, seqs } = harness();
    s.track(R, 0);
    s.track(D, 0);
    s.push(D, { seq: 2 });
    s.push(R, { seq: 1 });
    s.push(D, { seq: 1 });
    assert.deepEqual(seqs(R), [1]);
    assert.deepEqual(seqs(D), [1, 2]);
    assert.deepEqual([...s.positions()], [
      [R, 1],
      [D, 2],
    ]);
    s.forget(R);
    assert.equal(s.has(R), false);
    assert.throws(() => s.push(R, { seq: 2 }), /not tracked/);
  });

  it('property: live, replayed and history copies in any interleaving give 1..N exactly once, in order', () => {
    let rnd = 12345;
    const random = (): number => ((rnd = (rnd * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    for (let run = 0; run < 300; run++) {
      const { s, seqs, stalls } = harness();
      const n = 1 + Math.floor(random() * 60);
      s.track(R, 0);
      s.beginRecovery(R);
      // Three sources, each in order (as the server guarantees per conversation), but interleaved at random,
      // each covering a random window and overlapping the others.
      const sources: number[][] = [];
      const cut1 = Math.floor(random() * n);
      const cut2 = cut1 + Math.floor(random() * (n - cut1));
      sources.push(range(1, cut2)); // replay
      sources.push(range(cut1 + 1, n)); // live, starting before the replay ended
      sources.push(range(Math.max(1, cut1 - 3), Math.min(n, cut2 + 3))); // a history page
      const cursors = sources.map(() => 0);
      while (cursors.some((c, i) => c < sources[i]!.length)) {
        const i = Math.floor(random() * sources.length);
        if (cursors[i]! >= sources[i]!.length) continue;
        s.push(R, { seq: sources[i]![cursors[i]!++]! });
      }
      s.endRecovery(R);
      assert.deepEqual(seqs(R), range(1, n), `run ${run}`);
      assert.deepEqual(stalls, []);
    }
  });

  it('keys: rooms by name, direct messages by the other party (self-DMs by yourself)', () => {
    assert.equal(keyOfMessage({ room: 'general', from: 'bob' }, 'alice'), 'r:general');
    assert.equal(keyOfMessage({ to: 'alice', from: 'bob' }, 'alice'), 'd:bob');
    assert.equal(keyOfMessage({ to: 'bob', from: 'alice' }, 'alice'), 'd:bob');
    assert.equal(keyOfMessage({ to: 'alice', from: 'alice' }, 'alice'), 'd:alice');
    assert.equal(keyOfMessage({ from: 'bob' }, 'alice'), null);
    assert.deepEqual(conversationOfKey('r:a:b'), { room: 'a:b' });
    assert.deepEqual(conversationOfKey('d:bob'), { with: 'bob' });
  });
});

function range(a: number, b: number): number[] {
  const out: number[] = [];
  for (let i = a; i <= b; i++) out.push(i);
  return out;
}
