import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UploadBudget } from '../../src/media/upload-budget.js';

describe('UploadBudget', () => {
  it('lets a user upload an hour’s worth, then one file over, then waits for the refill', () => {
    let now = 0;
    const b = new UploadBudget(3_600, () => now); // 1 byte per second
    assert.equal(b.waitMs('ann'), 0);
    b.charge('ann', 3_000);
    assert.equal(b.waitMs('ann'), 0, '600 bytes left');
    b.charge('ann', 1_000); // the last file may go below zero
    assert.equal(b.waitMs('ann'), 401_000, '400 bytes owed, back above zero after 401 s');
    assert.equal(b.waitMs('bob'), 0, 'others are not affected');
    now += 401_000;
    assert.equal(b.waitMs('ann'), 0);
  });

  it('forgets users whose bucket is full again once it tracks many', () => {
    let now = 0;
    const b = new UploadBudget(3_600, () => now);
    const tracked = (): number => (b as unknown as { buckets: Map<string, unknown> }).buckets.size;
    for (let i = 0; i < 1_001; i++) b.charge(`early${i}`, 10);
    assert.equal(tracked(), 1_001, 'all still owe something');
    now += 3_600_000;
    // The map doubles before it is swept again; by then the early users are full and go.
    for (let i = 0; i < 1_001; i++) b.charge(`late${i}`, 10);
    assert.equal(tracked(), 1_001);
  });
});
