// test-encodings: json proto lean
/** What a session receives first: `connected`, then the welcome notice from System (unless disabled). */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { closeAllClients, connectUser } from '../helpers/client.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { serverFor } from '../helpers/shared-server.js';

describe('welcome on', () => {
  const server = serverFor(['--auth.dev', 'true']);

  it('sends connected (with the session id) then the welcome notice, before anything else', async () => {
    const alice = await connectUser(server().wsUrl, 'alice');
    await alice.waitFor('notice');
    const [connected, notice] = alice.messages;
    assert.equal(connected?.type, 'connected');
    assert.equal(typeof connected.session, 'string');
    assert.ok((connected.session as string).length > 0);
    assert.equal(connected.user, 'alice');
    assert.deepEqual(connected.heartbeat, { intervalMs: 25_000, timeoutMs: 10_000 });
    assert.deepEqual(connected.limits, { maxFrameBytes: 65_536, messagesPerSecond: 50, burst: 100, roomsPerSession: 100, maxTextLength: 8_000 });
    assert.equal(notice?.type, 'notice');
    assert.equal(notice.from, 'System');
    assert.equal(notice.text, 'Welcome to Switchboard, alice!');
    assert.equal(typeof notice.ts, 'number');
    await alice.barrier();
    assert.equal(alice.all('notice').length, 1);

    // Each connection has its own session id, even for the same user.
    const alice2 = await connectUser(server().wsUrl, 'alice');
    assert.ok(alice2.session);
    assert.notEqual(alice2.session, alice.session);
    await Promise.all([alice.close(), alice2.close()]);
  });
});

describe('welcome off / custom text', () => {
  let off: TestServer;
  let custom: TestServer;
  before(async () => {
    [off, custom] = await Promise.all([
      startServer(['--auth.dev', 'true', '--welcome.enabled', 'false', '--heartbeat.intervalMs', '1000', '--heartbeat.timeoutMs', '500']),
      startServer(['--auth.dev', 'true', '--welcome.text', 'Hi {user}, this is {user}’s server']),
    ]);
  });
  after(async () => {
    closeAllClients();
    await Promise.all([off?.stop(), custom?.stop()]);
  });

  it('sends no notice when welcome.enabled is false', async () => {
    const bob = await connectUser(off.wsUrl, 'bob');
    await bob.barrier();
    // The unread summary arrives when the store answers, so only its absence of a notice is asserted.
    assert.deepEqual(
      bob.messages.map((m) => m.type).filter((t) => t !== 'unread'),
      ['connected', 'pong'],
    );
    assert.deepEqual(bob.messages[0]!.heartbeat, { intervalMs: 1000, timeoutMs: 500 });
    await bob.close();
  });

  it('uses welcome.text with {user} replaced', async () => {
    const carol = await connectUser(custom.wsUrl, 'carol');
    const n = await carol.waitFor('notice');
    assert.equal(n.text, 'Hi carol, this is carol’s server');
    await carol.close();
  });
});
