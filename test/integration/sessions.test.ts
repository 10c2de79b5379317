// test-encodings: json proto lean
/** Session policies: replace closes the older session (4003); multiple is capped by maxPerUser (4007). */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { closeAllClients, connect, connectUser } from '../helpers/client.js';
import { startServer, type TestServer } from '../helpers/server.js';

describe('sessions.policy replace', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startServer(['--auth.dev', 'true', '--sessions.policy', 'replace']);
  });
  after(async () => {
    closeAllClients();
    await srv?.stop();
  });

  it('closes the older session with 4003 when the same user connects again', async () => {
    const watcher = await connectUser(srv.wsUrl, 'watcher');
    await watcher.call({ type: 'join', room: 'room' });
    const old = await connectUser(srv.wsUrl, 'alice');
    await old.call({ type: 'join', room: 'room' });
    await watcher.next((m) => m.type === 'presence' && m.user === 'alice' && m.event === 'join');

    const fresh = await connectUser(srv.wsUrl, 'alice');
    const closed = await old.waitClosed();
    assert.equal(closed.code, 4003);
    // The new session works, and the old one's room membership went with it.
    await fresh.barrier();
    assert.notEqual(fresh.session, old.session);
    await watcher.next((m) => m.type === 'presence' && m.user === 'alice' && m.event === 'leave');
    assert.deepEqual(await fresh.call({ type: 'rooms' }), { rooms: [] });
    await fresh.call({ type: 'join', room: 'room' });
    await fresh.call({ type: 'publish', room: 'room', body: 'I am back' });
    const m = await watcher.next((x) => x.type === 'message' && x.room === 'room');
    assert.equal(m.from, 'alice');
    // Other users are not affected.
    assert.ok(watcher.isOpen);
    await Promise.all([fresh.close(), watcher.close()]);
  });
});

describe('sessions.maxPerUser with policy multiple', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startServer(['--auth.dev', 'true', '--sessions.policy', 'multiple', '--sessions.maxPerUser', '2']);
  });
  after(async () => {
    closeAllClients();
    await srv?.stop();
  });

  it('closes a session beyond the limit with 4007 and keeps the others', async () => {
    const a1 = await connectUser(srv.wsUrl, 'alice');
    const a2 = await connectUser(srv.wsUrl, 'alice');
    const a3 = await connect(`${srv.wsUrl}?user=alice`);
    const closed = await a3.waitClosed();
    assert.equal(closed.code, 4007);
    assert.equal(a3.all('connected').length, 0, 'the refused connection got no session');
    await a1.barrier();
    await a2.barrier();
    // Another user is unaffected by alice's limit.
    const b = await connectUser(srv.wsUrl, 'bob');
    // Once a session closes, there is room for a new one. (bob seeing alice leave proves the server has let a1 go.)
    await a1.call({ type: 'join', room: 'r' });
    await b.call({ type: 'join', room: 'r' });
    await a1.close();
    await b.next((m) => m.type === 'presence' && m.user === 'alice' && m.event === 'leave');
    const a4 = await connectUser(srv.wsUrl, 'alice');
    await a4.barrier();
    await Promise.all([a2.close(), a4.close(), b.close()]);
  });
});

describe('limits.maxConnections', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startServer(['--auth.dev', 'true', '--limits.maxConnections', '2']);
  });
  after(async () => {
    closeAllClients();
    await srv?.stop();
  });

  it('closes a connection beyond the limit with 1013', async () => {
    const a = await connectUser(srv.wsUrl, 'a');
    const b = await connectUser(srv.wsUrl, 'b');
    const c = await connect(`${srv.wsUrl}?user=c`);
    assert.equal((await c.waitClosed()).code, 1013);
    assert.equal(c.all('connected').length, 0);
    await a.call({ type: 'join', room: 'r' });
    await b.call({ type: 'join', room: 'r' });
    await a.close();
    // A place is free again once a connection has gone (b seeing a leave proves the server has let it go).
    await b.next((m) => m.type === 'presence' && m.user === 'a' && m.event === 'leave');
    const d = await connectUser(srv.wsUrl, 'd');
    await d.barrier();
    await Promise.all([b.close(), d.close()]);
  });
});
