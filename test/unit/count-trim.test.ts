import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planCountTrim, type CountCandidate } from '../../src/store/count-trim.js';

const c = (conv: string, lastSeq: number, oldest: number | null): CountCandidate => ({ conv, lastSeq, oldest });

describe('planCountTrim', () => {
  it('trims each conversation to its last messages and goes on after the page', () => {
    const plan = planCountTrim([c('a', 10, 1), c('b', 2, 1), c('c', 7, 5)], 3, 3, '');
    assert.deepEqual(plan, { convs: ['a'], upTo: [3], next: '' }, 'a has 7 to lose and the budget is 3: the next step starts at a again');
    const wide = planCountTrim([c('a', 10, 4), c('b', 2, 1), c('c', 7, 2)], 3, 10, '');
    assert.deepEqual(wide, { convs: ['a', 'c'], upTo: [7, 4], next: null }, 'a page shorter than the limit is the last one');
  });

  it('never plans more than the limit in all', () => {
    const page = [c('a', 5, 1), c('b', 5, 1), c('c', 5, 1)];
    const plan = planCountTrim(page, 2, 3, 'x');
    assert.deepEqual(plan, { convs: ['a'], upTo: [3], next: 'a' }, 'a loses exactly the budget; b then waits for the next step, which starts after a');
    const removed = plan.upTo.reduce((sum, upTo, i) => sum + upTo - page.find((p) => p.conv === plan.convs[i])!.oldest! + 1, 0);
    assert.equal(removed, 3);
  });

  it('passes over conversations with nothing to lose, also when they have no messages left', () => {
    const plan = planCountTrim([c('a', 3, 1), c('b', 9, null), c('c', 9, 7)], 3, 3, '');
    assert.deepEqual(plan, { convs: [], upTo: [], next: 'c' });
  });
});
