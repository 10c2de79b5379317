import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { exportSPKI, generateKeyPair, SignJWT, type JWTPayload } from 'jose';
import { Authenticator, isLoopback, resolveDevMode, type AuthResult, type Identity } from '../../src/auth/authenticator.js';
import { configSchema, type Config } from '../../src/config/schema.js';
import { CloseCode } from '../../src/protocol/codes.js';

type PrivateKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

const SECRET = 'test-secret-at-least-16-chars';
const key = (s: string) => new TextEncoder().encode(s);
const nowSec = () => Math.floor(Date.now() / 1000);

/** The auth section of a config built from partial input (defaults filled in by the schema). */
function authConfig(auth: Record<string, unknown> = {}): Config['auth'] {
  return configSchema.parse({ auth }).auth;
}

async function hsToken(claims: JWTPayload, opts: { secret?: string; alg?: string } = {}): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: opts.alg ?? 'HS256' }).sign(key(opts.secret ?? SECRET));
}

function identity(r: AuthResult): Identity {
  assert.ok(r.ok, `expected success, got ${JSON.stringify(r)}`);
  return r.identity;
}

function refused(r: AuthResult, code: number, reason?: RegExp): void {
  assert.equal(r.ok, false, 'expected a refusal');
  assert.equal(!r.ok && r.code, code, JSON.stringify(r));
  assert.ok(!r.ok && r.reason.length > 0);
  if (reason) assert.match(!r.ok ? r.reason : '', reason);
}

