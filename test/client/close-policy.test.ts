/** Which close codes reconnect (docs/protocol.md §7). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { closeDecision, MAX_AUTH_RETRIES } from '../../client/src/connection/close-policy.js';

const plain = { canGetToken: false, authFailures: 0 };
const refreshable = { canGetToken: true, authFailures: 0 };

describe('client close policy', () => {
  it('never reconnects after 1003, 1009, 4003, 4007', () => {
    for (const code of [1003, 1009, 4003, 4007]) {
      assert.deepEqual(closeDecision(code, plain), { reconnect: false, kind: 'fatal' }, String(code));
      assert.deepEqual(closeDecision(code, refreshable), { reconnect: false, kind: 'fatal' }, String(code));
    }
  });

  it('4001 and 4002 stop without getToken, and reconnect with a new token with it', () => {
    for (const code of [4001, 4002]) {
      assert.deepEqual(closeDecision(code, plain), { reconnect: false, kind: 'auth' });
      assert.deepEqual(closeDecision(code, refreshable), { reconnect: true, minDelayMs: 0, newToken: true });
      assert.deepEqual(closeDecision(code, { canGetToken: true, authFailures: MAX_AUTH_RETRIES }), { reconnect: false, kind: 'auth' }, 'a getToken that keeps failing');
    }
  });

  it('reconnects after everything else, pausing after flood and server-full', () => {
    for (const code of [1000, 1001, 1006, 1011, 4004, 4005, 4009])
      assert.deepEqual(closeDecision(code, plain), { reconnect: true, minDelayMs: 0, newToken: false }, String(code));
    const flood = closeDecision(4006, plain);
    assert.ok(flood.reconnect && flood.minDelayMs >= 1_000);
    const full = closeDecision(1013, plain);
    assert.ok(full.reconnect && full.minDelayMs >= 1_000);
  });
});
