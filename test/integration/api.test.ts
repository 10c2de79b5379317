// test-encodings: json proto lean
/**
 * The server API (/api/v1) over real HTTP against a real server process: each endpoint's success and its
 * refusals (no key, unknown key, wrong scope, bad body naming the field, oversized body, unknown room or
 * session), with what WebSocket users see as a result.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { connectToken, connectUser, type Msg } from '../helpers/client.js';
import { serverFor } from '../helpers/shared-server.js';

const KEYS = { full: 'sbk_full-key-for-tests', read: 'sbk_read-only-key', pub: 'sbk_publish-only-key' };
const hash = (k: string): string => createHash('sha256').update(k).digest('hex');
const API_KEYS = JSON.stringify([
  { name: 'full', hash: hash(KEYS.full), scopes: ['admin'] },
  { name: 'reader', hash: hash(KEYS.read), scopes: ['read'] },
  { name: 'publisher', hash: hash(KEYS.pub), scopes: ['publish'] },
]);
const SECRET = 'api-test-secret-0123456789';

describe('server API', () => {
  const server = serverFor(['--auth.dev', 'true', '--auth.allowDevOnPublicHost', 'false', '--api.keys', API_KEYS, '--api.maxBodyBytes', '16384', '--auth.jwt.secret', SECRET]);

  async function call(method: string, path: string, opts: { key?: string | null; body?: unknown; raw?: string; header?: 'bearer' | 'x-api-key' } = {}) {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    const key = opts.key === undefined ? KEYS.full : opts.key;
    if (key !== null) {
      if (opts.header === 'x-api-key') headers['x-api-key'] = key;
      else headers.authorization = `Bearer ${key}`;
    }
    const res = await fetch(`${server().url}/api/v1${path}`, { method, headers, body: opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body)) });
    const json = (await res.json()) as Record<string, unknown>;
    return { status: res.status, json };
  }

  it('refuses a request without a key, with an unknown key, or with a client token (401)', async () => {
    for (const key of [null, 'sbk_nope']) {
      const r = await call('GET', '/rooms', { key });
      assert.equal(r.status, 401);
      assert.equal(r.json.code, 'unauthorized');
    }
    const minted = await call('POST', '/tokens', { body: { user: 'alice' } });
    assert.equal((await call('GET', '/rooms', { key: minted.json.token as string })).status, 401, 'a client token never opens the API');
  });

  it('takes the key as X-API-Key too, and refuses a key without the scope (403)', async () => {
    assert.equal((await call('GET', '/rooms', { key: KEYS.read, header: 'x-api-key' })).status, 200);
    const r = await call('POST', '/rooms/news/publish', { key: KEYS.read, body: { body: 'x' } });
    assert.equal(r.status, 403);
    assert.equal(r.json.code, 'forbidden');
    assert.equal((await call('GET', '/rooms', { key: KEYS.pub })).status, 403);
    assert.equal((await call('POST', '/users/alice/disconnect', { key: KEYS.pub, body: {} })).status, 403);
  });

  it('publishes to a push-only room, in order with its other messages, answered with the stored ack', async () => {
    const a = await connectUser(server().wsUrl, 'pa');
    await a.call({ type: 'join', room: 'push:alerts' });
    const refused = await a.request({ type: 'publish', room: 'push:alerts', body: 'not me' });
    assert.equal(refused.code, 'forbidden', 'clients still may not');
    const one = await call('POST', '/rooms/push:alerts/publish', { key: KEYS.pub, body: { body: 'first', key: 'k1' } });
    assert.equal(one.status, 200);
    const two = await call('POST', '/rooms/push:alerts/publish', { body: { from: 'bot', contentType: 'x-alert', body: { level: 2 } } });
    assert.equal(two.json.seq, (one.json.seq as number) + 1);
    const m1 = await a.next((m) => m.type === 'message' && m.room === 'push:alerts');
    const m2 = await a.next((m) => m.type === 'message' && m.room === 'push:alerts');
    assert.deepEqual([m1.body, m1.from, m1.seq, m1.id], ['first', 'System', one.json.seq, a.carriesMessageIds ? one.json.id : undefined]);
    assert.deepEqual([m2.body, m2.from, m2.contentType], [{ level: 2 }, 'bot', 'x-alert']);
    const again = await call('POST', '/rooms/push:alerts/publish', { key: KEYS.pub, body: { body: 'first', key: 'k1' } });
    assert.deepEqual([again.json.id, again.json.duplicate], [one.json.id, true], 'the idempotency key answers the original');
  });

  it('batch-publishes many messages, answered in order, one frame per member', async () => {
    const a = await connectUser(server().wsUrl, 'ba');
    await a.call({ type: 'join', room: 'batchroom' });
    const messages = Array.from({ length: 200 }, (_, i) => ({ room: 'batchroom', body: `m${i}` }));
    // Frames that carry messages of the room, counted from before the request.
    const framesBefore = a.frames.length;
    const r = await call('POST', '/publish/batch', { body: { messages } });
    assert.equal(r.status, 200);
    const results = r.json.results as { ok: boolean; seq: number }[];
    assert.equal(results.length, 200);
    results.forEach((x, i) => assert.deepEqual([x.ok, x.seq], [true, results[0]!.seq + i]));
    for (let i = 0; i < 200; i++) assert.equal((await a.next((m) => m.type === 'message' && m.room === 'batchroom')).body, `m${i}`);
    const frames = a.frames
      .slice(framesBefore)
      .map((f) => f.split('\n').filter((l) => l.includes('"room":"batchroom"')).length)
      .filter((n) => n > 0);
    assert.deepEqual(frames, [200], 'one frame for the whole batch');
    const bad = await call('POST', '/publish/batch', { body: { messages: [{ room: 'batchroom', body: '' }] } });
    assert.equal(bad.status, 200);
    assert.deepEqual((bad.json.results as Msg[])[0], { ok: false, code: 'invalid_request', message: 'a text body is a non-empty string' });
  });

  it('sends a stored direct message to every session of a user; pushes to one session and to everyone', async () => {
    const b1 = await connectUser(server().wsUrl, 'dmb');
    const b2 = await connectUser(server().wsUrl, 'dmb');
    const r = await call('POST', '/users/dmb/send', { key: KEYS.pub, body: { body: 'hello from the app' } });
    assert.equal(r.status, 200);
    for (const c of [b1, b2]) assert.equal((await c.next((m) => m.type === 'message' && m.to === 'dmb')).from, 'System');
    const h = await b1.call<{ messages: Msg[] }>({ type: 'history', with: 'System' });
    assert.equal(h.messages[0]!.body, 'hello from the app', 'stored');
    const p = await call('POST', `/sessions/${b1.session}/push`, { key: KEYS.pub, body: { text: 'just you', data: { n: 1 } } });
    assert.equal(p.status, 200);
    const n = await b1.next((m) => m.type === 'notice' && m.text === 'just you');
    assert.deepEqual([n.text, n.data], ['just you', { n: 1 }]);
    assert.equal((await call('POST', '/sessions/nosuch/push', { body: { text: 'x' } })).status, 404);
    const all = await call('POST', '/broadcast', { key: KEYS.pub, body: { text: 'maintenance' } });
    assert.ok((all.json.sessions as number) >= 2);
    assert.equal((await b2.next((m) => m.type === 'notice' && m.text === 'maintenance')).from, 'System');
  });

  it('disconnects a user (4010) and refuses its reconnects for banSeconds; disconnects one session', async () => {
    const u1 = await connectUser(server().wsUrl, 'kick');
    const u2 = await connectUser(server().wsUrl, 'kick');
    const other = await connectUser(server().wsUrl, 'stay');
    const r = await call('POST', '/users/kick/disconnect', { body: { reason: 'bye', banSeconds: 60 } });
    assert.deepEqual(r.json, { sessions: 2 });
    for (const c of [u1, u2]) assert.deepEqual(await c.waitClosed(), { code: 4010, reason: 'bye' });
    const again = await connectUser(server().wsUrl, 'kick').catch((e: unknown) => e);
    const closed = again instanceof Error ? again.message : (await (again as Awaited<ReturnType<typeof connectUser>>).waitClosed()).code;
    assert.match(String(closed), /4010/);
    assert.ok(other.isOpen, 'another user is not touched');
    const s = await call('POST', `/sessions/${other.session}/disconnect`, { body: {} });
    assert.equal(s.status, 200);
    assert.equal((await other.waitClosed()).code, 4010);
    assert.equal((await call('POST', '/sessions/gone/disconnect', { body: {} })).status, 404);
  });

  it('answers presence of a room and of a user, and lists rooms', async () => {
    const c = await connectUser(server().wsUrl, 'pres');
    await c.call({ type: 'join', room: 'lobby' });
    const room = await call('GET', '/rooms/lobby/presence', { key: KEYS.read });
    assert.deepEqual(room.json, { room: 'lobby', users: [{ user: 'pres', sessions: 1 }] });
    const user = await call('GET', '/users/pres/presence', { key: KEYS.read });
    assert.deepEqual(user.json, { user: 'pres', online: true, sessions: [{ id: c.session }] });
    assert.deepEqual((await call('GET', '/users/nobody/presence', { key: KEYS.read })).json, { user: 'nobody', online: false, sessions: [] });
    const rooms = (await call('GET', '/rooms', { key: KEYS.read })).json.rooms as Msg[];
    assert.deepEqual(rooms.find((r) => r.room === 'lobby'), { room: 'lobby', kind: 'public', durable: true, managed: false, maxCount: null, maxAgeDays: null, createdAt: null, users: 1, sessions: 1 });
  });

  it('pages the history of a room and of a direct conversation as the WebSocket does', async () => {
    for (let i = 1; i <= 5; i++) await call('POST', '/rooms/hist/publish', { body: { body: `h${i}` } });
    const page = await call('GET', '/rooms/hist/history?limit=2', { key: KEYS.read });
    assert.deepEqual((page.json.messages as Msg[]).map((m) => m.body), ['h4', 'h5']);
    assert.equal(page.json.hasMore, true);
    const older = await call('GET', `/rooms/hist/history?before=4&limit=10`, { key: KEYS.read });
    assert.deepEqual((older.json.messages as Msg[]).map((m) => m.body), ['h1', 'h2', 'h3']);
    const a = await connectUser(server().wsUrl, 'ha');
    await a.call({ type: 'send', to: 'hb', body: 'between us' });
    const dm = await call('GET', '/users/hb/direct/ha/history', { key: KEYS.read });
    assert.deepEqual([(dm.json.messages as Msg[])[0]!.body, dm.json.with], ['between us', 'ha']);
    const bad = await call('GET', '/rooms/hist/history?before=1&after=2', { key: KEYS.read });
    assert.equal(bad.status, 400);
    assert.equal((await call('GET', '/rooms/hist/history?limit=0', { key: KEYS.read })).json.field, 'limit');
  });

  it('mints a client token that connects with its rooms claim', async () => {
    const r = await call('POST', '/tokens', { body: { user: 'minted', rooms: ['private:team-*'], ttlSeconds: 60 } });
    assert.equal(r.status, 200);
    assert.ok((r.json.expiresAt as number) > Date.now() / 1000);
    const c = await connectToken(server().wsUrl, r.json.token as string);
    const joined = await c.call<{ kind: string }>({ type: 'join', room: 'private:team-x' });
    assert.equal(joined.kind, 'private');
    assert.equal((await c.request({ type: 'join', room: 'private:other' })).code, 'forbidden');
  });

  it('refuses bad input with a code, a message and the field; 413 past api.maxBodyBytes; 404 and 405', async () => {
    const unknownField = await call('POST', '/rooms/r/publish', { body: { body: 'x', sender: 'me' } });
    assert.deepEqual([unknownField.status, unknownField.json.code, unknownField.json.field], [400, 'invalid_request', 'sender']);
    const badRoom = await call('POST', '/rooms/bad%20room/publish', { body: { body: 'x' } });
    assert.deepEqual([badRoom.status, badRoom.json.field], [400, 'room']);
    const badJson = await call('POST', '/rooms/r/publish', { raw: '{nope' });
    assert.deepEqual([badJson.status, badJson.json.code], [400, 'invalid_json']);
    const emptyText = await call('POST', '/rooms/r/publish', { body: { body: '' } });
    assert.deepEqual([emptyText.status, emptyText.json.field], [400, 'body']);
    const big = await call('POST', '/rooms/r/publish', { body: { body: 'x'.repeat(20_000) } });
    assert.deepEqual([big.status, big.json.code], [413, 'payload_too_large']);
    // A client still sending a large body reads the 413 rather than a broken pipe.
    for (let i = 0; i < 5; i++) {
      const huge = await call('POST', '/rooms/r/publish', { raw: JSON.stringify({ body: 'y'.repeat(3_000_000) }) });
      assert.equal(huge.status, 413);
    }
    const batchNoScope = await call('POST', '/publish/batch', { key: KEYS.read, body: { messages: [{ room: 'r', body: 'x' }] } });
    assert.deepEqual([batchNoScope.status, batchNoScope.json.code], [403, 'forbidden']);
    assert.equal((await call('GET', '/nope')).status, 404);
    assert.equal((await call('GET', '/rooms/r/publish')).status, 405);
    const health = await fetch(`${server().url}/healthz`);
    assert.equal(health.status, 200, 'the server is fine after all of it');
  });

  it('serves its OpenAPI 3.1 document without a key', async () => {
    const res = await fetch(`${server().url}/api/v1/openapi.json`);
    const doc = (await res.json()) as { openapi: string; paths: Record<string, Record<string, unknown>> };
    assert.equal(doc.openapi, '3.1.0');
    assert.ok(doc.paths['/api/v1/rooms/{room}/publish']?.post);
    assert.ok(doc.paths['/api/v1/tokens']?.post);
  });
});
