/** NatsBroker against a nats-server of the test's own (killed and restarted by the outage test), and its subjects. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { subjectToken } from '../../src/broker/nats-broker.js';
import { brokerContract } from './contract.js';
import { NATS, serverHarness } from './servers.js';

describe('subjectToken', () => {
  it('leaves a plain token as it is', () => {
    for (const c of ['room', 'Room_1', 'a-b', '0', 'X']) assert.equal(subjectToken(c), c);
  });

  it('encodes everything else as one token of x and base64url, never meeting a plain one', () => {
    for (const c of ['', ' ', 'a.b', '*', '>', 'a b', 'ünï', 'x', 'xIA', 'x-y']) {
      const t = subjectToken(c);
      assert.match(t, /^x[A-Za-z0-9_-]*$/, `${JSON.stringify(c)} → ${t}`);
      assert.equal(Buffer.from(t.slice(1), 'base64url').toString('utf8'), c);
    }
    assert.notEqual(subjectToken(' '), subjectToken('xIA'));
    assert.notEqual(subjectToken(''), subjectToken('x'));
  });
});

brokerContract('NatsBroker on a real NATS server', serverHarness(NATS));
