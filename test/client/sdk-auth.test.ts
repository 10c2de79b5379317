/**
 * Credentials and close codes: token refresh before expiry (no 4002), a new
 * token after 4001/4002 when getToken can supply one, a stop when it cannot,
 * no reconnect after 4003 (replaced); recovery with token auth (resume in the
 * auth message) and with the token in the URL.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it, type TestContext } from 'node:test';
import { AuthError, CloseError } from '../../client/src/index.js';
import { NO_RATE_LIMIT } from '../helpers/durable.js';
import { epochSeconds, expAtLeast, makeToken, TEST_SECRET } from '../helpers/jwt.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { cut, range, Recorder, sdk, seqsOf, sleep } from './sdk-helpers.js';

describe('client SDK: tokens and close codes', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startServer(['--auth.jwt.secret', TEST_SECRET, ...NO_RATE_LIMIT]);
  });
  after(() => srv?.stop());

  it('refreshes a short-lived token before it expires: the session is never closed with 4002', async (t) => {
    let calls = 0;
    const alice = sdk(t, srv.wsUrl, {
      getToken: async () => {
        calls++;
        return makeToken('t-alice', { exp: expAtLeast(2_500) });
      },
    });
    const ra = new Recorder(alice);
    await alice.connect();
    await sleep(6_500);
    assert.equal(alice.state, 'connected');
    assert.deepEqual(ra.states.map((s) => s.state), ['connecting', 'connected'], 'never disconnected');
    assert.ok(calls >= 3, `getToken called for the connection and for refreshes (${calls})`);
    assert.ok((await alice.ping()) >= 0);
    assert.deepEqual(ra.errors, []);
  });

  /**
   * The first refresh gets `bad` from getToken: an error event with `code`, and the session, its token still valid,
   * goes on (the refresh is tried again later).
   */
  async function badRefresh(t: TestContext, user: string, bad: unknown, code: string): Promise<void> {
    let calls = 0;
    const c = sdk(t, srv.wsUrl, {
      getToken: (async () => (++calls === 2 ? bad : makeToken(user, { exp: expAtLeast(2_500) }))) as () => Promise<string>,
    });
    const errored = new Promise<Error>((resolve) => c.on('error', resolve));
    await c.connect();
    assert.equal(((await errored) as { code?: string }).code, code);
    assert.equal(c.state, 'connected');
    assert.ok((await c.ping()) >= 0);
  }

  it('a refreshed token too large to send: an error event, the session goes on', async (t) => {
    const huge = await makeToken('t-bob', { exp: epochSeconds(3600), claims: { padding: 'x'.repeat(70_000) } });
    await badRefresh(t, 't-bob', huge, 'message_too_large');
  });

  // As a JavaScript app might: undefined instead of a token.
  it('a refresh that gets no token from getToken: an error event, the session goes on', (t) => badRefresh(t, 't-carol', undefined, 'token_refresh_failed'));

  it('a static token that expires: closed with 4002, AuthError, no reconnect', async (t) => {
    const alice = sdk(t, srv.wsUrl, { token: await makeToken('t-static', { exp: expAtLeast(1_000) }) });
    const ra = new Recorder(alice);
    await alice.connect();
    const down = await ra.nextState('disconnected', 5_000);
    assert.equal(down.closeCode, 4002);
    assert.equal(down.willReconnect, false);
    assert.ok(down.error instanceof AuthError);
    assert.ok(ra.errors.some((e) => e instanceof AuthError));
    await sleep(300);
    assert.equal(ra.states.filter((s) => s.state === 'connecting').length, 1, 'did not try again');
  });

  it('a refused static token: connect() rejects with AuthError (4001) and does not retry', async (t) => {
    const alice = sdk(t, srv.wsUrl, { token: await makeToken('t-bad', { secret: 'another-secret-0123456789-abcdef' }) });
    const ra = new Recorder(alice);
    await assert.rejects(alice.connect(), (e: unknown) => e instanceof AuthError && e.closeCode === 4001 && e.code === 'auth_failed');
    await sleep(300);
    assert.equal(ra.states.filter((s) => s.state === 'connecting').length, 1);
    assert.equal(alice.state, 'disconnected');
  });

  it('reconnect.maxAttempts: a getToken that keeps throwing, or a server that is not there, ends connect() with reconnect_gave_up', async (t) => {
    const reconnect = { initialMs: 5, maxMs: 20, maxAttempts: 3 };
    let calls = 0;
    const failing = sdk(t, srv.wsUrl, {
      reconnect,
      getToken: () => {
        calls++;
        throw new Error('the auth backend is down');
      },
    });
    failing.on('error', () => {});
    await assert.rejects(failing.connect(), (e: Error & { code?: string }) => e.code === 'reconnect_gave_up' && /3 attempts/.test(e.message));
    assert.equal(calls, 3, 'three attempts in all');

    const nowhere = sdk(t, 'ws://127.0.0.1:9/ws', { user: 'alice', reconnect });
    nowhere.on('error', () => {});
    await assert.rejects(nowhere.connect(), (e: Error & { code?: string }) => e.code === 'reconnect_gave_up');
  });

  it('4001: reconnects when getToken supplies a new token, stops when it hands back the refused one', async (t) => {
    const bad = await makeToken('t-retry', { secret: 'another-secret-0123456789-abcdef' });
    const good = await makeToken('t-retry');
    let n = 0;
    const ok = sdk(t, srv.wsUrl, { getToken: () => (++n === 1 ? bad : good) });
    const info = await ok.connect();
    assert.equal(info.user, 't-retry');
    assert.equal(n, 2);

    const stuck = sdk(t, srv.wsUrl, { getToken: () => bad });
    const rs = new Recorder(stuck);
    await assert.rejects(stuck.connect(), AuthError);
    assert.equal(rs.states.filter((s) => s.state === 'connecting').length, 2, 'one retry, with the same token: stop');
  });

  it('4002 at connect: fetches a new token and reconnects', async (t) => {
    let n = 0;
    const alice = sdk(t, srv.wsUrl, { getToken: () => makeToken('t-expired', { exp: ++n === 1 ? epochSeconds(-60) : epochSeconds(3_600) }) });
    const ra = new Recorder(alice);
    await alice.connect();
    assert.equal(n, 2);
    assert.ok(ra.states.some((s) => s.state === 'disconnected' && s.closeCode === 4002 && s.willReconnect));
  });

  it('recovers DMs with token auth in the first message (resume) and with the token in the URL', async (t) => {
    for (const tokenTransport of ['message', 'query'] as const) {
      const alice = sdk(t, srv.wsUrl, { getToken: () => makeToken(`tr-alice-${tokenTransport}`) });
      const bob = sdk(t, srv.wsUrl, { getToken: () => makeToken(`tr-bob-${tokenTransport}`), tokenTransport });
      const rb = new Recorder(bob);
      await Promise.all([alice.connect(), bob.connect()]);
      const N = 150;
      const acks: Promise<unknown>[] = [];
      for (let i = 1; i <= N; i++) {
        acks.push(alice.send(`tr-bob-${tokenTransport}`, `m${i}`));
        if (i === 40 || i === 100) {
          await rb.until(() => rb.messages.length >= i - 10, 'some arrived');
          cut(bob);
        }
        if (i % 5 === 0) await sleep(1);
      }
      await Promise.all(acks);
      await rb.until(() => rb.messages.length >= N, `bob (${tokenTransport}) has all`, 15_000);
      await sleep(100);
      assert.deepEqual(seqsOf(rb.messages.map((x) => x.m)), range(1, N), tokenTransport);
      assert.ok(rb.states.filter((s) => s.state === 'connected').length >= 3);
    }
  });
});

describe('client SDK: replaced sessions', () => {
  it('4003 (replaced by a newer session): CloseError, no reconnect', async (t) => {
    const srv = await startServer(['--auth.dev', 'true', '--sessions.policy', 'replace'], { t });
    const first = sdk(t, srv.wsUrl, { user: 'carol' });
    const rf = new Recorder(first);
    await first.connect();
    const second = sdk(t, srv.wsUrl, { user: 'carol' });
    await second.connect();
    const down = await rf.nextState('disconnected');
    assert.equal(down.closeCode, 4003);
    assert.equal(down.willReconnect, false);
    assert.ok(down.error instanceof CloseError && !(down.error instanceof AuthError));
    await sleep(300);
    assert.equal(rf.states.filter((s) => s.state === 'connecting').length, 1);
    assert.equal(second.state, 'connected');
    // The app may take over again explicitly.
    await first.connect();
    assert.equal(first.state, 'connected');
  });
});
