import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RecentMessages } from '../../src/hub/recent-messages.js';
import type { MessagePush } from '../../src/protocol/pushes.js';

const push = (seq: number): MessagePush => ({ type: 'message', room: 'r', seq, id: `m${seq}`, from: 'u', contentType: 'text', body: `b${seq}`, ts: seq });
const seqsOf = (l: MessagePush[] | null): number[] | null => (l === null ? null : l.map((p) => p.seq));

describe("RecentMessages: a stored room's last messages, for recovering joins", () => {
  it('answers what came after `since` while it still holds all of it, oldest first', () => {
    const r = new RecentMessages(4, 1000);
    for (let s = 1; s <= 10; s++) r.add(push(s));
    assert.deepEqual(seqsOf(r.after(7, 10)), [8, 9, 10]);
    assert.deepEqual(seqsOf(r.after(6, 10)), [7, 8, 9, 10], 'the oldest held');
    assert.equal(r.after(5, 10), null, 'seq 6 is gone');
    assert.deepEqual(seqsOf(r.after(10, 10)), [], 'nothing missed');
  });

  it("answers null when it is not up to the room's last seq, or `since` is past it", () => {
    const r = new RecentMessages(4, 1000);
    assert.equal(r.after(0, 3), null, 'empty');
    assert.deepEqual(seqsOf(r.after(3, 3)), [], 'empty, nothing missed');
    for (let s = 1; s <= 3; s++) r.add(push(s));
    assert.equal(r.after(1, 4), null, 'the room is ahead of what is held');
    assert.equal(r.after(5, 3), null, 'a client claiming more than there is');
  });

  it('starts again after a jump in seqs (a gap given up on), never answering across it', () => {
    const r = new RecentMessages(8, 1000);
    for (let s = 1; s <= 5; s++) r.add(push(s));
    r.add(push(9));
    r.add(push(10));
    assert.deepEqual(seqsOf(r.after(8, 10)), [9, 10]);
    assert.equal(r.after(4, 10), null, '5..8 are not all held');
  });

  it('keeps at most its budget of body characters, dropping the oldest; a body that is not text, or larger than the budget, starts it again', () => {
    const r = new RecentMessages(8, 10);
    const text = (seq: number, body: string): MessagePush => ({ ...push(seq), body });
    r.add(text(1, 'aaaa'));
    r.add(text(2, 'bbbb'));
    r.add(text(3, 'cccc'));
    assert.deepEqual(seqsOf(r.after(1, 3)), [2, 3], '12 characters > 10: the oldest went');
    assert.equal(r.after(0, 3), null);
    r.add({ ...push(4), contentType: 'json', body: { a: 1 } });
    assert.equal(r.after(3, 4), null, 'a JSON body is not kept, nor anything before it');
    r.add(text(5, 'dd'));
    assert.deepEqual(seqsOf(r.after(4, 5)), [5]);
    r.add(text(6, 'x'.repeat(11)));
    assert.equal(r.after(5, 6), null, 'larger than the whole budget');
    r.add(text(7, 'e'));
    assert.deepEqual(seqsOf(r.after(6, 7)), [7]);
  });
});
