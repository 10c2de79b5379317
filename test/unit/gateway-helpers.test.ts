import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { welcomeText } from '../../src/transport/gateway.js';
import { queryOf } from '../../src/transport/request-target.js';

describe('queryOf (a handshake’s query)', () => {
  it('reads what new URL(target, base).searchParams reads', () => {
    const targets = [
      '/ws',
      '/ws?',
      '/ws?user=ann',
      '/ws?user=ann&resume=1',
      '/ws?token=a.b.c&user=x',
      '/ws?user=%C3%BCn%C3%AF&x=a+b',
      '/ws?user=ann#frag',
      '/ws#frag?user=ann',
      '/ws?user=a%2',
      '/ws?user=a?b=c',
      '/ws?=1&&user&user=second',
      '/path/ws?q=%20%2B+',
      "/ws?user=it's",
      '/ws?user=ünï',
    ];
    for (const t of targets) {
      const expected = [...new URL(t, 'http://localhost').searchParams];
      assert.deepEqual([...queryOf(t)], expected, t);
    }
    assert.deepEqual([...queryOf(undefined)], []);
  });
});

describe('welcomeText', () => {
  it('puts the user id in place of every {user}, as it is', () => {
    assert.equal(welcomeText('Welcome to Switchboard, {user}!')('alice'), 'Welcome to Switchboard, alice!');
    assert.equal(welcomeText('Hi {user}, this is {user}’s server')('bob'), 'Hi bob, this is bob’s server');
    assert.equal(welcomeText('{user}')('carol'), 'carol');
    assert.equal(welcomeText('No name here')('dave'), 'No name here');
    // An id is not read as a replacement pattern ($& would put "{user}" back).
    assert.equal(welcomeText('Hello {user}!')('a$&b$$c'), 'Hello a$&b$$c!');
  });
});
