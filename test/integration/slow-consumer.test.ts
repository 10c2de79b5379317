// test-encodings: json proto lean
/**
 * A client that stops reading is closed once its queue passes limits.maxQueueBytes
 * (4005), and never slows the others: a fast reader in the same room gets everything.
 * When it reads again it finds the close frame after what it had not read, even if
 * it gets there only after the close deadline and is still sending meanwhile; and the
 * operator finds each such close in the log, bursts summed up rather than line by line.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { closeAllClients, connectUser, roomMessages, type TestClient } from '../helpers/client.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { publishUntil, SLOW_CONSUMER_LIMITS } from '../helpers/slow-consumer.js';

const ROOM = 'firehose';

/** Flags for a server that closes slow consumers early and lets one publisher send as fast as it can. */
const SLOW_FLAGS = ['--auth.dev', 'true', ...SLOW_CONSUMER_LIMITS];

const DETAIL = 'slow consumer: session closed (4005)';
const isSummary = (l: Record<string, unknown>): boolean => typeof l.msg === 'string' && /^slow consumer: \d+ more sessions? closed \(4005\)$/.test(l.msg);

/** Resolves once `p` has settled; `settled()` says whether it has. */
function watch(p: Promise<unknown>): () => boolean {
  let settled = false;
  void p.then(
    () => (settled = true),
    () => (settled = true),
  );
  return () => settled;
}

/** A server with these flags for the tests of one describe block, stopped after them. */
function serverFor(flags: string[]): () => TestServer {
  let srv: TestServer | undefined;
  before(async () => {
    srv = await startServer(flags);
  });
  after(async () => {
    closeAllClients();
    await srv?.stop();
  });
  return () => {
    if (!srv) throw new Error('the server did not start');
    return srv;
  };
}

describe('slow consumer', () => {
  const srv = serverFor([...SLOW_FLAGS, '--heartbeat.intervalMs', '60000']);

  it('drops the client that stopped reading (4005) while fast clients get every message in order', async () => {
    // The slow client joins first, so the others are written after it in the flush that closes it: the presence
    // leave that close sends must not cost them the messages that follow it.
    const slow = await connectUser(srv().wsUrl, 'slow');
    const publisher = await connectUser(srv().wsUrl, 'publisher');
    const fast = await connectUser(srv().wsUrl, 'fast');
    const late = await connectUser(srv().wsUrl, 'late');
    for (const c of [slow, publisher, fast, late]) await c.call({ type: 'join', room: ROOM });
    await fast.next((m) => m.type === 'presence' && m.user === 'late' && m.event === 'join');
    await slow.barrier();

    // The slow client stops reading from its socket: the server's writes pile up.
    slow.socket.pause();

    const slowLeft = fast.waitFor((m) => m.type === 'presence' && m.user === 'slow' && m.event === 'leave', 30_000);
    const dropped = watch(slowLeft);
    // Publish in volume until the server drops the slow client.
    let sent = await publishUntil(publisher, ROOM, dropped);
    await slowLeft;
    assert.ok(dropped(), `slow client still in the room after ${sent} messages`);

    // The operator is told who was closed and how much was queued for it.
    const line = await srv().waitForLog((l) => l.msg === DETAIL && l.session === slow.session);
    assert.equal(line.level, 40, 'logged at warn');
    assert.equal(line.user, 'slow');
    for (const k of ['unsentBytes', 'droppedMessages', 'droppedBytes']) assert.equal(typeof line[k], 'number', `${k} in ${JSON.stringify(line)}`);
    assert.ok((line.unsentBytes as number) + (line.droppedBytes as number) > 65536, `over the 64 KiB limit: ${JSON.stringify(line)}`);

    // A bit more traffic after the drop: the fast client must still get all of it.
    const extra = 50;
    for (let i = 0; i < extra; i++) publisher.send({ type: 'publish', room: ROOM, body: `after ${i}` });
    sent += extra;

    for (const c of [fast, late]) {
      await c.waitFor((m) => m.type === 'message' && m.room === ROOM && m.seq === sent, 20_000);
      const got = roomMessages(c, ROOM);
      assert.equal(got.length, sent, `${c === fast ? "fast" : "late"} received every message`);
      for (let i = 0; i < got.length; i++) if (got[i]!.seq !== i + 1) assert.fail(`${c === fast ? "fast" : "late"}: message ${i} has seq ${got[i]!.seq}, expected ${i + 1}`);
      assert.ok(c.isOpen);
    }

    // Once it reads again, the slow client learns why it was dropped.
    slow.socket.resume();
    const closed = await slow.waitClosed(10_000);
    assert.equal(closed.code, 4005, `slow client closed with ${closed.code} (${closed.reason})`);
    // What it did get is an unbroken prefix of the conversation.
    const part = roomMessages(slow, ROOM);
    assert.ok(part.length < sent, 'the slow client missed messages');
    part.forEach((m, i) => assert.equal(m.seq, i + 1));

    await Promise.all([publisher.close(), fast.close(), late.close()]);
  });
});

