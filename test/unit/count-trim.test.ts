import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planCountTrim, type CountCandidate } from '../../src/store/count-trim.js';

const c = (conv: string, lastSeq: number, oldest: number | null): CountCandidate => ({ conv, lastSeq, oldest });

describe('planCountTrim', () => {
  it('trims each conversation to its last messages and goes on after the page', () => {
    const plan = planCountTrim([c('a', 10, 1), c('b', 2, 1), c('c', 7, 5)], 3, 3, { after: '' });
    assert.deepEqual(
      plan,
      { convs: ['a'], upTo: [3], next: { after: '', within: { conv: 'a', upTo: 7 } } },
      'a has 7 to lose and the budget is 3: the next step starts at a again, with the same cut',
    );
    const wide = planCountTrim([c('a', 10, 4), c('b', 2, 1), c('c', 7, 2)], 3, 10, { after: '' });
    assert.deepEqual(wide, { convs: ['a', 'c'], upTo: [7, 4], next: null }, 'a page shorter than the limit is the last one');
  });

  it('never plans more than the limit in all', () => {
    const page = [c('a', 5, 1), c('b', 5, 1), c('c', 5, 1)];
    const plan = planCountTrim(page, 2, 3, { after: 'x' });
    assert.deepEqual(plan, { convs: ['a'], upTo: [3], next: { after: 'a' } }, 'a loses exactly the budget; b waits for the next step, which starts after a');
  });

  it('passes over conversations with nothing to lose, also when they have no messages left', () => {
    const plan = planCountTrim([c('a', 3, 1), c('b', 9, null), c('c', 9, 7)], 3, 3, { after: '' });
    assert.deepEqual(plan, { convs: [], upTo: [], next: { after: 'c' } });
  });

  it('keeps the cut of its first visit for a conversation that grows while it is trimmed, so the pass ends', () => {
    const within = { conv: 'a', upTo: 7 };
    const second = planCountTrim([c('a', 20, 4)], 3, 2, { after: '', within });
    assert.deepEqual(second, { convs: ['a'], upTo: [5], next: { after: '', within } }, 'by its own last seq a would now lose up to 17');
    const third = planCountTrim([c('a', 30, 6)], 3, 2, { after: '', within });
    assert.deepEqual(third, { convs: ['a'], upTo: [7], next: null });
  });
});
