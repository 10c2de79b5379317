/**
 * Bad input from one client is answered with its documented error or close
 * code, and the server keeps serving everyone else.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { closeAllClients, connectUser, type TestClient } from '../helpers/client.js';
import { startServer, type TestServer } from '../helpers/server.js';

const MAX_FRAME = 2048;
const RATE = 20;
const BURST = 20;
const STRIKES = 3;

describe('bad input', () => {
  let srv: TestServer;
  let observer: TestClient;
  let observerRounds = 0;

  /** The server still serves a bystander: a room message from another user still arrives. */
  async function stillServing(): Promise<void> {
    const n = ++observerRounds;
    const helper = await connectUser(srv.wsUrl, `helper${n}`);
    await helper.call({ type: 'join', room: 'watch' });
    await helper.call({ type: 'publish', room: 'watch', body: `still here ${n}` });
    const m = await observer.next((x) => x.type === 'message' && x.room === 'watch' && x.body === `still here ${n}`);
    assert.equal(m.from, `helper${n}`);
    await helper.close();
  }

  before(async () => {
    srv = await startServer([
      '--auth.dev',
      'true',
      '--limits.maxFrameBytes',
      String(MAX_FRAME),
      '--limits.messagesPerSecond',
      String(RATE),
      '--limits.burst',
      String(BURST),
      '--limits.maxRateStrikes',
      String(STRIKES),
    ]);
    observer = await connectUser(srv.wsUrl, 'observer');
    await observer.call({ type: 'join', room: 'watch' });
  });
  after(async () => {
    closeAllClients();
    await srv?.stop();
  });

  it('invalid JSON → invalid_json (no id), and the session goes on', async () => {
    const c = await connectUser(srv.wsUrl, 'json');
    c.sendRaw('this is not json');
    const e = await c.next('error');
    assert.equal(e.code, 'invalid_json');
    assert.equal('id' in e, false, 'invalid_json carries no id');
    assert.equal(typeof e.message, 'string');
    // One bad line in a batched frame does not spoil the others.
    c.sendRaw('{"type":"ping","id":1}\n{not json\n{"type":"ping","id":2}');
    await c.next((m) => m.type === 'pong' && m.id === 1);
    const e2 = await c.next('error');
    assert.equal(e2.code, 'invalid_json');
    await c.next((m) => m.type === 'pong' && m.id === 2);
    // Only the answers: the unread summary comes whenever the store has answered, possibly in between.
    assert.deepEqual(
      c.messages
        .filter((m) => m.type === 'pong' || m.type === 'error')
        .slice(-3)
        .map((m) => m.type),
      ['pong', 'error', 'pong'],
      'answers in the order of the lines',
    );
    assert.ok(c.isOpen);
    await c.close();
    await stillServing();
  });

  it('unknown or missing type → unknown_type with the request id', async () => {
    const c = await connectUser(srv.wsUrl, 'typer');
    let r = await c.request({ type: 'bogus' });
    assert.equal(r.type, 'error');
    assert.equal(r.code, 'unknown_type');
    r = await c.request({ room: 'x' });
    assert.equal(r.code, 'unknown_type');
    r = await c.request({ type: 42 });
    assert.equal(r.code, 'unknown_type');
    // A JSON value that is not an object.
    c.sendRaw('[1,2,3]');
    assert.equal((await c.next('error')).code, 'unknown_type');
    // String ids are echoed too.
    r = await c.request({ type: 'nope', id: 'req-abc' });
    assert.equal(r.id, 'req-abc');
    assert.equal(r.code, 'unknown_type');
    await c.barrier();
    await c.close();
    await stillServing();
  });

  it('a field the server sets (`from`) or any unknown field → invalid_request; nothing is published', async () => {
    const c = await connectUser(srv.wsUrl, 'mallory');
    await c.call({ type: 'join', room: 'watch' });
    const r = await c.request({ type: 'publish', room: 'watch', body: 'I am alice', from: 'alice' });
    assert.equal(r.type, 'error');
    assert.equal(r.code, 'invalid_request');
    assert.match(String(r.message), /from/);
    const r2 = await c.request({ type: 'send', to: 'observer', body: 'hi', from: 'alice' });
    assert.equal(r2.code, 'invalid_request');
    const r3 = await c.request({ type: 'join', room: 'watch', extra: true });
    assert.equal(r3.code, 'invalid_request');
    // Missing or mistyped fields.
    assert.equal((await c.request({ type: 'publish', body: 'no room' })).code, 'invalid_request');
    assert.equal((await c.request({ type: 'send', to: 'has space', body: 'x' })).code, 'invalid_request');
    assert.equal((await c.request({ type: 'typing', room: 'watch', to: 'observer' })).code, 'invalid_request');
    // Without an id the error is still sent, without an id.
    c.send({ type: 'join', room: 'bad name!' });
    const e = await c.next((m) => m.type === 'error' && m.code === 'invalid_request' && !('id' in m));
    assert.ok(e);

    // The observer saw no message from mallory (nor one claiming to be from alice).
    await c.close();
    await stillServing();
    assert.deepEqual(
      observer.all((m) => m.type === 'message' && (m.from === 'alice' || m.from === 'mallory')),
      [],
    );
  });

  it('a custom body or signal data nested too deep, or a key with NUL → invalid_request; nothing is published', async () => {
    const c = await connectUser(srv.wsUrl, 'nester');
    await c.call({ type: 'join', room: 'watch' });
    const deep = JSON.parse('['.repeat(33) + ']'.repeat(33)) as unknown;
    for (const cmd of [
      { type: 'publish', room: 'watch', contentType: 'x-deep', body: deep },
      { type: 'send', to: 'observer', contentType: 'x-deep', body: deep },
      { type: 'signal', to: 'observer', callId: 'c1', kind: 'offer', data: deep },
      { type: 'publish', room: 'watch', body: 'hi', key: 'k\u0000' },
    ]) {
      const r = await c.request(cmd);
      assert.equal(r.code, 'invalid_request', JSON.stringify(r));
    }
    // 32 levels are fine.
    await c.call({ type: 'publish', room: 'watch', contentType: 'x-deep', body: JSON.parse('['.repeat(32) + ']'.repeat(32)) as unknown });
    await c.close();
    await stillServing();
    assert.equal(observer.all((m) => m.type === 'message' && m.from === 'nester').length, 1);
  });

  it('a frame larger than limits.maxFrameBytes → close 1009', async () => {
    const c = await connectUser(srv.wsUrl, 'big');
    // Just under the limit is fine.
    const fits = JSON.stringify({ type: 'ping', id: 'fits' });
    c.sendRaw(fits + '\n' + ' '.repeat(MAX_FRAME - fits.length - 1));
    await c.next((m) => m.type === 'pong' && m.id === 'fits');
    c.send({ type: 'publish', room: 'watch', body: 'x'.repeat(MAX_FRAME + 100) });
    const closed = await c.waitClosed();
    assert.equal(closed.code, 1009);
    await stillServing();
  });

  it('a binary frame → close 1003', async () => {
    const c = await connectUser(srv.wsUrl, 'binary');
    c.sendRaw(Buffer.from(JSON.stringify({ type: 'ping', id: 1 })), { binary: true });
    const closed = await c.waitClosed();
    assert.equal(closed.code, 1003);
    assert.equal(c.all('pong').length, 0);
    await stillServing();
  });

  it('sending past the rate limit → rate_limited, then close 4006 when it continues', async () => {
    const c = await connectUser(srv.wsUrl, 'flooder');
    await c.call({ type: 'join', room: 'watch' });
    // One at a time, waiting for each answer: the bucket (BURST) runs dry, then the refusals add up. On a
    // loaded machine a round trip can take longer than the refill (1/RATE s): the bucket then drains more
    // slowly, so keep going until the close rather than for a fixed count (bounded, so a broken server fails).
    const answers: string[] = [];
    for (let i = 0; i < BURST * 20 && c.isOpen; i++) {
      const id = `p${i}`;
      c.send({ type: 'ping', id });
      // null: the socket closed instead of answering.
      const r = await c.next((m) => m.id === id).catch(() => null);
      if (r) answers.push(r.type === 'error' ? String(r.code) : r.type);
    }
    const closed = await c.waitClosed();
    assert.equal(closed.code, 4006);
    assert.ok(answers.includes('rate_limited'), `answers: ${answers.join(',')}`);
    const firstRefusal = answers.indexOf('rate_limited');
    assert.ok(firstRefusal >= BURST - 2, `refused after ${firstRefusal} messages, burst is ${BURST}`);
    // On a slow machine the bucket may refill between round trips and let one more through, so the
    // refusals are counted, not required to be consecutive.
    assert.ok(answers.filter((a) => a === 'rate_limited').length >= STRIKES, `at least ${STRIKES} refusals before the close: ${answers.join(',')}`);
    await stillServing();
  });

  it('a flood in one burst is told rate_limited before the 4006 close', async () => {
    const c = await connectUser(srv.wsUrl, 'burster');
    // Many messages at once, as a runaway client would send them.
    const n = BURST + STRIKES + 20;
    c.sendBatch(Array.from({ length: n }, (_, i) => ({ type: 'ping', id: i })));
    const closed = await c.waitClosed();
    assert.equal(closed.code, 4006);
    assert.ok(
      c.all((m) => m.type === 'error' && m.code === 'rate_limited').length > 0,
      `the client was never told rate_limited before being closed; it received:\n${c.dump()}`,
    );
    await stillServing();
  });

  it('a rate-limited session recovers once it slows down', async () => {
    const c = await connectUser(srv.wsUrl, 'bursty');
    c.sendBatch(Array.from({ length: BURST + STRIKES }, (_, i) => ({ type: 'ping', id: i })));
    // The first BURST are answered, the rest refused (STRIKES refusals do not yet close).
    await c.next((m) => m.id === BURST + STRIKES - 1);
    assert.equal(c.all('pong').length, BURST);
    assert.equal(c.all((m) => m.type === 'error' && m.code === 'rate_limited').length, STRIKES);
    // The bucket refills at RATE per second; one token takes 1000/RATE ms.
    await new Promise((r) => setTimeout(r, 2 * (1000 / RATE) + 20));
    await c.barrier();
    assert.ok(c.isOpen);
    await c.close();
  });
});
