/**
 * A client that stops reading is closed once its queue passes limits.maxQueueBytes
 * (4005), and never slows the others: a fast reader in the same room gets everything.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { closeAllClients, connectUser, roomMessages } from '../helpers/client.js';
import { startServer, type TestServer } from '../helpers/server.js';

const ROOM = 'firehose';

describe('slow consumer', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startServer([
      '--auth.dev',
      'true',
      '--limits.maxQueueBytes',
      '65536',
      // The publisher sends far faster than the default rate limit allows.
      '--limits.messagesPerSecond',
      '1000000',
      '--limits.burst',
      '1000000',
      '--limits.maxFrameBytes',
      String(1024 * 1024),
      '--heartbeat.intervalMs',
      '60000',
    ]);
  });
  after(async () => {
    closeAllClients();
    await srv?.stop();
  });

  it('drops the client that stopped reading (4005) while a fast client gets every message in order', async () => {
    const publisher = await connectUser(srv.wsUrl, 'publisher');
    const fast = await connectUser(srv.wsUrl, 'fast');
    const slow = await connectUser(srv.wsUrl, 'slow');
    for (const c of [publisher, fast, slow]) await c.call({ type: 'join', room: ROOM });
    await fast.next((m) => m.type === 'presence' && m.user === 'slow' && m.event === 'join');
    await slow.barrier();

    // The slow client stops reading from its socket: the server's writes pile up.
    slow.socket.pause();

    const body = 'x'.repeat(2_000);
    const perFrame = 100;
    let sent = 0;
    const slowLeft = fast.waitFor((m) => m.type === 'presence' && m.user === 'slow' && m.event === 'leave', 30_000);
    let dropped = false;
    void slowLeft.then(() => (dropped = true), () => {});
    // Publish in volume until the server drops the slow client (bounded, so a broken server fails instead of hanging).
    const MAX = 40_000;
    while (!dropped && sent < MAX) {
      const batch = [];
      for (let i = 0; i < perFrame; i++) batch.push({ type: 'publish', room: ROOM, body, key: `m${sent + i}` });
      publisher.sendBatch(batch);
      sent += perFrame;
      // Wait for the publisher's own copy of the last one: paces the loop to what the server has accepted.
      await publisher.waitFor((m) => m.type === 'message' && m.room === ROOM && m.seq === sent, 10_000);
    }
    await slowLeft;
    assert.ok(dropped, `slow client still in the room after ${sent} messages of ${body.length} bytes`);

    // A bit more traffic after the drop: the fast client must still get all of it.
    const extra = 50;
    for (let i = 0; i < extra; i++) publisher.send({ type: 'publish', room: ROOM, body: `after ${i}` });
    sent += extra;

    await fast.waitFor((m) => m.type === 'message' && m.room === ROOM && m.seq === sent, 20_000);
    const got = roomMessages(fast, ROOM);
    assert.equal(got.length, sent, 'fast client received every message');
    for (let i = 0; i < got.length; i++) if (got[i]!.seq !== i + 1) assert.fail(`fast client: message ${i} has seq ${got[i]!.seq}, expected ${i + 1}`);
    assert.ok(fast.isOpen);

    // Once it reads again, the slow client learns why it was dropped.
    slow.socket.resume();
    const closed = await slow.waitClosed(10_000);
    assert.equal(closed.code, 4005, `slow client closed with ${closed.code} (${closed.reason})`);
    // What it did get is an unbroken prefix of the conversation.
    const part = roomMessages(slow, ROOM);
    assert.ok(part.length < sent, 'the slow client missed messages');
    part.forEach((m, i) => assert.equal(m.seq, i + 1));

    await Promise.all([publisher.close(), fast.close()]);
  });
});
