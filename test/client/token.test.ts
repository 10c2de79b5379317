/** Token expiry read from the JWT payload (unverified), and when to refresh. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { base64UrlDecode, refreshDelay, tokenExpiry } from '../../client/src/token.js';
import { makeToken } from '../helpers/jwt.js';

function fakeJwt(payload: unknown): string {
  const enc = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
  return `${enc({ alg: 'HS256' })}.${enc(payload)}.sig`;
}

describe('client token expiry', () => {
  it('reads exp (seconds) from a real signed token, in ms', async () => {
    const token = await makeToken('alice', { exp: 2_000_000_000 });
    assert.equal(tokenExpiry(token), 2_000_000_000_000);
  });

  it('null without exp, for garbage, and for a non-numeric exp', async () => {
    assert.equal(tokenExpiry(await makeToken('alice')), null);
    assert.equal(tokenExpiry('not-a-jwt'), null);
    assert.equal(tokenExpiry('a.b.c'), null);
    assert.equal(tokenExpiry(''), null);
    assert.equal(tokenExpiry(fakeJwt({ exp: '2030' })), null);
    assert.equal(tokenExpiry(fakeJwt([1, 2])), null);
    assert.equal(tokenExpiry(fakeJwt(null)), null);
  });

  it('decodes base64url with - and _ and without padding, and UTF-8', () => {
    const payload = { sub: 'zoë?>>>', exp: 1_700_000_000, n: '~~~' };
    const b64url = Buffer.from(JSON.stringify(payload)).toString('base64url');
    assert.match(b64url, /[-_]/, 'the sample exercises the url-safe alphabet');
    assert.equal(base64UrlDecode(b64url), JSON.stringify(payload));
    assert.equal(tokenExpiry(fakeJwt(payload)), 1_700_000_000_000);
  });

  it('refreshes a margin before expiry; short-lived tokens at 3/4 of their life; never negative', () => {
    const now = 1_000_000;
    assert.equal(refreshDelay(now + 3_600_000, now, 30_000), 3_570_000, 'an hour-long token: 30 s before');
    assert.equal(refreshDelay(now + 20_000, now, 30_000), 15_000, 'lifetime under the margin: at 3/4, not at once');
    assert.equal(refreshDelay(now + 200_000, now, 30_000), 170_000);
    assert.equal(refreshDelay(now + 100_000, now, 0), 100_000, 'no margin: at expiry');
    assert.equal(refreshDelay(now - 5, now, 30_000), 0, 'already expired');
  });
});
