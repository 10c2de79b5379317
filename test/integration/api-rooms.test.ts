// test-encodings: json proto lean
/**
 * Rooms and member lists managed through the server API, against a real server process: settings win over the
 * room rules, a member list opens a private room without a token grant, a removed member's sessions leave at once
 * and are told, a deleted room empties, and all of it survives a restart (it is kept in the store).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { connectUser, type Msg } from '../helpers/client.js';
import { startServer, tempDataDir, type TestServer } from '../helpers/server.js';

const KEY = 'sbk_rooms-admin-key';
const READ = 'sbk_rooms-read-key';
const hash = (k: string): string => createHash('sha256').update(k).digest('hex');
const API_KEYS = JSON.stringify([
  { name: 'admin', hash: hash(KEY), scopes: ['admin'] },
  { name: 'reader', hash: hash(READ), scopes: ['read', 'publish'] },
]);

async function call(server: TestServer, method: string, path: string, body?: unknown, key = KEY) {
  const res = await fetch(`${server.url}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

describe('server API: managed rooms and members', () => {
  it('creates, reads, changes, lists and deletes rooms; manages members; all of it kept across a restart', async (t) => {
    const dir = tempDataDir();
    const flags = ['--auth.dev', 'true', '--api.keys', API_KEYS, '--store.file', `${dir}/sb.db`, '--uploads.dir', `${dir}/up`];
    let server = await startServer(flags, { t });

    const created = await call(server, 'POST', '/rooms', { name: 'vip', kind: 'private', maxCount: 100 });
    assert.equal(created.status, 200);
    assert.deepEqual(created.json, { room: 'vip', kind: 'private', durable: true, managed: true, maxCount: 100, maxAgeDays: null, createdAt: created.json.createdAt, users: 0, sessions: 0 });
    const again = await call(server, 'POST', '/rooms', { name: 'vip' });
    assert.deepEqual([again.status, again.json.code], [409, 'conflict']);
    assert.equal((await call(server, 'POST', '/rooms', { name: 'x' }, READ)).status, 403, 'managing needs the admin scope');

    // Not on the list, no grant: refused. On the list: in.
    const alice = await connectUser(server.wsUrl, 'alice');
    assert.equal((await alice.request({ type: 'join', room: 'vip' })).code, 'forbidden');
    assert.deepEqual((await call(server, 'POST', '/rooms/vip/members', { user: 'alice' })).json, { added: true });
    assert.deepEqual((await call(server, 'POST', '/rooms/vip/members', { user: 'alice' })).json, { added: false });
    await call(server, 'POST', '/rooms/vip/members', { user: 'bob' });
    assert.equal((await alice.call<{ kind: string }>({ type: 'join', room: 'vip' })).kind, 'private');
    const bob = await connectUser(server.wsUrl, 'bob');
    await bob.call({ type: 'join', room: 'vip' });
    assert.deepEqual((await call(server, 'GET', '/rooms/vip/members', undefined, READ)).json, { room: 'vip', users: ['alice', 'bob'] });
    assert.deepEqual([(await call(server, 'GET', '/rooms/vip', undefined, READ)).json.users, (await call(server, 'GET', '/rooms/vip')).json.sessions], [2, 2]);

    // Removing a member takes its sessions out at once, told; the others stay and see it leave.
    const removed = await call(server, 'DELETE', '/rooms/vip/members/bob');
    assert.deepEqual(removed.json, { removed: true, sessions: 1 });
    assert.deepEqual(await bob.next('left'), { type: 'left', room: 'vip', reason: 'removed' });
    await alice.next((m: Msg) => m.type === 'presence' && m.event === 'leave' && m.user === 'bob');
    assert.equal((await bob.request({ type: 'publish', room: 'vip', body: 'still here?' })).code, 'not_joined');
    assert.equal((await bob.request({ type: 'join', room: 'vip' })).code, 'forbidden');
    assert.equal((await call(server, 'DELETE', '/rooms/vip/members/bob')).json.removed, false);

    // A changed kind applies at once; the rules' rooms are listed with managed:false.
    const pushed = await call(server, 'PATCH', '/rooms/vip', { kind: 'push' });
    assert.equal(pushed.json.kind, 'push');
    assert.equal((await alice.request({ type: 'publish', room: 'vip', body: 'x' })).code, 'forbidden');
    assert.equal((await call(server, 'POST', '/rooms/vip/publish', { body: 'from the app' }, READ)).status, 200);
    assert.equal((await alice.next((m: Msg) => m.type === 'message' && m.room === 'vip')).body, 'from the app');
    assert.equal((await call(server, 'PATCH', '/rooms/nosuch', { kind: 'push' })).status, 404);
    await alice.call({ type: 'join', room: 'lobby' });
    const list = (await call(server, 'GET', '/rooms', undefined, READ)).json.rooms as Msg[];
    assert.deepEqual(list.map((r) => [r.room, r.managed]), [['lobby', false], ['vip', true]]);

    // Kept in the store: a restarted server knows the room, its kind and its list.
    await server.stop();
    server = await startServer(flags, { t });
    const back = await call(server, 'GET', '/rooms/vip');
    assert.deepEqual([back.json.managed, back.json.kind, back.json.maxCount], [true, 'push', 100]);
    assert.deepEqual((await call(server, 'GET', '/rooms/vip/members')).json.users, ['alice']);
    const alice2 = await connectUser(server.wsUrl, 'alice');
    await call(server, 'PATCH', '/rooms/vip', { kind: 'private' });
    await alice2.call({ type: 'join', room: 'vip' });

    // Deleting empties it here, tells its sessions, and the rules apply again.
    const deleted = await call(server, 'DELETE', '/rooms/vip');
    assert.deepEqual(deleted.json, { sessions: 1 });
    assert.deepEqual(await alice2.next('left'), { type: 'left', room: 'vip', reason: 'deleted' });
    const after = await call(server, 'GET', '/rooms/vip');
    assert.deepEqual([after.json.managed, after.json.kind], [false, 'public']);
    assert.equal((await call(server, 'DELETE', '/rooms/vip')).status, 404);
    await server.stop();
  });
});