describe('Authenticator with an HS256 secret', () => {
  const auth = new Authenticator(authConfig({ jwt: { secret: SECRET } }), false);

  it('accepts tokens', () => {
    assert.equal(auth.acceptsTokens, true);
  });

  it('a valid token gives the user, grants from the rooms claim, and the expiry', async () => {
    const exp = nowSec() + 3600;
    const id = identity(await auth.verifyToken(await hsToken({ sub: 'alice', exp, rooms: ['private:team', 'private:ops-*'] })));
    assert.deepEqual(id, { user: 'alice', grants: ['private:team', 'private:ops-*'], expiresAt: exp * 1000, via: 'token' });
  });

  it('a token without exp never expires; without rooms grants nothing', async () => {
    assert.deepEqual(identity(await auth.verifyToken(await hsToken({ sub: 'bob' }))), { user: 'bob', grants: [], expiresAt: null, via: 'token' });
  });

  it('with auth.jwt.requireExp, a token without exp is refused with 4001', async () => {
    const strict = new Authenticator(authConfig({ jwt: { secret: SECRET, requireExp: true } }), false);
    refused(await strict.verifyToken(await hsToken({ sub: 'bob' })), CloseCode.Unauthorized, /^invalid token: no "exp" claim$/);
    identity(await strict.verifyToken(await hsToken({ sub: 'bob', exp: nowSec() + 60 })));
  });

  it('keeps only string grants from the rooms claim', async () => {
    const id = identity(await auth.verifyToken(await hsToken({ sub: 'bob', rooms: ['ok', 5, null, { a: 1 }, 'also'] })));
    assert.deepEqual(id.grants, ['ok', 'also']);
    const notArray = identity(await auth.verifyToken(await hsToken({ sub: 'bob', rooms: 'private:team' })));
    assert.deepEqual(notArray.grants, []);
  });

  it('accepts HS384 and HS512 with the same secret', async () => {
    for (const alg of ['HS384', 'HS512']) assert.equal(identity(await auth.verifyToken(await hsToken({ sub: 'c' }, { alg }))).user, 'c');
  });

  it('an expired token is refused with 4002', async () => {
    refused(await auth.verifyToken(await hsToken({ sub: 'alice', exp: nowSec() - 60 })), CloseCode.TokenExpired, /^token expired$/);
  });

  it('a token signed with another secret is refused with 4001', async () => {
    refused(await auth.verifyToken(await hsToken({ sub: 'alice' }, { secret: 'another-secret-of-16+chars' })), CloseCode.Unauthorized, /^invalid token: bad signature/);
  });

  it('garbage is refused with 4001', async () => {
    for (const t of ['garbage', 'a.b.c', '', 'x'.repeat(5000)]) refused(await auth.verifyToken(t), CloseCode.Unauthorized, /^invalid token: not a signed JWT$/);
    refused(await auth.verifyToken('eyJhbGciOiJIUzI1NiJ9..'), CloseCode.Unauthorized, /^invalid token: /);
  });

  it('an unsigned (alg none) token is refused with 4001', async () => {
    const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
    refused(await auth.verifyToken(`${b64({ alg: 'none' })}.${b64({ sub: 'alice' })}.`), CloseCode.Unauthorized, /^invalid token: algorithm not allowed/);
  });

  it('a token without sub is refused with 4001', async () => {
    refused(await auth.verifyToken(await hsToken({ name: 'alice', exp: nowSec() + 60 })), CloseCode.Unauthorized, /^invalid token: no "sub" claim$/);
  });

  it('a sub that is not a valid user id is refused with 4001', async () => {
    for (const sub of ['has space', 'x'.repeat(129), 'ctl\u0001'])
      refused(await auth.verifyToken(await hsToken({ sub })), CloseCode.Unauthorized, /^invalid token: "sub" claim is not a user id/);
  });

  it('a token not yet valid (nbf in the future) is refused', async () => {
    refused(await auth.verifyToken(await hsToken({ sub: 'alice', nbf: nowSec() + 3600 })), CloseCode.Unauthorized, /^invalid token: not valid yet \("nbf"/);
  });

  it('a reason names the failed check, never a value from the token', async () => {
    const r = await auth.verifyToken(await hsToken({ sub: 'alice', exp: 'tomorrow' as unknown as number }));
    refused(r, CloseCode.Unauthorized, /^invalid token: "exp" claim is not a number$/);
    assert.ok(!r.ok && !r.reason.includes('tomorrow'));
  });

  it('reads grants from a configured claim name', async () => {
    const custom = new Authenticator(authConfig({ jwt: { secret: SECRET, roomsClaim: 'https://example.com/rooms' } }), false);
    const id = identity(await custom.verifyToken(await hsToken({ sub: 'a', rooms: ['wrong'], 'https://example.com/rooms': ['right'] })));
    assert.deepEqual(id.grants, ['right']);
  });

  it('restricts algorithms when configured', async () => {
    const only512 = new Authenticator(authConfig({ jwt: { secret: SECRET, algorithms: ['HS512'] } }), false);
    refused(await only512.verifyToken(await hsToken({ sub: 'a' })), CloseCode.Unauthorized, /^invalid token: algorithm not allowed \(auth\.jwt\.algorithms\)$/);
    assert.ok((await only512.verifyToken(await hsToken({ sub: 'a' }, { alg: 'HS512' }))).ok);
  });
});

describe('Authenticator issuer and audience', () => {
  const auth = new Authenticator(authConfig({ jwt: { secret: SECRET, issuer: 'https://app.example', audience: 'switchboard' } }), false);

  it('accepts a token with the configured iss and aud', async () => {
    const t = await hsToken({ sub: 'alice', iss: 'https://app.example', aud: 'switchboard' });
    assert.equal(identity(await auth.verifyToken(t)).user, 'alice');
    const multi = await hsToken({ sub: 'alice', iss: 'https://app.example', aud: ['other', 'switchboard'] });
    assert.ok((await auth.verifyToken(multi)).ok, 'aud may be an array containing ours');
  });

  it('refuses a wrong or missing issuer or audience with 4001, saying which', async () => {
    const cases: [JWTPayload, RegExp][] = [
      [{ sub: 'a', iss: 'https://evil.example', aud: 'switchboard' }, /^invalid token: "iss" claim is not auth\.jwt\.issuer$/],
      [{ sub: 'a', aud: 'switchboard' }, /^invalid token: no "iss" claim$/],
      [{ sub: 'a', iss: 'https://app.example', aud: 'other' }, /^invalid token: "aud" claim does not name auth\.jwt\.audience$/],
      [{ sub: 'a', iss: 'https://app.example' }, /^invalid token: no "aud" claim$/],
    ];
    for (const [c, reason] of cases) {
      const r = await auth.verifyToken(await hsToken(c));
      refused(r, CloseCode.Unauthorized, reason);
      assert.ok(!r.ok && !r.reason.includes('evil'), 'the token\'s own values are not repeated');
    }
  });

  it('does not check iss/aud when not configured', async () => {
    const plain = new Authenticator(authConfig({ jwt: { secret: SECRET } }), false);
    assert.ok((await plain.verifyToken(await hsToken({ sub: 'a', iss: 'anyone', aud: 'anything' }))).ok);
  });
});

describe('Authenticator with an ES256 public key', () => {
  let pem = '';
  let privateKey: PrivateKey;
  let otherPrivate: PrivateKey;
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-auth-'));

  before(async () => {
    const pair = await generateKeyPair('ES256');
    privateKey = pair.privateKey;
    pem = await exportSPKI(pair.publicKey);
    otherPrivate = (await generateKeyPair('ES256')).privateKey;
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const esToken = (claims: JWTPayload, k: PrivateKey = privateKey) => new SignJWT(claims).setProtectedHeader({ alg: 'ES256' }).sign(k);

  it('verifies tokens signed by the private half (key given inline as PEM)', async () => {
    const auth = new Authenticator(authConfig({ jwt: { publicKey: pem } }), false);
    assert.equal(auth.acceptsTokens, true);
    const exp = nowSec() + 600;
    assert.deepEqual(identity(await auth.verifyToken(await esToken({ sub: 'alice', exp, rooms: ['private:x'] }))), {
      user: 'alice',
      grants: ['private:x'],
      expiresAt: exp * 1000,
      via: 'token',
    });
  });

  it('reads the key from a PEM file path', async () => {
    const path = join(dir, 'key.pem');
    writeFileSync(path, pem);
    const auth = new Authenticator(authConfig({ jwt: { publicKey: path } }), false);
    assert.equal(identity(await auth.verifyToken(await esToken({ sub: 'bob' }))).user, 'bob');
  });

  it('refuses a token signed by another key, an HS256 token, and an expired one', async () => {
    const auth = new Authenticator(authConfig({ jwt: { publicKey: pem } }), false);
    refused(await auth.verifyToken(await esToken({ sub: 'alice' }, otherPrivate)), CloseCode.Unauthorized, /^invalid token: bad signature/);
    // Algorithm confusion: an HMAC token "signed" with the PEM text must not pass.
    refused(await auth.verifyToken(await hsToken({ sub: 'alice' }, { secret: pem })), CloseCode.Unauthorized, /^invalid token: algorithm does not fit the server's key$/);
    refused(await auth.verifyToken(await esToken({ sub: 'alice', exp: nowSec() - 10 })), CloseCode.TokenExpired);
  });
});

describe('Authenticator without keys', () => {
  it('refuses every token with 4001', async () => {
    const auth = new Authenticator(authConfig(), true);
    assert.equal(auth.acceptsTokens, false);
    refused(await auth.verifyToken(await hsToken({ sub: 'alice' })), CloseCode.Unauthorized);
  });
});

describe('devIdentity', () => {
  it('is refused with 4001 when dev mode is off', () => {
    const auth = new Authenticator(authConfig({ jwt: { secret: SECRET } }), false);
    assert.equal(auth.devMode, false);
    refused(auth.devIdentity('alice'), CloseCode.Unauthorized);
  });

  it('accepts valid names in dev mode, with no grants and no expiry', () => {
    const auth = new Authenticator(authConfig(), true);
    for (const name of ['alice', 'Bob_2', 'a.b-c', 'me@example.com', 'x'.repeat(64)])
      assert.deepEqual(identity(auth.devIdentity(name)), { user: name, grants: [], expiresAt: null, via: 'dev' });
  });

  it('refuses invalid names with 4001', () => {
    const auth = new Authenticator(authConfig(), true);
    for (const name of ['', 'x'.repeat(65), 'has space', 'slash/x', 'émile', 'a\nb', 'star*', 'a:b']) refused(auth.devIdentity(name), CloseCode.Unauthorized);
  });
});

describe('resolveDevMode', () => {
  const withSecret = { jwt: { secret: SECRET } };

  it('defaults to on for loopback hosts without keys', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', '::1', 'localhost']) assert.deepEqual(resolveDevMode(authConfig(), host), { dev: true }, host);
  });

  it('defaults to off when a key is configured', () => {
    assert.deepEqual(resolveDevMode(authConfig(withSecret), '127.0.0.1'), { dev: false });
    assert.deepEqual(resolveDevMode(authConfig({ jwt: { publicKey: '-----BEGIN PUBLIC KEY-----' } }), '127.0.0.1'), { dev: false });
    assert.deepEqual(resolveDevMode(authConfig(withSecret), '0.0.0.0'), { dev: false });
  });

  it('explicit dev=true with a key keeps both', () => {
    assert.deepEqual(resolveDevMode(authConfig({ ...withSecret, dev: true }), '127.0.0.1'), { dev: true });
  });

  it('a non-loopback host needs allowDevOnPublicHost for dev mode', () => {
    const refusedDev = resolveDevMode(authConfig({ dev: true }), '0.0.0.0');
    assert.equal(refusedDev.dev, true);
    assert.match(refusedDev.error ?? '', /allowDevOnPublicHost/);
    assert.match(resolveDevMode(authConfig({ ...withSecret, dev: true }), '192.168.1.5').error ?? '', /allowDevOnPublicHost/);
    assert.deepEqual(resolveDevMode(authConfig({ dev: true, allowDevOnPublicHost: true }), '0.0.0.0'), { dev: true });
  });

  it('dev is not on by default on a non-loopback host, even when allowed', () => {
    const r = resolveDevMode(authConfig({ allowDevOnPublicHost: true }), '0.0.0.0');
    assert.equal(r.dev, false);
    assert.match(r.error ?? '', /no way to authenticate/);
  });

  it('no method at all is an error', () => {
    const r = resolveDevMode(authConfig({ dev: false }), '127.0.0.1');
    assert.equal(r.dev, false);
    assert.match(r.error ?? '', /auth\.jwt\.secret/);
    assert.match(resolveDevMode(authConfig(), '0.0.0.0').error ?? '', /no way to authenticate/);
  });

  it('isLoopback', () => {
    for (const h of ['127.0.0.1', '127.255.255.254', '::1', 'localhost']) assert.equal(isLoopback(h), true, h);
    for (const h of ['0.0.0.0', '::', '10.0.0.1', '192.168.0.1', 'example.com', '128.0.0.1', 'localhost.evil.com', '127.0.0.1.nip.io'])
      assert.equal(isLoopback(h), false, h);
  });
});
