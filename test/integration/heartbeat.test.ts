// test-encodings: json proto lean
/** Heartbeat: a client that stops answering pings is dropped (4004) and leaves its rooms at once. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { closeAllClients, connectUser } from '../helpers/client.js';
import { serverFor } from '../helpers/shared-server.js';

const INTERVAL = 200;
const TIMEOUT = 200;

describe('heartbeat', { concurrency: true }, () => {
  const server = serverFor(['--auth.dev', 'true', '--heartbeat.intervalMs', String(INTERVAL), '--heartbeat.timeoutMs', String(TIMEOUT)]);

  it('closes a client that does not answer pings, and the others see it leave promptly', async () => {
    const alive = await connectUser(server().wsUrl, 'alive');
    await alive.call({ type: 'join', room: 'hb' });
    const t0 = Date.now();
    // `autoPong: false`: the client receives pings but never answers them (ws >= 8.16).
    const zombie = await connectUser(server().wsUrl, 'zombie', { autoPong: false });
    await zombie.call({ type: 'join', room: 'hb' });
    await alive.next((m) => m.type === 'presence' && m.user === 'zombie' && m.event === 'join');

    // One interval to the ping, one timeout to give up, plus scheduling slack.
    const budget = INTERVAL + TIMEOUT + 1_000;
    const left = await alive.next((m) => m.type === 'presence' && m.user === 'zombie' && m.event === 'leave', budget);
    assert.ok(left);
    const elapsed = Date.now() - t0;
    assert.ok(elapsed >= INTERVAL, `left after ${elapsed} ms, before the first ping could have timed out`);
    const closed = await zombie.waitClosed(1_000);
    // The server sends 4004 and then cuts the connection; the close frame may or may not be read first.
    assert.ok(closed.code === 4004 || closed.code === 1006, `closed with ${closed.code}`);
    assert.ok(zombie.pings >= 1, 'the zombie was pinged');

    assert.deepEqual(await alive.call({ type: 'presence', room: 'hb' }), { room: 'hb', users: [{ user: 'alive', sessions: 1 }] });
    await alive.close();
  });

  it('keeps a client that answers pings connected across several intervals', async () => {
    const steady = await connectUser(server().wsUrl, 'steady');
    await steady.call({ type: 'join', room: 'hb2' });
    // Several full ping/pong cycles (each longer than the timeout).
    await steady.waitForPings(5, 5 * (INTERVAL + TIMEOUT) + 2_000);
    assert.ok(steady.isOpen, 'still open after 5 pings');
    assert.equal(steady.closeInfo, null);
    await steady.barrier();
    assert.deepEqual(await steady.call({ type: 'presence', room: 'hb2' }), { room: 'hb2', users: [{ user: 'steady', sessions: 1 }] });
    await steady.close();
  });

  it('counts any frame from the client as a sign of life', async () => {
    // A client that never answers pings but keeps sending messages stays connected.
    const chatty = await connectUser(server().wsUrl, 'chatty', { autoPong: false });
    const interval = setInterval(() => chatty.isOpen && chatty.send({ type: 'ping' }), 50);
    try {
      await chatty.waitForPings(4, 4 * (INTERVAL + TIMEOUT) + 2_000);
      assert.ok(chatty.isOpen, `closed with ${chatty.closeInfo?.code}`);
    } finally {
      clearInterval(interval);
    }
    await chatty.close();
  });
});