describe('slow consumer close frame', () => {
  const srv = serverFor([
      ...SLOW_FLAGS,
      // A short close deadline, on a timer wheel fine enough to keep it (its resolution follows the heartbeat's).
      '--limits.closeTimeoutMs',
      '1500',
      '--heartbeat.intervalMs',
      '60000',
      '--heartbeat.timeoutMs',
      '1000',
      '--log.level',
      'debug',
    ]);

  it('reaches a client that reads up to it only after the close deadline, sending meanwhile (4005, not a reset)', async (t) => {
    const room = 'trickle';
    const publisher = await connectUser(srv().wsUrl, 'publisher');
    const slow = await connectUser(srv().wsUrl, 'trickler');
    for (const c of [publisher, slow]) await c.call({ type: 'join', room });
    await slow.barrier();
    const from = srv().logs().length;
    const mine = (msg: string) => (l: Record<string, unknown>) => l.msg === msg && l.session === slow.session;

    // The client stops reading until the server closes it as a slow consumer.
    slow.ws.pause();
    const closing = srv().waitForLog(mine(DETAIL), { from, timeoutMs: 30_000 });
    await publishUntil(publisher, room, watch(closing));
    await closing;

    // It reads a little at a time until the server has handed the close frame to the OS: the close frame now
    // waits there at the end of a backlog of megabytes (the server's and the client's socket buffers).
    const handed = srv().waitForLog(mine('slow consumer: close frame handed to the OS'), { from, timeoutMs: 10_000 });
    let trickling = true;
    const sip = (): void => {
      slow.ws.pause();
      if (trickling) setTimeout(() => trickling && slow.ws.resume(), 10);
    };
    slow.socket.on('data', sip);
    slow.ws.resume();
    const first = await Promise.race([handed.then(() => 'handed' as const), slow.closed.then(() => 'closed' as const)]);
    trickling = false;
    slow.ws.pause();
    slow.socket.off('data', sip);
    if (first === 'closed') {
      // An OS that buffers less than the client read before the server's line arrived: it got there in time.
      assert.equal(slow.closeInfo!.code, 4005);
      t.diagnostic('the client read up to the close frame before the close deadline; the late case was not exercised');
      await publisher.close();
      return;
    }

    // The close deadline passes: the socket is kept, since its close frame has left and the client may yet read it.
    await srv().waitForLog(mine('slow consumer: close frame sent, waiting for the client to read up to it'), { from, timeoutMs: 10_000 });
    assert.ok(slow.isOpen);
    // The client still says something before it reads on. A destroyed socket would answer it with a reset that
    // discards the close frame with the rest of the backlog (the client would see ECONNRESET, 1006).
    await new Promise<void>((resolve, reject) => slow.ws.send(JSON.stringify({ type: 'ping', id: 'late' }), (err) => (err ? reject(err) : resolve())));
    slow.ws.resume();
    const closed = await slow.waitClosed(20_000);
    assert.equal(closed.code, 4005, `closed with ${closed.code} (${closed.reason})`);
    assert.equal(slow.all((m) => m.type === 'pong' && m.id === 'late').length, 0, 'nothing is answered after the close');
    // What it got is an unbroken prefix of the conversation.
    roomMessages(slow, room).forEach((m, i) => assert.equal(m.seq, i + 1));

    await publisher.close();
  });
});

describe('slow consumer log', () => {
  const srv = serverFor([...SLOW_FLAGS, '--heartbeat.intervalMs', '60000']);

  it('sums up a burst of slow-consumer closes instead of a line for each', async () => {
    const room = 'burst';
    const N = 4;
    const publisher = await connectUser(srv().wsUrl, 'publisher');
    const slow: TestClient[] = [];
    for (let i = 0; i < N; i++) slow.push(await connectUser(srv().wsUrl, `stalled${i}`));
    for (const c of [publisher, ...slow]) await c.call({ type: 'join', room });
    for (const c of slow) await c.barrier();
    const from = srv().logs().length;

    for (const c of slow) c.ws.pause();
    const users = new Set(slow.map((_, i) => `stalled${i}`));
    const left = new Set<string>();
    const allLeft = publisher.waitFor((m) => {
      if (m.type === 'presence' && m.event === 'leave' && users.has(String(m.user))) left.add(String(m.user));
      return left.size === N;
    }, 30_000);
    await publishUntil(publisher, room, watch(allLeft));
    await allLeft;

    // Every close is either a line of its own or counted in a summary that follows within the second.
    let details = 0;
    let summaries = 0;
    let counted = 0;
    await srv().waitForLog(
      (l) => {
        if (l.msg === DETAIL) {
          details++;
          counted++;
        } else if (isSummary(l)) {
          summaries++;
          counted += l.closes as number;
          assert.equal(l.level, 40);
          for (const k of ['unsentBytes', 'droppedMessages', 'droppedBytes']) assert.equal(typeof l[k], 'number');
        }
        return counted >= N;
      },
      { from, timeoutMs: 5_000 },
    );
    assert.equal(counted, N, 'every close accounted for, once');
    assert.ok(details >= 1 && details + summaries < N, `${details} detailed lines and ${summaries} summaries for ${N} closes`);

    for (const c of slow) c.ws.resume();
    for (const c of slow) assert.equal((await c.waitClosed(10_000)).code, 4005);
    await publisher.close();
  });
});
