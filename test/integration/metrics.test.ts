/**
 * Metrics, admin stats and debug endpoints against a real server process: the counters move by exactly what a
 * publish does (messages in +1, deliveries +N for a room of N, a commit, an ack timed), /metrics is Prometheus
 * text with no user or room name in a label, the stats JSON has its documented shape and values (slow consumers
 * included), and the debug endpoints exist only when enabled, only for admin keys, one at a time.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { connectToken, connectUser, type TestClient } from '../helpers/client.js';
import { makeToken, TEST_SECRET } from '../helpers/jwt.js';
import { serverFor } from '../helpers/shared-server.js';
import type { TestServer } from '../helpers/server.js';
import { publishUntil, SLOW_CONSUMER_LIMITS } from '../helpers/slow-consumer.js';

const KEYS = { admin: 'sbk_metrics-admin', read: 'sbk_metrics-read', pub: 'sbk_metrics-publish' };
const hash = (k: string): string => createHash('sha256').update(k).digest('hex');
const API_KEYS = JSON.stringify([
  { name: 'admin', hash: hash(KEYS.admin), scopes: ['admin'] },
  { name: 'reader', hash: hash(KEYS.read), scopes: ['read'] },
  { name: 'publisher', hash: hash(KEYS.pub), scopes: ['publish'] },
]);
const BASE = ['--auth.dev', 'true', '--auth.jwt.secret', TEST_SECRET, '--api.keys', API_KEYS];

async function get(srv: TestServer, path: string, key?: string, method = 'GET'): Promise<Response> {
  return fetch(`${srv.url}${path}`, { method, headers: key ? { authorization: `Bearer ${key}` } : {} });
}

/**
 * Every sample of a Prometheus text exposition: `name{labels}` → value. Fails on a line that is not one. (prom-client
 * writes NaN as `Nan`, an event-loop lag with no sample since the last scrape; Prometheus reads it case-insensitively.)
 */
function parseProm(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      assert.match(line, /^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* /, `comment line: ${line}`);
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (-?[0-9.e+-]+|[Nn]a[Nn]|[+-]Inf)$/.exec(line);
    assert.ok(m, `not a Prometheus sample line: ${line}`);
    samples.set(`${m[1]}${m[2] ?? ''}`, Number(m[3]));
  }
  return samples;
}

async function scrape(srv: TestServer, key?: string): Promise<{ text: string; samples: Map<string, number> }> {
  const res = await get(srv, '/metrics', key);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  return { text, samples: parseProm(text) };
}

const value = (s: Map<string, number>, series: string): number => {
  const v = s.get(series);
  assert.ok(v !== undefined, `${series} is exposed`);
  return v;
};

