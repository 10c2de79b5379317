// test-encodings: json proto lean
/**
 * Three real server processes as one (a shared PostgreSQL database and a Redis broker under a prefix of the
 * test's own), seen the way users see them: messages and DMs cross nodes exactly once and in order, presence is
 * the same from every node, the server API of one node acts on sessions of another, per-user limits hold across
 * nodes, and a node killed with SIGKILL leaves no ghost and loses its clients nothing.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import WebSocket from 'ws';
import type { WebSocketConstructor } from '../../client/src/index.js';
import { Recorder, sdk, sleep } from '../client/sdk-helpers.js';
import { connect, connectUser, connectWith, roomMessages, type Msg, type TestClient } from '../helpers/client.js';
import { REDIS_URL, redisReachable, startCluster, startHoldingProxy, type TestCluster } from '../helpers/cluster.js';
import { fullHistory, isDmWith, NO_RATE_LIMIT, pump, range, seqs, type Ack } from '../helpers/durable.js';
import { until } from '../helpers/readiness.js';
import type { TestServer } from '../helpers/server.js';

type Nodes = [TestServer, TestServer, TestServer];

const HEARTBEAT_MS = 200;
const LEASE_MS = 1500;
/** `live-*` rooms are pure pub/sub (not stored); the default private and push rules kept. */
const RULES = JSON.stringify([
  { match: 'live-*', kind: 'public', durable: false },
  { match: 'private:*', kind: 'private', durable: true },
  { match: 'push:*', kind: 'push', durable: true },
]);
const BASE = [
  '--auth.dev',
  'true',
  '--welcome.enabled',
  'false',
  ...NO_RATE_LIMIT,
  '--broker.heartbeatMs',
  String(HEARTBEAT_MS),
  '--broker.leaseMs',
  String(LEASE_MS),
  '--rooms.rules',
  RULES,
];

type Ctx = Parameters<typeof startCluster>[0] & { skip(msg?: string): void; diagnostic(msg: string): void };

async function cluster(t: Ctx, flags: readonly string[] = [], nodes = 3, brokerUrl?: (i: number) => string): Promise<TestCluster | null> {
  const c = await startCluster(t, { nodes, flags: [...BASE, ...flags], brokerUrl });
  if (!c) t.skip('Redis or PostgreSQL is not reachable');
  return c;
}

const isPresence = (room: string, user: string, event: 'join' | 'leave') => (m: Msg) =>
  m.type === 'presence' && m.room === room && m.user === user && m.event === event;

interface PresenceData {
  users: { user: string; sessions: number }[];
}
/** A presence answer's users as sorted [user, sessions] pairs. */
function presenceUsers(data: PresenceData): (string | number)[][] {
  return data.users.map((u) => [u.user, u.sessions]).sort((a, b) => String(a[0]).localeCompare(String(b[0])));
}

/** A WebSocket class that connects to the node `target()` names, whatever URL the SDK asks for: its reconnects find another node. */
function redirected(target: () => string): WebSocketConstructor {
  return class RedirectedWebSocket extends WebSocket {
    constructor(url: string) {
      const u = new URL(url);
      u.host = new URL(target()).host;
      super(u.toString());
    }
  };
}

/** The named fields of a message. */
function pick(m: Msg, ...keys: string[]): Record<string, unknown> {
  return Object.fromEntries(keys.map((k) => [k, m[k]]));
}

const isRoom = (room: string) => (m: Msg) => m.type === 'message' && m.room === room;

/** Waits until `c` has received the message with `seq` in `room` (then a round trip, for anything queued behind it). */
async function untilSeq(c: TestClient, room: string, seq: number, timeoutMs = 15_000): Promise<void> {
  await c.waitFor((m) => isRoom(room)(m) && Number(m.seq) >= seq, timeoutMs);
  await c.barrier();
}

