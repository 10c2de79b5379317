// test-encodings: json proto lean
/** Graceful stop: SIGTERM closes every session with 1001 and the process exits 0. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { closeAllClients, connect, connectUser } from '../helpers/client.js';
import { startServer } from '../helpers/server.js';

describe('graceful shutdown', () => {
  it('closes connected clients with 1001 and exits with code 0', async (t) => {
    t.after(closeAllClients);
    const srv = await startServer(['--auth.dev', 'true'], { t });
    const alice = await connectUser(srv.wsUrl, 'alice');
    const bob = await connectUser(srv.wsUrl, 'bob');
    await alice.call({ type: 'join', room: 'general' });
    await bob.call({ type: 'join', room: 'general' });
    // A connection still waiting to identify is closed too.
    const pending = await connect(srv.wsUrl);

    const t0 = Date.now();
    const code = await srv.stop();
    assert.equal(code, 0, `exit code ${code}\nstderr:\n${srv.stderr()}`);
    for (const c of [alice, bob, pending]) {
      const closed = await c.waitClosed(1_000);
      assert.equal(closed.code, 1001);
    }
    assert.ok(Date.now() - t0 < 3_000, `stopping took ${Date.now() - t0} ms with cooperative clients`);
    const msgs = srv.logs().map((l) => l.msg);
    assert.ok(msgs.includes('stopped'), `logs: ${msgs.join(' | ')}`);
    // Nothing listens any more.
    await assert.rejects(fetch(`${srv.url}/healthz`));
  });

  it('exits 0 promptly with no clients', async (t) => {
    const srv = await startServer(['--auth.dev', 'true'], { t });
    const t0 = Date.now();
    assert.equal(await srv.stop(), 0);
    assert.ok(Date.now() - t0 < 2_000);
  });

  it('cuts off a client that never answers the close frame after shutdown.graceMs, and still exits 0', async (t) => {
    t.after(closeAllClients);
    const srv = await startServer(['--auth.dev', 'true', '--shutdown.graceMs', '300'], { t });
    const stuck = await connectUser(srv.wsUrl, 'stuck');
    await stuck.barrier();
    stuck.socket.pause(); // reads nothing, so never answers the close handshake
    const t0 = Date.now();
    assert.equal(await srv.stop(), 0);
    const elapsed = Date.now() - t0;
    assert.ok(elapsed >= 250 && elapsed < 3_000, `stopped after ${elapsed} ms`);
    stuck.socket.resume();
    const closed = await stuck.waitClosed(2_000);
    assert.ok(closed.code === 1001 || closed.code === 1006, `closed with ${closed.code}`);
  });
});