describe('metrics and stats', () => {
  const srv = serverFor(BASE);
  const ROOM = 'metrics-room';
  const USERS = ['mu-alice', 'mu-bob', 'mu-carol', 'mu-dave'];
  let clients: TestClient[] = [];

  it('a publish to a room of N raises messages in by 1, deliveries by N, the commits and the ack histogram', async () => {
    clients = await Promise.all(USERS.map((u) => connectUser(srv().wsUrl, u)));
    for (const c of clients) await c.call({ type: 'join', room: ROOM });
    for (const c of clients) await c.barrier();
    const before = (await scrape(srv())).samples;
    const [alice] = clients;
    const ack = await alice!.call<{ seq: number }>({ type: 'publish', room: ROOM, body: 'counted' });
    for (const c of clients) await c.waitFor((m) => m.type === 'message' && m.room === ROOM && m.seq === ack.seq);
    const after = (await scrape(srv())).samples;
    const delta = (series: string): number => value(after, series) - value(before, series);
    assert.equal(delta('switchboard_messages_in_total{type="publish"}'), 1);
    assert.equal(delta('switchboard_messages_in_total{type="ping"}'), 0);
    assert.equal(delta('switchboard_deliveries_total'), USERS.length, 'one delivery per member, the publisher included');
    assert.ok(delta('switchboard_store_commit_seconds_count') >= 1, 'the message was committed');
    assert.ok(delta('switchboard_store_commit_messages_sum') >= 1);
    assert.equal(delta('switchboard_publish_ack_seconds_count{type="publish"}'), 1);
    assert.ok(delta('switchboard_frames_written_total') >= USERS.length, 'a frame to each member');
    assert.ok(delta('switchboard_bytes_written_total') > 0);
    assert.equal(value(after, 'switchboard_sessions{auth="dev"}'), USERS.length);
    assert.ok(value(after, 'switchboard_rooms{kind="public"}') >= 1);
    assert.ok(value(after, 'switchboard_users_online') >= USERS.length);
  });

  it('counts sessions by how they authenticated', async () => {
    const t = await connectToken(srv().wsUrl, await makeToken('mu-token-user'));
    const s = (await scrape(srv())).samples;
    assert.equal(value(s, 'switchboard_sessions{auth="token"}'), 1);
    assert.ok(value(s, 'switchboard_sessions_opened_total{auth="token"}') >= 1);
    await t.close();
  });

  it('counts server API requests by route template and status, never by the filled-in path', async () => {
    const res = await get(srv(), `/api/v1/rooms/${ROOM}/presence`, KEYS.read);
    assert.equal(res.status, 200);
    await res.arrayBuffer();
    assert.equal((await get(srv(), '/api/v1/rooms', KEYS.pub)).status, 403);
    assert.equal((await get(srv(), `/api/v1/no/such/${ROOM}`, KEYS.read)).status, 404);
    const { samples } = await scrape(srv());
    assert.ok(value(samples, 'switchboard_api_requests_total{method="GET",route="/api/v1/rooms/{room}/presence",status="200"}') >= 1);
    assert.ok(value(samples, 'switchboard_api_requests_total{method="GET",route="/api/v1/rooms",status="403"}') >= 1);
    assert.ok(value(samples, 'switchboard_api_requests_total{method="GET",route="unmatched",status="404"}') >= 1);
    assert.ok(value(samples, 'switchboard_api_request_duration_seconds_count{method="GET",route="/api/v1/rooms/{room}/presence"}') >= 1);
  });

  it('is Prometheus text with HELP and TYPE for each metric, and no user or room name in any label', async () => {
    const { text, samples } = await scrape(srv());
    for (const name of ['switchboard_connections', 'switchboard_deliveries_total', 'switchboard_store_commit_seconds', 'switchboard_event_loop_utilization'])
      assert.match(text, new RegExp(`^# TYPE ${name} (gauge|counter|histogram)$`, 'm'));
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_p99_seconds', 'nodejs_heap_size_used_bytes'])
      assert.ok([...samples.keys()].some((k) => k.startsWith(name)), `${name} (prom-client's default metrics)`);
    // Declared always; its samples only once the process has collected garbage, which a young server may not have.
    assert.match(text, /^# TYPE nodejs_gc_duration_seconds histogram$/m, 'GC');
    const labelValues = [...samples.keys()].flatMap((k) => [...k.matchAll(/="((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]!));
    for (const name of [ROOM, ...USERS, 'mu-token-user']) assert.ok(!labelValues.some((v) => v.includes(name)), `${name} in a label`);
    assert.ok(!text.includes(ROOM), 'the room name appears nowhere');
    const head = await get(srv(), '/metrics', undefined, 'HEAD');
    assert.equal(head.status, 200);
    assert.equal((await get(srv(), '/metrics', undefined, 'POST')).status, 405);
  });

  it('answers the admin stats to a read or admin key, in their shape, with the room and its rate', async () => {
    assert.equal((await get(srv(), '/api/v1/admin/stats')).status, 401);
    assert.equal((await get(srv(), '/api/v1/admin/stats', KEYS.pub)).status, 403);
    const first = (await (await get(srv(), '/api/v1/admin/stats', KEYS.read)).json()) as Record<string, any>;
    const [alice] = clients;
    for (let i = 0; i < 5; i++) await alice!.call({ type: 'publish', room: ROOM, body: `rate ${i}` });
    const res = await get(srv(), '/api/v1/admin/stats', KEYS.admin);
    assert.equal(res.status, 200);
    const s = (await res.json()) as Record<string, any>;
    assert.deepEqual(Object.keys(s).sort(), ['connections', 'queueBytes', 'recentSlowConsumers', 'rooms', 'sessions', 'store', 'topRoomsByMembers', 'topRoomsByRate', 'totals', 'ts', 'uptimeSec', 'users'].sort());
    assert.deepEqual(Object.keys(s.totals).sort(), ['bytesOut', 'deliveries', 'framesOut', 'messagesIn', 'slowConsumerCloses']);
    assert.deepEqual(Object.keys(s.store).sort(), ['backlog', 'commitP50Ms', 'commitP99Ms']);
    assert.ok(Math.abs(s.ts - Date.now()) < 5_000);
    assert.ok(s.uptimeSec >= 0);
    assert.equal(s.sessions, USERS.length);
    assert.ok(s.connections >= USERS.length);
    assert.equal(s.users, USERS.length);
    assert.ok(s.rooms >= 1);
    assert.ok(s.totals.messagesIn >= first.totals.messagesIn + 5, 'totals only grow');
    assert.equal(s.totals.deliveries, first.totals.deliveries + 5 * USERS.length);
    assert.ok(s.totals.framesOut > first.totals.framesOut && s.totals.bytesOut > first.totals.bytesOut);
    assert.equal(typeof s.store.commitP50Ms, 'number');
    assert.ok(s.store.commitP99Ms >= s.store.commitP50Ms);
    assert.equal(s.store.backlog, 0);
    assert.equal(typeof s.queueBytes, 'number');
    assert.deepEqual(s.topRoomsByMembers[0], { room: ROOM, sessions: USERS.length, users: USERS.length });
    assert.ok(s.topRoomsByMembers.length <= 10);
    const rate = (s.topRoomsByRate as { room: string; messagesPerSec: number }[]).find((r) => r.room === ROOM);
    assert.ok(rate && rate.messagesPerSec > 0, `${ROOM} in ${JSON.stringify(s.topRoomsByRate)}`);
    assert.deepEqual(s.recentSlowConsumers, []);
  });

  it('answers 404 at the debug paths when debug is off', async () => {
    for (const path of ['/api/v1/debug/cpu-profile?seconds=1', '/api/v1/debug/heap-snapshot']) assert.equal((await get(srv(), path, KEYS.admin, 'POST')).status, 404);
  });
});

describe('metrics behind a key, slow consumers in the stats, and the debug endpoints', () => {
  const srv = serverFor([
    ...BASE,
    '--metrics.requireKey',
    'true',
    '--debug.enabled',
    'true',
    ...SLOW_CONSUMER_LIMITS,
    '--rooms.rules',
    JSON.stringify([{ match: '*', durable: false }]),
  ]);

  it('asks a scrape for a key with the read scope (metrics.requireKey)', async () => {
    const open = await get(srv(), '/metrics');
    assert.equal(open.status, 401);
    assert.equal(open.headers.get('www-authenticate'), 'Bearer');
    assert.equal((await get(srv(), '/metrics', 'sbk_unknown')).status, 401);
    assert.equal((await get(srv(), '/metrics', KEYS.pub)).status, 403);
    await scrape(srv(), KEYS.read);
    await scrape(srv(), KEYS.admin);
  });

  it('lists a slow consumer among the recent ones and counts its close by code', async () => {
    const slow = await connectUser(srv().wsUrl, 'mu-slow');
    const pub = await connectUser(srv().wsUrl, 'mu-pub');
    for (const c of [slow, pub]) await c.call({ type: 'join', room: 'flood' });
    await slow.barrier();
    slow.socket.pause();
    const closedOne = async (): Promise<boolean> => ((await (await get(srv(), '/api/v1/admin/stats', KEYS.read)).json()) as Record<string, any>).totals.slowConsumerCloses > 0;
    await publishUntil(pub, 'flood', closedOne, { max: 20_000, keys: false });
    const s = (await (await get(srv(), '/api/v1/admin/stats', KEYS.read)).json()) as Record<string, any>;
    assert.equal(s.totals.slowConsumerCloses, 1);
    assert.equal(s.recentSlowConsumers.length, 1);
    const c = s.recentSlowConsumers[0];
    assert.deepEqual(Object.keys(c).sort(), ['droppedMessages', 'session', 'ts', 'unsentBytes', 'user']);
    assert.deepEqual([c.session, c.user], [slow.session, 'mu-slow']);
    assert.ok(c.unsentBytes > 0 && Math.abs(c.ts - Date.now()) < 60_000);
    const samples = (await scrape(srv(), KEYS.read)).samples;
    assert.equal(value(samples, 'switchboard_closes_total{code="4005"}'), 1);
    slow.terminate();
  });

  it('refuses the debug endpoints to keys without the admin scope (403)', async () => {
    for (const path of ['/api/v1/debug/cpu-profile?seconds=1', '/api/v1/debug/heap-snapshot']) {
      assert.equal((await get(srv(), path, KEYS.read, 'POST')).status, 403);
      assert.equal((await get(srv(), path, undefined, 'POST')).status, 401);
    }
    assert.equal((await get(srv(), '/api/v1/debug/cpu-profile?seconds=61', KEYS.admin, 'POST')).status, 400);
  });

  it('profiles the CPU for N seconds and hands the profile over as a download; one at a time', async () => {
    const started = Date.now();
    const profiling = get(srv(), '/api/v1/debug/cpu-profile?seconds=1', KEYS.admin, 'POST');
    await new Promise((r) => setTimeout(r, 200));
    const second = await get(srv(), '/api/v1/debug/heap-snapshot', KEYS.admin, 'POST');
    assert.equal(second.status, 409, 'one profile or snapshot at a time');
    assert.equal(((await second.json()) as { code: string }).code, 'busy');
    const res = await profiling;
    assert.equal(res.status, 200);
    assert.ok(Date.now() - started >= 1_000, 'took the seconds asked for');
    assert.match(res.headers.get('content-disposition') ?? '', /^attachment; filename="switchboard-cpu-[0-9TZ-]+\.cpuprofile"$/);
    const profile = (await res.json()) as { nodes: unknown[]; samples: unknown[]; startTime: number; endTime: number };
    assert.ok(Array.isArray(profile.nodes) && profile.nodes.length > 0);
    assert.ok(Array.isArray(profile.samples));
    assert.ok(profile.endTime > profile.startTime);
  });

  it('streams a heap snapshot as a download', async () => {
    const res = await get(srv(), '/api/v1/debug/heap-snapshot', KEYS.admin, 'POST');
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-length'), null, 'streamed, not built whole first');
    assert.match(res.headers.get('content-disposition') ?? '', /^attachment; filename="switchboard-heap-[0-9TZ-]+\.heapsnapshot"$/);
    const snap = (await res.json()) as { snapshot: { meta: { node_fields: string[] }; node_count: number }; nodes: number[]; strings: string[] };
    assert.ok(snap.snapshot.meta.node_fields.includes('name'));
    assert.ok(snap.snapshot.node_count > 0 && snap.nodes.length > 0 && snap.strings.length > 0);
    // Done: the next may start.
    const again = await get(srv(), '/api/v1/debug/cpu-profile?seconds=1', KEYS.admin, 'POST');
    assert.equal(again.status, 200);
    await again.arrayBuffer();
  });

  it('documents the downloads in the OpenAPI document', async () => {
    const doc = (await (await get(srv(), '/api/v1/openapi.json')).json()) as { paths: Record<string, Record<string, { responses: Record<string, { content: Record<string, { schema: unknown }> }> }>> };
    assert.deepEqual(doc.paths['/api/v1/debug/heap-snapshot']!.post!.responses['200']!.content['application/json']!.schema, { type: 'string', format: 'binary' });
    assert.ok(doc.paths['/api/v1/admin/stats']!.get!.responses['200']!.content['application/json']);
  });
});

describe('metrics off', () => {
  const srv = serverFor(['--auth.dev', 'true', '--metrics.enabled', 'false']);

  it('serves no /metrics', async () => {
    assert.equal((await get(srv(), '/metrics')).status, 404);
  });
});