describe('cluster: three nodes as one server', () => {
  it('room messages published concurrently on three nodes reach every member once, in seq order, as acknowledged and stored', async (t) => {
    const cl = await cluster(t);
    if (!cl) return;
    const [n1, n2, n3] = cl.nodes as Nodes;
    const room = 'town-square';
    const users = ['ann', 'ben', 'cat'];
    const clients = await Promise.all([connectUser(n1.wsUrl, 'ann'), connectUser(n2.wsUrl, 'ben'), connectUser(n3.wsUrl, 'cat')]);
    for (const c of clients) assert.equal((await c.call<{ seq: number }>({ type: 'join', room })).seq, 0);

    const PER = 200;
    const started = Date.now();
    const results = await Promise.all(
      clients.map((c, u) => pump(c, range(0, PER - 1).map((i) => ({ type: 'publish', room, body: `${users[u]} #${i}`, key: `${users[u]}-${i}` })), { window: 16 })),
    );
    const total = PER * users.length;
    for (const c of clients) await untilSeq(c, room, total);
    t.diagnostic(`${total} messages published on 3 nodes and delivered everywhere in ${Date.now() - started} ms`);

    const stored = (await fullHistory(clients[0]!, { room })).messages;
    assert.deepEqual(seqs(stored), range(1, total), 'the store holds 1..N');
    for (const [u, c] of clients.entries()) {
      const got = roomMessages(c, room);
      assert.deepEqual(seqs(got), range(1, total), `${users[u]} received every seq once, in order`);
      // History carries every message's id and key; a version 2 push leaves both out.
      assert.deepEqual(got, stored.map((m) => c.asReceived(m)), `${users[u]} received what was stored`);
      const r = results[u]!;
      assert.equal(r.errors.size, 0, `${users[u]}: no errors`);
      const acks = r.acks as Ack[];
      assert.equal(acks.filter(Boolean).length, PER, `${users[u]}: every publish acknowledged`);
      acks.forEach((ack, i) => {
        const m = stored[ack.seq - 1]!;
        assert.deepEqual([m.id, m.ts, m.from, m.key], [ack.id, ack.ts, users[u], `${users[u]}-${i}`], `${users[u]}-${i}: ack matches the message`);
      });
      assert.deepEqual(
        acks.map((a) => a.seq),
        [...acks.map((a) => a.seq)].sort((a, b) => a - b),
        `${users[u]}: own messages numbered in the order sent`,
      );
    }
  });

  it('DMs between users on different nodes reach every session of both users, in order; typing crosses nodes; a non-durable room delivers across nodes', async (t) => {
    const cl = await cluster(t);
    if (!cl) return;
    const [n1, n2, n3] = cl.nodes as Nodes;
    // ann on nodes 1 and 2, bob on nodes 3 and 1.
    const [a1, a2, b3, b1] = await Promise.all([connectUser(n1.wsUrl, 'ann'), connectUser(n2.wsUrl, 'ann'), connectUser(n3.wsUrl, 'bob'), connectUser(n1.wsUrl, 'bob')]);
    const PER = 100;
    const [fromAnn, fromBob] = await Promise.all([
      pump(a1, range(0, PER - 1).map((i) => ({ type: 'send', to: 'bob', body: `a→b ${i}`, key: `ab-${i}` })), { window: 16 }),
      pump(b3, range(0, PER - 1).map((i) => ({ type: 'send', to: 'ann', body: `b→a ${i}`, key: `ba-${i}` })), { window: 16 }),
    ]);
    assert.deepEqual([...fromAnn.errors.values(), ...fromBob.errors.values()], [], 'no errors');
    const total = 2 * PER;
    const isDm = (m: Msg): boolean => m.type === 'message' && m.room === undefined;
    for (const c of [a1, a2, b3, b1]) {
      await c.waitFor((m) => isDm(m) && Number(m.seq) >= total, 15_000);
      await c.barrier();
    }
    const stored = (await fullHistory(a1, { with: 'bob' })).messages;
    assert.deepEqual(seqs(stored), range(1, total), 'the conversation holds 1..N');
    for (const [name, c] of Object.entries({ 'ann@1': a1, 'ann@2': a2, 'bob@3': b3, 'bob@1': b1 })) {
      const got = c.all(isDm);
      assert.deepEqual(seqs(got), range(1, total), `${name}: every DM once, in seq order`);
      assert.deepEqual(got, stored.map((m) => c.asReceived(m)), `${name}: the DMs as stored`);
    }
    for (const [r, from] of [[fromAnn, 'ann'], [fromBob, 'bob']] as const)
      r.acks.forEach((ack, i) => assert.deepEqual([stored[ack!.seq - 1]!.id, stored[ack!.seq - 1]!.from], [ack!.id, from], `${from} #${i}: ack matches`));

    // Typing: in a room, to the members on other nodes; to a user, to every session of the user.
    for (const c of [a1, b3]) await c.call({ type: 'join', room: 'typing-room' });
    a1.send({ type: 'typing', room: 'typing-room', active: true });
    assert.deepEqual(await b3.next((m) => m.type === 'typing' && m.room === 'typing-room'), { type: 'typing', room: 'typing-room', from: 'ann', active: true });
    b3.send({ type: 'typing', to: 'ann', active: false });
    for (const c of [a1, a2]) assert.deepEqual(await c.next((m) => m.type === 'typing' && m.to === 'ann'), { type: 'typing', to: 'ann', from: 'bob', active: false });

    // A non-durable room: pure pub/sub across nodes, each member seeing a contiguous seq of its own node's count.
    const room = 'live-chat';
    const c2 = await connectUser(n2.wsUrl, 'cat');
    const members = { 'ann@1': a1, 'bob@3': b3, 'cat@2': c2 };
    const joinedAt = new Map<TestClient, number>();
    for (const c of Object.values(members)) {
      const j = await c.call<{ seq: number; durable: boolean }>({ type: 'join', room });
      assert.equal(j.durable, false);
      joinedAt.set(c, j.seq);
    }
    const LIVE = 30;
    const live = await Promise.all(
      Object.entries(members).map(([name, c]) => pump(c, range(1, LIVE).map((i) => ({ type: 'publish', room, body: `${name} live ${i}` })), { window: 8 })),
    );
    const ids = new Set(live.flatMap((r) => r.acks.map((a) => a!.id)));
    assert.equal(ids.size, 3 * LIVE, 'every publish acknowledged with its own id');
    const bodies = new Set(Object.keys(members).flatMap((name) => range(1, LIVE).map((i) => `${name} live ${i}`)));
    for (const [name, c] of Object.entries(members)) {
      await c.waitFor(() => roomMessages(c, room).length >= 3 * LIVE, 10_000).catch(() => {});
      await c.barrier();
      const got = roomMessages(c, room);
      const from = joinedAt.get(c)!;
      assert.deepEqual(new Set(got.map((m) => m.body)), bodies, `${name}: every message of the room`);
      // Version 2 pushes carry no id (a message is known by its seq, here its node's).
      if (c.carriesMessageIds) assert.deepEqual(new Set(got.map((m) => m.id)), ids, `${name}: the messages acknowledged`);
      assert.deepEqual(seqs(got), range(from + 1, from + 3 * LIVE), `${name}: each once, with a contiguous seq`);
    }
  });

  it('presence is the same from every node (a user with sessions on two nodes counts 2), and joins and leaves are pushed once per user', async (t) => {
    const cl = await cluster(t);
    if (!cl) return;
    const [n1, n2, n3] = cl.nodes as Nodes;
    const room = 'lobby';
    // One member per node first, each joining once the one before has been seen from every earlier node.
    const ann = await connectUser(n1.wsUrl, 'ann');
    const ben = await connectUser(n2.wsUrl, 'ben');
    const cat = await connectUser(n3.wsUrl, 'cat');
    await ann.call({ type: 'join', room });
    await ben.call({ type: 'join', room });
    await ann.waitFor(isPresence(room, 'ben', 'join'));
    await cat.call({ type: 'join', room });
    await Promise.all([ann.waitFor(isPresence(room, 'cat', 'join')), ben.waitFor(isPresence(room, 'cat', 'join'))]);

    // ann's second session, on node 3: no new arrival anywhere. dan then joins on node 3 too, so that the
    // other nodes hear of him after whatever node 3 said of ann (one publisher's messages keep their order).
    const ann3 = await connectUser(n3.wsUrl, 'ann');
    await ann3.call({ type: 'join', room });
    const dan = await connectUser(n3.wsUrl, 'dan');
    await dan.call({ type: 'join', room });
    const watchers = { 'ann@1': ann, 'ben@2': ben, 'cat@3': cat };
    await Promise.all(Object.values(watchers).map((c) => c.waitFor(isPresence(room, 'dan', 'join'))));
    // Each arrival pushed once to each member on every node, and ann's second session no arrival at all. ben and
    // cat joined after ann: each may still be told of her once, if his node heard of her only after he joined.
    const joins = (c: TestClient): string[] => c.all((m) => m.type === 'presence' && m.room === room && m.event === 'join').map((m) => String(m.user));
    const others = (c: TestClient): string[] => joins(c).filter((u) => u !== 'ann');
    assert.deepEqual(joins(ann), ['ann', 'ben', 'cat', 'dan'], 'ann@1: ben, cat and dan arrived once each; no second arrival of ann');
    assert.deepEqual(others(ben), ['ben', 'cat', 'dan'], 'ben@2: cat and dan arrived once each');
    assert.deepEqual(others(cat), ['cat', 'dan'], 'cat@3: dan arrived once');
    for (const [name, c] of Object.entries({ 'ben@2': ben, 'cat@3': cat })) assert.ok(joins(c).length - others(c).length <= 1, `${name}: ann arrived at most once`);
    const joinsSoFar = [joins(ben), joins(cat)];

    const expected = [
      ['ann', 2],
      ['ben', 1],
      ['cat', 1],
      ['dan', 1],
    ];
    const everywhere = async (what: string, want: (string | number)[][]): Promise<void> => {
      for (const [i, c] of [ann, ben, cat].entries()) {
        assert.deepEqual(presenceUsers(await c.call({ type: 'presence', room })), want, `${what}: the presence command on node ${i + 1}`);
        const r = await cl.api(i, 'GET', `/rooms/${room}/presence`);
        assert.equal(r.status, 200);
        assert.deepEqual(presenceUsers(r.json as unknown as PresenceData), want, `${what}: GET /rooms/${room}/presence on node ${i + 1}`);
      }
    };
    await everywhere('four users', expected);
    for (const i of [0, 1, 2]) {
      const r = await cl.api(i, 'GET', '/users/ann/presence');
      const sessions = (r.json.sessions as { id: string }[]).map((s) => s.id).sort();
      assert.deepEqual({ online: r.json.online, sessions }, { online: true, sessions: [ann.session!, ann3.session!].sort() }, `ann's sessions from node ${i + 1}`);
      const nobody = await cl.api(i, 'GET', '/users/nobody/presence');
      assert.deepEqual(nobody.json, { user: 'nobody', online: false, sessions: [] });
    }

    // ann's session on node 3 goes: she is still in the room (on node 1), so nobody is told she left. dan then
    // leaves on node 3: heard after it by the others.
    await ann3.close();
    // Her node has let the session go (no event tells anyone: she is still in the room).
    await until(async () => ((await cl.api(2, 'GET', '/users/ann/presence')).json.sessions as unknown[]).length === 1, "node 3 let ann's session go", 3_000);
    await dan.call({ type: 'leave', room });
    await Promise.all(Object.values(watchers).map((c) => c.waitFor(isPresence(room, 'dan', 'leave'))));
    for (const [name, c] of Object.entries(watchers)) assert.equal(c.all(isPresence(room, 'ann', 'leave')).length, 0, `${name}: ann has not left`);
    await everywhere('ann with one session left', [
      ['ann', 1],
      ['ben', 1],
      ['cat', 1],
    ]);

    // ann's last session disconnects: ben and cat, on other nodes, are told once.
    await ann.close();
    await Promise.all([ben.waitFor(isPresence(room, 'ann', 'leave')), cat.waitFor(isPresence(room, 'ann', 'leave'))]);
    await ben.call({ type: 'leave', room });
    await cat.waitFor(isPresence(room, 'ben', 'leave'));
    const leaves = (c: TestClient): string[] => c.all((m) => m.type === 'presence' && m.room === room && m.event === 'leave').map((m) => String(m.user));
    assert.deepEqual(leaves(ben), ['dan', 'ann'], 'ben@2: dan left, then ann, once each');
    assert.deepEqual(leaves(cat), ['dan', 'ann', 'ben'], 'cat@3: dan, ann and ben left, once each');
    assert.deepEqual([joins(ben), joins(cat)], joinsSoFar, 'no arrival since');
    for (const i of [0, 1, 2]) assert.deepEqual((await cl.api(i, 'GET', '/users/ann/presence')).json, { user: 'ann', online: false, sessions: [] }, `ann offline from node ${i + 1}`);
  });

  it("node 1's server API acts on node 3's sessions: publish, DM, push, broadcast, disconnects, a ban, managed rooms and their members", async (t) => {
    const cl = await cluster(t);
    if (!cl) return;
    const [n1, n2, n3] = cl.nodes as Nodes;
    const api = (method: string, path: string, body?: unknown) => cl.api(0, method, path, body);
    // wendy, on node 1, watches the room: once she sees someone arrive, node 1 knows that someone's sessions.
    const wendy = await connectUser(n1.wsUrl, 'wendy');
    await wendy.call({ type: 'join', room: 'news' });
    const arrived = (user: string) => wendy.waitFor(isPresence('news', user, 'join'));
    const bob = await connectUser(n3.wsUrl, 'bob');
    await bob.call({ type: 'join', room: 'news' });
    await bob.call({ type: 'join', room: 'push:alerts' });
    await arrived('bob');

    // A publish on node 1 reaches the member on node 3, as acknowledged; in a push-only room too.
    const pub = await api('POST', '/rooms/news/publish', { from: 'newsroom', body: 'from the backend', key: 'news-1' });
    assert.equal(pub.status, 200, JSON.stringify(pub.json));
    const got = await bob.next(isRoom('news'));
    // Version 2 identifies a pushed message by its conversation and seq: no id, no key.
    const withIds = bob.carriesMessageIds;
    assert.deepEqual(
      [got.id, got.seq, got.ts, got.from, got.body, got.key],
      [withIds ? pub.json.id : undefined, pub.json.seq, pub.json.ts, 'newsroom', 'from the backend', withIds ? 'news-1' : undefined],
    );
    const alert = await api('POST', '/rooms/push:alerts/publish', { body: 'alert' });
    assert.deepEqual(pick(await bob.next(isRoom('push:alerts')), 'id', 'seq', 'from', 'body'), { id: withIds ? alert.json.id : undefined, seq: 1, from: 'System', body: 'alert' });
    // A direct message from the backend, through node 1, to bob on node 3.
    const dm = await api('POST', '/users/bob/send', { body: 'your order shipped' });
    assert.equal(dm.status, 200);
    assert.deepEqual(pick(await bob.next((m) => m.type === 'message' && m.to === 'bob'), 'id', 'seq', 'from', 'body'), { id: withIds ? dm.json.id : undefined, seq: 1, from: 'System', body: 'your order shipped' });

    // A push to the session on node 3; a session no node has is 404.
    const push = await api('POST', `/sessions/${bob.session}/push`, { text: 'just for you', data: { exportId: 42 } });
    assert.deepEqual([push.status, push.json], [200, { sessions: 1 }]);
    assert.deepEqual(pick(await bob.next('notice'), 'from', 'text', 'data'), { from: 'System', text: 'just for you', data: { exportId: 42 } });
    const none = await api('POST', '/sessions/no-such-session/push', { text: 'x' });
    assert.deepEqual([none.status, none.json.code, none.json.field], [404, 'not_found', 'session']);
    // A broadcast through node 1 reaches every node's sessions.
    const ben = await connectUser(n2.wsUrl, 'ben');
    assert.equal((await api('POST', '/broadcast', { text: 'maintenance at ten' })).status, 200);
    for (const c of [wendy, ben, bob]) assert.equal((await c.next('notice')).text, 'maintenance at ten');

    // Disconnect one session, on node 3, through node 1: that one closes with 4010, the user's other stays.
    const carl1 = await connectUser(n3.wsUrl, 'carl');
    const carl2 = await connectUser(n3.wsUrl, 'carl');
    await carl1.call({ type: 'join', room: 'news' });
    await arrived('carl');
    const one = await api('POST', `/sessions/${carl1.session}/disconnect`, { reason: 'signed out elsewhere' });
    assert.deepEqual([one.status, one.json], [200, { sessions: 1 }]);
    assert.deepEqual(await carl1.waitClosed(), { code: 4010, reason: 'signed out elsewhere' });
    await carl2.barrier();
    assert.ok(carl2.isOpen, "carl's other session stays");

    // Disconnect a user with sessions on nodes 2 and 3 through node 1: both close with 4010.
    const dave3 = await connectUser(n3.wsUrl, 'dave');
    await dave3.call({ type: 'join', room: 'news' });
    await arrived('dave');
    const dave2 = await connectUser(n2.wsUrl, 'dave');
    // erin joins on node 2 after dave's session there: once node 1 has heard of her, it has heard of it.
    const erin = await connectUser(n2.wsUrl, 'erin');
    await erin.call({ type: 'join', room: 'news' });
    await arrived('erin');
    const both = await api('POST', '/users/dave/disconnect', { reason: 'account suspended' });
    assert.deepEqual([both.status, both.json], [200, { sessions: 2 }]);
    for (const c of [dave2, dave3]) assert.deepEqual(await c.waitClosed(), { code: 4010, reason: 'account suspended' });

    // A ban through node 1: erin's session on node 2 closes, and her new connections on nodes 2 and 3 are refused.
    const banned = await api('POST', '/users/erin/disconnect', { banSeconds: 60 });
    assert.deepEqual(banned.json, { sessions: 1 });
    assert.equal((await erin.waitClosed()).code, 4010);
    // Node 3 hears of the ban over the broker, a moment later: a broadcast through node 1, sent after the ban on the
    // same channel, reaches bob on node 3 (and ben on node 2) only once the ban is in place there.
    assert.equal((await api('POST', '/broadcast', { text: 'after the ban' })).status, 200);
    for (const c of [bob, ben]) await c.next((m) => m.type === 'notice' && m.text === 'after the ban');
    for (const node of [n2, n3]) {
      const again = await connect(`${node.wsUrl}?user=erin`);
      assert.deepEqual(await again.waitClosed(), { code: 4010, reason: 'refused by the server for a while; try again later' }, `erin refused on ${node.url}`);
    }

    // A private room managed through node 1: a member added there may join on node 3, others may not.
    const created = await api('POST', '/rooms', { name: 'vip', kind: 'private' });
    assert.deepEqual([created.status, created.json.kind, created.json.managed], [200, 'private', true]);
    for (const user of ['bob', 'wendy', 'zed']) assert.deepEqual((await api('POST', '/rooms/vip/members', { user })).json, { added: true });
    const outsider = await connectUser(n3.wsUrl, 'olga');
    assert.equal((await outsider.request({ type: 'join', room: 'vip' })).code, 'forbidden', 'a non-member is refused on node 3');
    assert.equal((await bob.call<{ kind: string }>({ type: 'join', room: 'vip' })).kind, 'private', 'the member joins on node 3');
    await wendy.call({ type: 'join', room: 'vip' });
    const zed = await connectUser(n2.wsUrl, 'zed');
    await zed.call({ type: 'join', room: 'vip' });
    // Removed through node 1: bob's session on node 3 is told, the others see him leave, and he may not come back.
    const removed = await api('DELETE', '/rooms/vip/members/bob');
    assert.equal(removed.json.removed, true);
    assert.deepEqual(await bob.next('left'), { type: 'left', room: 'vip', reason: 'removed' });
    for (const c of [wendy, zed]) await c.waitFor(isPresence('vip', 'bob', 'leave'));
    assert.deepEqual(await bob.call({ type: 'rooms' }), { rooms: ['news', 'push:alerts'] });
    assert.equal((await bob.request({ type: 'join', room: 'vip' })).code, 'forbidden', 'no longer a member');
    // The room deleted through node 1: zed, on node 2, is told.
    assert.equal((await api('DELETE', '/rooms/vip')).status, 200);
    assert.deepEqual(await zed.next('left'), { type: 'left', room: 'vip', reason: 'deleted' });
    assert.deepEqual(await wendy.next('left'), { type: 'left', room: 'vip', reason: 'deleted' });
  });

  it("sessions.policy replace across nodes: a session on node 2 replaces the same user's session on node 1 (4003)", async (t) => {
    const cl = await cluster(t, ['--sessions.policy', 'replace'], 2);
    if (!cl) return;
    const [n1, n2] = cl.nodes as Nodes;
    const old = await connectUser(n1.wsUrl, 'frank');
    await old.call({ type: 'join', room: 'den' });
    const watcher = await connectUser(n2.wsUrl, 'wendy');
    await watcher.call({ type: 'join', room: 'den' });
    const fresh = await connectUser(n2.wsUrl, 'frank');
    assert.deepEqual(await old.waitClosed(5_000), { code: 4003, reason: 'replaced by a newer session' });
    // Node 2 hears that the old session left the room (the new one is in no room).
    await watcher.waitFor(isPresence('den', 'frank', 'leave'));
    await fresh.barrier();
    assert.ok(fresh.isOpen, 'the newer session stays');
    for (const i of [0, 1]) {
      const r = await cl.api(i, 'GET', '/users/frank/presence');
      assert.deepEqual(r.json, { user: 'frank', online: true, sessions: [{ id: fresh.session }] }, `frank's one session, from node ${i + 1}`);
    }
    // And the other way round: frank on node 1 again replaces the session on node 2.
    const third = await connectUser(n1.wsUrl, 'frank');
    assert.equal((await fresh.waitClosed(5_000)).code, 4003);
    await third.barrier();
    assert.ok(third.isOpen);

    // Two sessions of one user opening at once on the two nodes: whatever each node knew, exactly one stays.
    const ivy = await Promise.all([n1, n2].map((n) => connect(`${n.wsUrl}?user=ivy`)));
    const stays = (): TestClient[] => ivy.filter((c) => c.closeInfo === null);
    await until(async () => {
      if (stays().length !== 1 || stays()[0]!.session === undefined) return false;
      for (const i of [0, 1]) if (JSON.stringify((await cl.api(i, 'GET', '/users/ivy/presence')).json.sessions) !== JSON.stringify([{ id: stays()[0]!.session }])) return false;
      return true;
    }, "one of ivy's two sessions open, and listed so by both nodes", 5_000);
    assert.deepEqual(ivy.find((c) => c.closeInfo !== null)!.closeInfo, { code: 4003, reason: 'replaced by a newer session' });
    await stays()[0]!.barrier();
    assert.equal(stays().length, 1);
  });

  it('sessions.maxPerUser 2 across nodes: a third session on a third node is refused (4007); three at once leave exactly two', async (t) => {
    const cl = await cluster(t, ['--sessions.maxPerUser', '2']);
    if (!cl) return;
    const [n1, n2, n3] = cl.nodes as Nodes;
    // otto, on node 3, watches the hall: once he sees someone arrive, node 3 knows that node's sessions so far.
    const otto = await connectUser(n3.wsUrl, 'otto');
    await otto.call({ type: 'join', room: 'hall' });
    const g1 = await connectUser(n1.wsUrl, 'gus');
    await g1.call({ type: 'join', room: 'hall' });
    const g2 = await connectUser(n2.wsUrl, 'gus');
    const hal = await connectUser(n2.wsUrl, 'hal');
    await hal.call({ type: 'join', room: 'hall' });
    await Promise.all([otto.waitFor(isPresence('hall', 'gus', 'join')), otto.waitFor(isPresence('hall', 'hal', 'join'))]);
    const g3 = await connect(`${n3.wsUrl}?user=gus`);
    assert.deepEqual(await g3.waitClosed(), { code: 4007, reason: 'at most 2 sessions per user' });
    assert.equal(g3.session, undefined, 'refused before it was a session');
    for (const c of [g1, g2]) {
      await c.barrier();
      assert.ok(c.isOpen, 'the first two stay');
    }

    // Three sessions of one user on three nodes at once: whatever each node knew, exactly one is closed.
    const hugo = await Promise.all(cl.nodes.map((n) => connect(`${n.wsUrl}?user=hugo`)));
    const open = (): TestClient[] => hugo.filter((c) => c.closeInfo === null);
    await until(async () => {
      if (open().length !== 2) return false;
      const ids = open().map((c) => c.session).sort();
      for (const i of [0, 1, 2]) {
        const r = await cl.api(i, 'GET', '/users/hugo/presence');
        if (JSON.stringify((r.json.sessions as { id: string }[]).map((s) => s.id).sort()) !== JSON.stringify(ids)) return false;
      }
      return true;
    }, 'two of hugo\'s sessions open, and listed so by every node');
    const closed = hugo.filter((c) => c.closeInfo !== null);
    assert.equal(closed.length, 1);
    assert.deepEqual(closed[0]!.closeInfo, { code: 4007, reason: 'at most 2 sessions per user' });
    for (const c of open()) {
      await c.barrier();
      assert.ok(c.isOpen, 'the two others stay');
    }
  });

  it('a node killed with SIGKILL: no ghost presence after the lease, and its clients recover every missed message on other nodes', async (t) => {
    const cl = await cluster(t);
    if (!cl) return;
    const [n1, n2, n3] = cl.nodes as Nodes;
    const room = 'survive';
    // Publishers on nodes 1 and 2 (they watch the room too).
    const pam = await connectUser(n1.wsUrl, 'pam');
    const pete = await connectUser(n2.wsUrl, 'pete');
    for (const c of [pam, pete]) await c.call({ type: 'join', room });
    // On node 3: vic (reconnects by hand to node 1), sue (the SDK, reconnecting to node 2), gil (never comes back).
    const vic = await connectUser(n3.wsUrl, 'vic');
    const gil = await connectUser(n3.wsUrl, 'gil');
    let sueGoesTo = n3.wsUrl;
    const sue = sdk(t, n3.wsUrl, { user: 'sue', WebSocket: redirected(() => sueGoesTo) });
    const rs = new Recorder(sue);
    await sue.connect();
    await sue.join(room);
    for (const c of [vic, gil]) await c.call({ type: 'join', room });
    for (const c of [pam, pete]) for (const user of ['vic', 'sue', 'gil']) await c.waitFor(isPresence(room, user, 'join'));

    // A steady stream: pam and pete publish to the room, pete sends vic DMs.
    const N = 150;
    const paced = async (c: TestClient, cmds: Record<string, unknown>[]): Promise<Msg[]> => {
      const replies: Promise<Msg>[] = [];
      for (const cmd of cmds) {
        replies.push(c.request(cmd, 20_000));
        await sleep(8);
      }
      return Promise.all(replies);
    };
    const streams = Promise.all([
      paced(pam, range(1, N).map((i) => ({ type: 'publish', room, body: `pam ${i}`, key: `pam-${i}` }))),
      paced(pete, range(1, N).flatMap((i) => [{ type: 'publish', room, body: `pete ${i}`, key: `pete-${i}` }, ...(i % 2 ? [{ type: 'send', to: 'vic', body: `dm ${i}`, key: `dm-${i}` }] : [])])),
    ]);

    // Mid-stream, node 3 dies; sue's SDK will find node 2 when it reconnects.
    await vic.waitFor((m) => isRoom(room)(m) && Number(m.seq) >= 60, 10_000);
    sueGoesTo = n2.wsUrl;
    const killedAt = Date.now();
    n3.proc.kill('SIGKILL');
    await n3.exited;
    assert.equal((await vic.closed).code, 1006, 'the connection just went');

    // vic reconnects by hand to node 1, resuming: the room from the last seq seen, DMs with sync.
    const seenRoom = roomMessages(vic, room);
    const seenDms = vic.all(isDmWith('vic', 'pete'));
    const lastRoom = Number(seenRoom.at(-1)!.seq);
    const lastDm = Number(seenDms.at(-1)?.seq ?? 0);
    const back = await connectWith(`${n1.wsUrl}?user=vic&resume=1`);
    const rejoin = await back.call<{ seq: number; recovered: boolean; missed: number }>({ type: 'join', room, since: lastRoom });
    assert.equal(rejoin.recovered, true);
    const sync = await back.call<{ recovered: boolean }>({ type: 'sync', with: 'pete', since: lastDm });
    assert.equal(sync.recovered, true);

    // No ghost: within the lease (and a heartbeat) nodes 1 and 2 drop node 3's sessions; pam and pete see gil leave.
    const ghostGone = await Promise.all(
      [pam, pete].map(async (c) => {
        await c.waitFor(isPresence(room, 'gil', 'leave'), LEASE_MS + HEARTBEAT_MS + 3_000);
        return Date.now() - killedAt;
      }),
    );
    t.diagnostic(`gil's leave reached nodes 1 and 2 ${ghostGone.join(' and ')} ms after the kill (lease ${LEASE_MS} ms, heartbeat ${HEARTBEAT_MS} ms)`);
    for (const ms of ghostGone) assert.ok(ms <= LEASE_MS + HEARTBEAT_MS + 1_000, `within the lease and a heartbeat (with 1 s to spare for a loaded machine): ${ms} ms`);
    for (const node of [n1, n2]) await node.waitForLog((l) => l.msg === 'a node went silent for longer than its lease: its sessions are gone');
    // What remains listed is the reconnected sessions only, from either node (vic's on node 1, sue's on node 2).
    const want = [
      ['pam', 1],
      ['pete', 1],
      ['sue', 1],
      ['vic', 1],
    ];
    await until(async () => {
      for (const [i, c] of [pam, pete].entries()) {
        if (JSON.stringify(presenceUsers(await c.call({ type: 'presence', room }))) !== JSON.stringify(want)) return false;
        if (JSON.stringify(presenceUsers((await cl.api(i, 'GET', `/rooms/${room}/presence`)).json as unknown as PresenceData)) !== JSON.stringify(want)) return false;
      }
      return true;
    }, 'presence without node 3', 5_000);
    for (const i of [0, 1]) {
      assert.deepEqual((await cl.api(i, 'GET', '/users/gil/presence')).json, { user: 'gil', online: false, sessions: [] }, `gil offline from node ${i + 1}`);
      assert.deepEqual((await cl.api(i, 'GET', '/users/vic/presence')).json, { user: 'vic', online: true, sessions: [{ id: back.session }] }, `vic's one session from node ${i + 1}`);
    }
    for (const c of [pam, pete]) {
      assert.equal(c.all(isPresence(room, 'gil', 'leave')).length, 1, 'gil left once');
      for (const user of ['vic', 'sue']) assert.equal(c.all(isPresence(room, user, 'leave')).length, 0, `${user} came back within the lease: never gone`);
    }

    // Every publish acknowledged and stored, gap-free.
    const [pamReplies, peteReplies] = await streams;
    for (const r of [...pamReplies, ...peteReplies]) assert.equal(r.type, 'reply', JSON.stringify(r));
    const total = 2 * N;
    const dms = Math.ceil(N / 2);
    const storedRoom = (await fullHistory(pam, { room })).messages;
    const storedDms = (await fullHistory(pete, { with: 'vic' })).messages;
    assert.deepEqual(seqs(storedRoom), range(1, total));
    assert.deepEqual(seqs(storedDms), range(1, dms));

    // Everything is stored and acknowledged: what has not arrived within a few seconds will not.
    await Promise.all([
      untilSeq(back, room, total, 3_000),
      back.waitFor((m) => isDmWith('vic', 'pete')(m) && Number(m.seq) >= dms, 3_000),
      rs.until(() => rs.of({ room }).length >= total, 'sue has every message', 3_000),
      untilSeq(pam, room, total, 3_000),
      untilSeq(pete, room, total, 3_000),
    ]).catch(() => {});
    await back.barrier();
    // pam and pete never went away; vic and sue rejoined (with since) on their nodes meanwhile.
    for (const [name, c] of Object.entries({ 'pam@1': pam, 'pete@2': pete })) assert.deepEqual(roomMessages(c, room), storedRoom.map((m) => c.asReceived(m)), `${name}: every message once, in order`);

    await t.test('vic (by hand) and sue (the SDK) recover every room message: no gap, no duplicate', () => {
      assert.equal(rejoin.missed, rejoin.seq - lastRoom, "vic's join: missed is what came after the last seq seen");
      const vicRoom = [...seenRoom, ...roomMessages(back, room)];
      assert.deepEqual(seqs(vicRoom), range(1, total), 'vic: every room message once, in order, across the reconnect');
      assert.deepEqual(vicRoom, storedRoom.map((m) => back.asReceived(m)), 'vic: as stored');
      const sueRoom = rs.of({ room });
      assert.deepEqual(
        sueRoom.map((m) => m.seq),
        range(1, total),
        'sue (SDK): every room message once, in order',
      );
      assert.deepEqual(
        sueRoom.map((m) => [m.id, m.from, m.body]),
        storedRoom.map((m) => [m.id, m.from, m.body]),
        'sue (SDK): as stored',
      );
      assert.deepEqual(rs.gaps, [], 'sue (SDK): no gap');
      // The SDK drops a message it already has: from the server's replay and live messages (or its own gap fills), none.
      assert.equal(sue.duplicatesDropped, 0, 'sue (SDK): no duplicate reached the SDK, and it had no gap to fill');
    });
    await t.test('vic recovers every DM with resume and sync: no gap, no duplicate', () => {
      const vicDms = [...seenDms, ...back.all(isDmWith('vic', 'pete'))];
      assert.deepEqual(seqs(vicDms), range(1, dms), 'vic: every DM once, in order, across the reconnect');
      assert.deepEqual(vicDms, storedDms.map((m) => back.asReceived(m)), 'vic: DMs as stored');
    });
    t.diagnostic(`vic missed ${rejoin.missed} room messages while away; sue's recoveries: ${JSON.stringify(rs.recoveries)}`);
  });

  it('a recovering join (since) on a node where the room has members: the members there keep every message, and the joiner gets exactly what it missed', async (t) => {
    const cl = await cluster(t, [], 2);
    if (!cl) return;
    const [n1, n2] = cl.nodes as Nodes;
    const room = 'rejoined';
    const pam = await connectUser(n1.wsUrl, 'pam');
    const pete = await connectUser(n2.wsUrl, 'pete');
    const jo = await connectUser(n1.wsUrl, 'jo');
    for (const c of [pam, pete]) await c.call({ type: 'join', room });
    // pete, on node 2, publishes; meanwhile jo, on node 1, leaves and comes back with since, again and again.
    const N = 300;
    let done = false;
    const pumping = pump(pete, range(1, N).map((i) => ({ type: 'publish', room, body: `m${i}` })), { window: 16 }).then((r) => ((done = true), r));
    const replies: { since: number; seq: number; missed: number; recovered: boolean }[] = [];
    while (!done) {
      const seen = roomMessages(jo, room);
      const since = seen.length > 0 ? Number(seen.at(-1)!.seq) : 0;
      replies.push({ since, ...(await jo.call<{ seq: number; missed: number; recovered: boolean }>({ type: 'join', room, since })) });
      await jo.call({ type: 'leave', room });
    }
    assert.equal((await pumping).acks.filter(Boolean).length, N);
    await untilSeq(pam, room, N, 3_000).catch(() => {});
    t.diagnostic(`${replies.length} recovering joins while ${N} messages came from node 2`);
    const missing = range(1, N).filter((seq) => !seqs(roomMessages(pam, room)).includes(seq));
    assert.deepEqual(missing, [], 'pam, on node 1 all along, misses nothing');
    assert.deepEqual(seqs(roomMessages(pam, room)), range(1, N), 'pam: every message once, in order');
    await t.test('each recovering join replays exactly what came after since, up to its seq', () => {
      const wrong = replies.filter((r) => !r.recovered || r.missed !== r.seq - r.since);
      assert.deepEqual(wrong, [], 'missed = seq − since');
      const got = seqs(roomMessages(jo, room));
      assert.deepEqual(got, range(1, got.length), 'jo: replays and live messages join up with no gap and no duplicate');
    });
  });
  it('a direct message held up between nodes still reaches the recipient, before the one sent after it', async (t) => {
    if (!(await redisReachable())) return t.skip('Redis is not reachable');
    // Node 1 reaches Redis through a proxy that can hold back what node 1 sends: a slow hop.
    const slow = await startHoldingProxy(t);
    const cl = await cluster(t, [], 2, (i) => (i === 0 ? slow.url : REDIS_URL));
    if (!cl) return;
    const [n1, n2] = cl.nodes as Nodes;
    const ann = await connectUser(n1.wsUrl, 'ann');
    const bob = await connectUser(n2.wsUrl, 'bob');
    slow.hold();
    const first = await ann.call<Ack>({ type: 'send', to: 'bob', body: 'first' });
    // Stored: its way to node 2 is slow. bob answers meanwhile, from node 2.
    const second = await bob.call<Ack>({ type: 'send', to: 'ann', body: 'second' });
    assert.deepEqual([first.seq, second.seq], [1, 2]);
    slow.release();
    for (const [name, c] of Object.entries({ 'ann@1': ann, 'bob@2': bob })) {
      await c.waitFor((m) => m.type === 'message' && m.seq === 2, 3_000);
      await c.waitFor((m) => m.type === 'message' && m.seq === 1, 1_500).catch(() => {});
      await c.barrier();
      assert.deepEqual(
        c.all('message').map((m) => [m.seq, m.body]),
        [
          [1, 'first'],
          [2, 'second'],
        ],
        `${name}: both messages, in seq order`,
      );
    }
  });
  it('a session that connects with resume and syncs gets each direct message once, on a node where its conversation had no stream yet', async (t) => {
    // A long broker.gapWaitMs makes the window in which a new stream's first messages wait easy to hit.
    const cl = await cluster(t, ['--broker.gapWaitMs', '1000'], 2);
    if (!cl) return;
    const [n1, n2] = cl.nodes as Nodes;
    const pete = await connectUser(n2.wsUrl, 'pete');
    const vic = await connectWith(`${n1.wsUrl}?user=vic&resume=1`);
    // vic's first direct message on node 1 comes from node 2; vic recovers the conversation as a client does.
    assert.equal((await pete.call<Ack>({ type: 'send', to: 'vic', body: 'one' })).seq, 1);
    assert.deepEqual(await vic.call({ type: 'sync', with: 'pete', since: 0 }), { with: 'pete', recovered: true, missed: 1, seq: 1 });
    assert.equal((await pete.call<Ack>({ type: 'send', to: 'vic', body: 'two' })).seq, 2);
    await vic.waitFor((m) => m.type === 'message' && m.seq === 2, 5_000);
    await vic.barrier();
    assert.deepEqual(
      vic.all('message').map((m) => [m.seq, m.body]),
      [
        [1, 'one'],
        [2, 'two'],
      ],
      'each once, in order',
    );
  });
});
