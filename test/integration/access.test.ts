// test-encodings: json proto lean
/** Room kinds: private rooms need a token grant; push-only rooms refuse client publishes. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { closeAllClients, connectToken, connectUser } from '../helpers/client.js';
import { makeToken, TEST_SECRET } from '../helpers/jwt.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { serverFor } from '../helpers/shared-server.js';

describe('room access', () => {
  let srv: TestServer;
  before(async () => {
    // Both a JWT secret and dev names, so both kinds of identity can be tested on one server.
    srv = await startServer(['--auth.jwt.secret', TEST_SECRET, '--auth.dev', 'true']);
  });
  after(async () => {
    closeAllClients();
    await srv?.stop();
  });

  it('refuses a private room without a grant', async () => {
    const dev = await connectUser(srv.wsUrl, 'devuser');
    const r = await dev.request({ type: 'join', room: 'private:team' });
    assert.equal(r.type, 'error');
    assert.equal(r.code, 'forbidden');
    const noGrant = await connectToken(srv.wsUrl, await makeToken('tom', { rooms: ['private:other'] }));
    assert.equal((await noGrant.request({ type: 'join', room: 'private:team' })).code, 'forbidden');
    assert.equal((await noGrant.request({ type: 'presence', room: 'private:team' })).code, 'forbidden');
    assert.deepEqual(await noGrant.call({ type: 'rooms' }), { rooms: [] });
    await Promise.all([dev.close(), noGrant.close()]);
  });

  it('allows a private room granted by the token (exact name or prefix*)', async () => {
    const alice = await connectToken(srv.wsUrl, await makeToken('alice', { rooms: ['private:team', 'private:proj-*'] }));
    assert.equal((alice.messages.find((m) => m.type === 'connected') as { user?: string }).user, 'alice');
    assert.deepEqual(await alice.call({ type: 'join', room: 'private:team' }), { room: 'private:team', kind: 'private', durable: true, seq: 0 });
    assert.deepEqual(await alice.call({ type: 'join', room: 'private:proj-42' }), { room: 'private:proj-42', kind: 'private', durable: true, seq: 0 });
    assert.equal((await alice.request({ type: 'join', room: 'private:projX' })).code, 'forbidden');

    const bob = await connectToken(srv.wsUrl, await makeToken('bob', { rooms: ['private:team'] }));
    await bob.call({ type: 'join', room: 'private:team' });
    await alice.call({ type: 'publish', room: 'private:team', body: 'secret plans' });
    const m = await bob.next((x) => x.type === 'message' && x.room === 'private:team');
    assert.equal(m.from, 'alice');
    assert.equal(m.body, 'secret plans');
    const p = await bob.call<{ users: { user: string }[] }>({ type: 'presence', room: 'private:team' });
    assert.deepEqual(p.users.map((u) => u.user).sort(), ['alice', 'bob']);
    await Promise.all([alice.close(), bob.close()]);
  });

  it('lets anyone join a push-only room but not publish to it', async () => {
    const reader = await connectUser(srv.wsUrl, 'reader');
    assert.deepEqual(await reader.call({ type: 'join', room: 'push:news' }), { room: 'push:news', kind: 'push', durable: true, seq: 0 });
    const r = await reader.request({ type: 'publish', room: 'push:news', body: 'fake news' });
    assert.equal(r.type, 'error');
    assert.equal(r.code, 'forbidden');
    assert.deepEqual(await reader.call({ type: 'presence', room: 'push:news' }), { room: 'push:news', users: [{ user: 'reader', sessions: 1 }] });
    await reader.barrier();
    assert.deepEqual(reader.all('message'), [], 'nothing was published');
    await reader.close();
  });

  it('refuses bad room names and too many rooms', async () => {
    const c = await connectUser(srv.wsUrl, 'namer');
    for (const room of ['', 'has space', 'x'.repeat(101), 'emoji-😀']) assert.equal((await c.request({ type: 'join', room })).code, 'invalid_request', room);
    await c.close();
  });
});

describe('rooms per session', () => {
  const server = serverFor(['--auth.dev', 'true', '--limits.roomsPerSession', '2']);

  it('refuses a join beyond limits.roomsPerSession with limit_exceeded', async () => {
    const c = await connectUser(server().wsUrl, 'joiner');
    await c.call({ type: 'join', room: 'a' });
    await c.call({ type: 'join', room: 'b' });
    await c.call({ type: 'join', room: 'b' }); // already in: succeeds, changes nothing
    assert.equal((await c.request({ type: 'join', room: 'c' })).code, 'limit_exceeded');
    await c.call({ type: 'leave', room: 'a' });
    await c.call({ type: 'join', room: 'c' });
    assert.deepEqual(((await c.call<{ rooms: string[] }>({ type: 'rooms' })).rooms).sort(), ['b', 'c']);
    await c.close();
  });
});
