// test-encodings: json proto lean
/**
 * An `auth` message whose token is longer than the cap (8192 characters) is refused like a bad token: a connection
 * without credentials is closed with 4001 at once (it used to get `invalid_request` and wait for the 4009 of
 * auth.timeoutMs), and a refresh on an open session gets `invalid_token` and keeps the session.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connect, connectToken } from '../helpers/client.js';
import { makeToken, TEST_SECRET } from '../helpers/jwt.js';
import { serverFor } from '../helpers/shared-server.js';

const CAP = 8192;
/** Long enough that a close by the auth timeout cannot be mistaken for one at once. */
const AUTH_TIMEOUT = 10_000;

/** A token signed with the server's secret, padded in a claim to the first length at least `length` it can have. */
async function tokenOfLength(sub: string, length: number): Promise<string> {
  const base = await makeToken(sub, { claims: { pad: '' } });
  // Each 3 bytes of padding are 4 base64url characters of the payload: find the padding that gives `length`.
  for (let pad = Math.floor(((length - base.length) * 3) / 4) - 4; ; pad++) {
    const t = await makeToken(sub, { claims: { pad: 'x'.repeat(Math.max(0, pad)) } });
    if (t.length >= length) return t;
  }
}

describe('auth: a token over the cap', () => {
  const server = serverFor(['--auth.jwt.secret', TEST_SECRET, '--auth.dev', 'false', '--auth.timeoutMs', String(AUTH_TIMEOUT)]);

  it('closes a connection without credentials with 4001 at once, without an invalid_request first', async () => {
    const long = await tokenOfLength('alice', CAP + 1);
    assert.ok(long.length > CAP && long.length < CAP + 8, `token of ${long.length} characters`);
    for (const token of [long, 'x'.repeat(CAP + 1), 'x'.repeat(60_000)]) {
      const c = await connect(server().wsUrl);
      const t0 = Date.now();
      c.send({ type: 'auth', id: 1, token });
      const closed = await c.waitClosed(3_000);
      assert.equal(closed.code, 4001, `${token.length} characters: ${JSON.stringify(closed)}`);
      assert.match(closed.reason, /token longer than 8192 characters/);
      assert.ok(Date.now() - t0 < AUTH_TIMEOUT / 2, 'closed at once, not at the auth timeout');
      assert.deepEqual(c.all('error'), [], 'no error reply before the close');
      assert.equal(c.all('connected').length, 0);
    }
  });

  it('accepts a valid token of exactly the cap', async () => {
    const exact = await tokenOfLength('bob', CAP);
    assert.equal(exact.length, CAP);
    const c = await connect(server().wsUrl);
    const reply = await c.request({ type: 'auth', token: exact });
    assert.equal(reply.type, 'reply', JSON.stringify(reply));
    await c.close();
  });

  it('answers a refresh over the cap with invalid_token and keeps the session, as any bad refresh', async () => {
    const c = await connectToken(server().wsUrl, await makeToken('carol'));
    const long = await tokenOfLength('carol', CAP + 1);
    const r = await c.request({ type: 'auth', token: long });
    assert.equal(r.type, 'error');
    assert.equal(r.code, 'invalid_token', JSON.stringify(r));
    assert.match(String(r.message), /token longer than 8192 characters/);
    // Like a refresh with a bad token: the session stays, and a good refresh still works.
    assert.equal((await c.request({ type: 'auth', token: 'garbage' })).code, 'invalid_token');
    await c.barrier();
    assert.ok(c.isOpen, `closed with ${c.closeInfo?.code}`);
    assert.deepEqual(await c.call({ type: 'auth', token: await makeToken('carol') }), { expiresAt: null });
    await c.close();
  });

  it('keeps the order of commands behind an auth: an over-cap refresh sent behind a good one is answered after it', async () => {
    const c = await connect(server().wsUrl);
    c.sendBatch([
      { type: 'auth', id: 1, token: await makeToken('dave') },
      { type: 'auth', id: 2, token: 'x'.repeat(CAP + 1) },
    ]);
    assert.equal((await c.waitFor((m) => m.id === 1)).type, 'reply');
    assert.equal((await c.waitFor((m) => m.id === 2)).code, 'invalid_token');
    await c.barrier();
    assert.ok(c.isOpen);
    await c.close();
  });
});
