// test-encodings: json proto lean
/** Identifying a connection with tokens (URL, header, `auth` message), and the close codes for each failure. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { closeAllClients, connect, connectToken, type Msg } from '../helpers/client.js';
import { epochSeconds, expAtLeast, makeToken, TEST_SECRET } from '../helpers/jwt.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { serverFor } from '../helpers/shared-server.js';

const AUTH_TIMEOUT = 300;

describe('token auth (dev off)', { concurrency: true }, () => {
  let srv: TestServer;
  before(async () => {
    srv = await startServer([
      '--auth.jwt.secret',
      TEST_SECRET,
      '--auth.dev',
      'false',
      '--auth.timeoutMs',
      String(AUTH_TIMEOUT),
      '--heartbeat.intervalMs',
      '200',
      '--heartbeat.timeoutMs',
      '200',
    ]);
  });
  after(async () => {
    closeAllClients();
    await srv?.stop();
  });

  it('accepts a token in the URL and in the Authorization header', async () => {
    const a = await connectToken(srv.wsUrl, await makeToken('alice', { exp: epochSeconds(3600) }));
    assert.equal(a.messages[0]!.user, 'alice');
    const b = await connect(srv.wsUrl, { headers: { Authorization: `Bearer ${await makeToken('bob')}` } });
    const connected = await b.waitFor('connected');
    assert.equal(connected.user, 'bob');
    await Promise.all([a.close(), b.close()]);
  });

  it('closes with 4001 for a bad token and creates no session', async () => {
    const bad = [
      'not-a-jwt',
      await makeToken('alice', { secret: 'another-secret-0123456789-abcdef' }),
      // no sub claim
      await makeToken(null),
      // a sub that is not a valid user id
      await makeToken('has space'),
      // signed with an algorithm the server does not accept for a shared secret
      'eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9.',
    ];
    for (const token of bad) {
      const c = await connect(`${srv.wsUrl}?token=${encodeURIComponent(token)}`);
      const closed = await c.waitClosed();
      assert.equal(closed.code, 4001, `token ${token.slice(0, 20)}…`);
      assert.equal(c.all('connected').length, 0);
    }
    // A header with a bad token too.
    const h = await connect(srv.wsUrl, { headers: { Authorization: 'Bearer garbage' } });
    assert.equal((await h.waitClosed()).code, 4001);
  });

  it('logs each refused connection with its address and code, and not the token', async () => {
    const from = srv.logs().length;
    const token = await makeToken('mallory', { secret: 'another-secret-0123456789-abcdef' });
    const c = await connect(`${srv.wsUrl}?token=${token}`, { headers: { 'X-Forwarded-For': '203.0.113.7' } });
    assert.equal((await c.waitClosed()).code, 4001);
    const line = await srv.waitForLog((l) => l.msg === 'connection refused' && l.forwardedFor === '203.0.113.7', { from });
    assert.equal(line.code, 4001);
    assert.match(String(line.reason), /^invalid token: bad signature/, 'the reason says which check failed');
    assert.match(String(line.remote), /127\.0\.0\.1/);
    assert.ok(!JSON.stringify(srv.logs().slice(from)).includes(token.split('.')[2]!), 'the token is not logged');
  });

  it('closes with 4001 for a dev name when dev auth is off', async () => {
    const c = await connect(`${srv.wsUrl}?user=alice`);
    assert.equal((await c.waitClosed()).code, 4001);
    assert.equal(c.all('connected').length, 0);
  });

  it('closes with 4002 for an expired token', async () => {
    const token = await makeToken('alice', { exp: epochSeconds(-60) });
    const c = await connect(`${srv.wsUrl}?token=${encodeURIComponent(token)}`);
    assert.equal((await c.waitClosed()).code, 4002);
    assert.equal(c.all('connected').length, 0);
  });

  it('closes with 4009 when no credentials and no auth message arrive in auth.timeoutMs', async () => {
    const t0 = Date.now();
    const c = await connect(srv.wsUrl);
    const closed = await c.waitClosed(AUTH_TIMEOUT + 2_000);
    assert.equal(closed.code, 4009);
    // The server's timers are coarse (a timer wheel): allow it to fire a little early.
    assert.ok(Date.now() - t0 >= AUTH_TIMEOUT * 0.75, `closed after ${Date.now() - t0} ms`);
    assert.equal(c.all('connected').length, 0);
  });

  it('pings do not count as identifying: still 4009', async () => {
    const c = await connect(srv.wsUrl);
    await c.barrier();
    const closed = await c.waitClosed(AUTH_TIMEOUT + 2_000);
    assert.equal(closed.code, 4009);
  });

  it('identifies with a first `auth` message: only ping is answered before it', async () => {
    const c = await connect(srv.wsUrl);
    const r = await c.request({ type: 'join', room: 'general' });
    assert.equal(r.type, 'error');
    assert.equal(r.code, 'not_authenticated');
    assert.equal((await c.request({ type: 'publish', room: 'general', body: 'x' })).code, 'not_authenticated');
    await c.barrier(); // ping works unauthenticated
    assert.equal(c.all('connected').length, 0);

    const reply = await c.request({ type: 'auth', token: await makeToken('carol', { rooms: ['private:a'] }) });
    assert.equal(reply.type, 'reply', JSON.stringify(reply));
    const data = reply.data as { session: string; user: string };
    assert.equal(data.user, 'carol');
    const types = c.messages.map((m) => m.type);
    const iConnected = types.indexOf('connected');
    const iNotice = types.indexOf('notice');
    const iReply = c.messages.indexOf(reply);
    assert.ok(iConnected >= 0 && iConnected < iNotice && iNotice < iReply, `order: ${types.join(',')}`);
    const connected = c.messages[iConnected] as Msg;
    assert.equal(connected.user, 'carol');
    assert.equal(connected.session, data.session);

    // Now a session: commands work, grants from the token apply.
    assert.deepEqual(await c.call({ type: 'join', room: 'private:a' }), { room: 'private:a', kind: 'private', durable: true, seq: 0 });
    assert.equal((await c.request({ type: 'join', room: 'private:b' })).code, 'forbidden');

    // Refresh with a new token for the same user: new grants, new expiry.
    const exp = epochSeconds(3600);
    const refreshed = await c.call<{ expiresAt: number | null }>({ type: 'auth', token: await makeToken('carol', { rooms: ['private:b'], exp }) });
    assert.deepEqual(refreshed, { expiresAt: exp * 1000 });
    assert.deepEqual(await c.call({ type: 'join', room: 'private:b' }), { room: 'private:b', kind: 'private', durable: true, seq: 0 });
    // A token without exp: no expiry.
    assert.deepEqual(await c.call({ type: 'auth', token: await makeToken('carol') }), { expiresAt: null });

    // A token for another user, or a bad one: invalid_token, and the session stays.
    assert.equal((await c.request({ type: 'auth', token: await makeToken('mallory') })).code, 'invalid_token');
    assert.equal((await c.request({ type: 'auth', token: 'garbage' })).code, 'invalid_token');
    await c.barrier();
    assert.equal(c.all('connected').length, 1, 'no second connected push');
    assert.ok(c.isOpen);
    await c.close();
  });

  it('commands sent right behind the auth message wait for it: auth, join and publish in one go', async () => {
    const c = await connect(srv.wsUrl);
    c.sendBatch([
      { type: 'auth', id: 1, token: await makeToken('erin', { rooms: ['private:e'] }) },
      { type: 'join', id: 2, room: 'private:e' },
    ]);
    c.send({ type: 'publish', id: 3, room: 'private:e', body: 'hello' });
    assert.equal((await c.waitFor((m) => m.id === 1)).type, 'reply');
    assert.deepEqual((await c.waitFor((m) => m.id === 2)).data, { room: 'private:e', kind: 'private', durable: true, seq: 0 });
    assert.equal(((await c.waitFor((m) => m.id === 3)).data as { seq: number }).seq, 1);
    assert.equal((await c.waitFor((m) => m.type === 'message')).body, 'hello');
    // A refresh that grants a room: the join sent behind it sees the new grant.
    c.sendBatch([
      { type: 'auth', id: 4, token: await makeToken('erin', { rooms: ['private:f'] }) },
      { type: 'join', id: 5, room: 'private:f' },
    ]);
    assert.equal((await c.waitFor((m) => m.id === 5)).type, 'reply');
    await c.close();
  });

  it('closes with 4001 / 4002 when the first auth message carries a bad / expired token', async () => {
    const bad = await connect(srv.wsUrl);
    bad.send({ type: 'auth', id: 1, token: 'garbage' });
    assert.equal((await bad.waitClosed()).code, 4001);
    assert.equal(bad.all('connected').length, 0);

    const expired = await connect(srv.wsUrl);
    expired.send({ type: 'auth', id: 1, token: await makeToken('alice', { exp: epochSeconds(-60) }) });
    assert.equal((await expired.waitClosed()).code, 4002);
  });

  it('keeps a session whose token was refreshed before it expired', async () => {
    // Expires in 1-2 s (exp has one-second resolution).
    const oldExp = expAtLeast(1_000);
    const c = await connectToken(srv.wsUrl, await makeToken('dave', { exp: oldExp }));
    await c.call({ type: 'auth', token: await makeToken('dave', { exp: epochSeconds(3600) }) });
    // Wait, by heartbeat pings, until well past the old expiry.
    const pastOld = oldExp * 1000 + 500;
    while (Date.now() < pastOld) await c.waitForPings(c.pings + 1, 2_000);
    await c.barrier();
    assert.ok(c.isOpen, `closed with ${c.closeInfo?.code}`);
    await c.close();
  });

  it('closes a session with 4002 once its token expires', async () => {
    const exp = expAtLeast(500);
    const c = await connectToken(srv.wsUrl, await makeToken('erin', { exp }));
    const closed = await c.waitClosed(exp * 1000 - Date.now() + 2_000);
    assert.equal(closed.code, 4002);
    assert.ok(Date.now() >= exp * 1000 - 50, 'not before exp');
  });
});

describe('a required issuer (auth.jwt.issuer), as in the README', () => {
  const server = serverFor(['--auth.jwt.secret', TEST_SECRET, '--auth.jwt.issuer', 'my-app']);
  after(closeAllClients);

  it('refuses a token without iss, or with another, with 4001, and the log line says the iss claim failed', async () => {
    const cases: [string, Record<string, unknown>, RegExp][] = [
      ['no-iss', {}, /no "iss" claim/],
      ['wrong-iss', { iss: 'someone-else' }, /"iss" claim is not auth\.jwt\.issuer/],
    ];
    for (const [who, claims, reason] of cases) {
      const from = server().logs().length;
      const token = await makeToken(who, { claims });
      const c = await connect(`${server().wsUrl}?token=${token}`);
      const closed = await c.waitClosed();
      assert.equal(closed.code, 4001);
      assert.match(closed.reason, reason, 'the client is told too');
      const line = await server().waitForLog((l) => l.msg === 'connection refused' && typeof l.reason === 'string' && reason.test(l.reason), { from });
      assert.equal(line.level, 30, 'at info');
      assert.equal(line.code, 4001);
      assert.ok(!JSON.stringify(server().logs().slice(from)).includes(token.split('.')[2]!), 'the token is not logged');
      assert.ok(!JSON.stringify(server().logs().slice(from)).includes('someone-else'), 'nor a value from it');
    }
  });

  it('accepts the README\'s token, which carries iss', async () => {
    const c = await connectToken(server().wsUrl, await makeToken('alice', { claims: { iss: 'my-app' }, exp: epochSeconds(3600) }));
    assert.equal(c.messages[0]!.user, 'alice');
    await c.close();
  });
});

describe('token expiry with the default heartbeat', () => {
  const server = serverFor(['--auth.jwt.secret', TEST_SECRET]);

  it('closes a session with 4002 soon after its token expires, not at the next heartbeat', async () => {
    const exp = expAtLeast(500);
    const c = await connectToken(server().wsUrl, await makeToken('frank', { exp }));
    // Generous slack, far below the 25 s heartbeat interval.
    const closed = await c.waitClosed(exp * 1000 - Date.now() + 2_000);
    assert.equal(closed.code, 4002);
  });
});

describe('connections waiting to identify', () => {
  const server = serverFor(['--auth.jwt.secret', TEST_SECRET, '--auth.timeoutMs', '60000', '--limits.maxUnidentified', '3']);
  after(closeAllClients);

  it('are limited by limits.maxUnidentified (1013), so that they cannot take the places of users who identify', async () => {
    const waiting = await Promise.all([1, 2, 3].map(() => connect(server().wsUrl)));
    for (const c of waiting) await c.barrier();
    const refused = await connect(server().wsUrl);
    assert.equal((await refused.waitClosed()).code, 1013);
    const warned = await server().waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('connections refused (1013)'));
    assert.equal(warned.level, 40);
    // A user with a token still gets in.
    const alice = await connectToken(server().wsUrl, await makeToken('alice'));
    assert.equal(alice.all('connected').length, 1);
    // One that identifies, and one that leaves, each make room for another to wait.
    await waiting[0]!.call({ type: 'auth', token: await makeToken('bob') });
    await waiting[1]!.close();
    const next = await Promise.all([connect(server().wsUrl), connect(server().wsUrl)]);
    for (const c of next) {
      await c.barrier();
      assert.ok(c.isOpen);
    }
  });
});

describe('the auth timeout, with the default heartbeat', () => {
  const server = serverFor(['--auth.jwt.secret', TEST_SECRET, '--auth.timeoutMs', '800']);
  after(closeAllClients);

  it('closes with 4009 close to auth.timeoutMs, not at the heartbeat timer resolution (up to 2 s late before)', async () => {
    const t0 = Date.now();
    const c = await connect(server().wsUrl);
    assert.equal((await c.waitClosed(3_000)).code, 4009);
    const elapsed = Date.now() - t0;
    assert.ok(elapsed >= 600 && elapsed < 1_400, `closed after ${elapsed} ms`);
  });
});
