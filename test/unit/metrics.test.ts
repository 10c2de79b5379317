/**
 * The Metrics class (observe/metrics.ts): what the parts count through their counters interfaces, with what it
 * reads from the running parts when asked, as the admin stats and as Prometheus text.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Metrics, type MetricSources } from '../../src/observe/metrics.js';

describe('Metrics', () => {
  function sources(over: { rooms?: { room: string; kind: string; users: number; sessions: number }[]; counts?: Map<string, number> } = {}): MetricSources {
    const counts = over.counts ?? new Map<string, number>();
    return {
      hub: {
        stats: () => ({ sessions: 5, users: 4, rooms: (over.rooms ?? []).length }),
        roomList: () => over.rooms ?? [],
        takeMessageCounts: (visit) => {
          for (const [room, n] of counts) visit(room, n);
          counts.clear();
        },
      },
      gateway: {
        connections: 6,
        tallies: { closes: new Map([[4005, 2]]), opened: { token: 3, dev: 2 } },
        slowCloses: { total: 2, recent: [1, 2].map((i) => ({ ts: i, session: `s${i}`, user: `slow${i}`, unsentBytes: 100 * i, droppedMessages: i, droppedBytes: 9 })) },
        sessionsAndQueues: () => ({ token: 3, dev: 2, queueBytes: 1234, byEncoding: { json: 4, 'switchboard.v2.proto': 1 } }),
      },
      committer: { backlog: 7 },
      flusher: { report: () => {} },
    };
  }

  it('answers the admin stats in their documented shape', () => {
    let now = 1_000_000;
    const m = new Metrics({ prometheus: false, now: () => now });
    const rooms = Array.from({ length: 15 }, (_, i) => ({ room: `r${i}`, kind: 'public', users: i, sessions: i * 2 }));
    const counts = new Map([
      ['r1', 10],
      ['r2', 30],
    ]);
    m.attach(sources({ rooms, counts }));
    m.fanout.delivered(7);
    m.outbound.written(9, 3, 300);
    m.commands.received('publish');
    m.commands.received('ping');
    for (let i = 1; i <= 100; i++) m.store.committed(i, 1, true);
    now += 5_000;
    const s = m.stats();
    assert.deepEqual(Object.keys(s), ['ts', 'uptimeSec', 'connections', 'sessions', 'users', 'rooms', 'totals', 'store', 'queueBytes', 'topRoomsByMembers', 'topRoomsByRate', 'recentSlowConsumers']);
    assert.equal(s.ts, now);
    assert.equal(s.uptimeSec, 5);
    assert.deepEqual([s.connections, s.sessions, s.users, s.rooms, s.queueBytes], [6, 5, 4, 15, 1234]);
    assert.deepEqual(s.totals, { messagesIn: 2, deliveries: 7, framesOut: 3, bytesOut: 300, slowConsumerCloses: 2 });
    assert.deepEqual(s.store, { commitP50Ms: 50, commitP99Ms: 99, backlog: 7 });
    assert.equal(s.topRoomsByMembers.length, 10);
    assert.deepEqual(s.topRoomsByMembers[0], { room: 'r14', sessions: 28, users: 14 });
    assert.deepEqual(s.topRoomsByRate, [
      { room: 'r2', messagesPerSec: 6 },
      { room: 'r1', messagesPerSec: 2 },
    ]);
    assert.deepEqual(s.recentSlowConsumers.map((c) => c.session), ['s2', 's1'], 'newest first');
    assert.deepEqual(Object.keys(s.recentSlowConsumers[0]!), ['ts', 'session', 'user', 'unsentBytes', 'droppedMessages']);

    // A second call 5 s later: the window spans both slices (10 s); a minute later, the commits are old.
    now += 5_000;
    counts.set('r1', 10);
    assert.deepEqual(m.stats().topRoomsByRate, [
      { room: 'r2', messagesPerSec: 3 },
      { room: 'r1', messagesPerSec: 2 },
    ]);
    now += 60_000;
    const later = m.stats();
    assert.deepEqual(later.store, { commitP50Ms: null, commitP99Ms: null, backlog: 7 });
    assert.deepEqual(later.topRoomsByRate, [], 'no message in the last 10 s');
  });

  it('exposes the counters, the sources and the histograms as Prometheus text', async () => {
    const m = new Metrics({ prometheus: true, now: Date.now });
    m.attach(sources({ rooms: [{ room: 'secret-room', kind: 'private', users: 1, sessions: 1 }] }));
    m.fanout.delivered(4);
    m.outbound.written(4, 2, 100);
    m.commands.received('publish');
    m.commands.acked('publish', 2);
    m.store.committed(3, 10, true);
    m.store.committed(30, 0, false);
    m.media.stored(500);
    m.media.refused('too_large');
    m.api('GET', '/api/v1/rooms/{room}/history', 200, 0.01);
    const text = (await m.exposition())!.text;
    const has = (line: string): void => assert.ok(text.split('\n').includes(line), `${line} in:\n${text}`);
    has('switchboard_deliveries_total 4');
    has('switchboard_frames_written_total 2');
    has('switchboard_bytes_written_total 100');
    has('switchboard_messages_in_total{type="publish"} 1');
    has('switchboard_messages_in_total{type="join"} 0');
    has('switchboard_sessions{auth="token"} 3');
    has('switchboard_sessions{auth="dev"} 2');
    has('switchboard_sessions_by_encoding{encoding="json"} 4');
    has('switchboard_sessions_by_encoding{encoding="switchboard.v2.json"} 0');
    has('switchboard_sessions_by_encoding{encoding="switchboard.v2.proto"} 1');
    has('switchboard_rooms{kind="private"} 1');
    has('switchboard_rooms{kind="public"} 0');
    has('switchboard_closes_total{code="4005"} 2');
    has('switchboard_store_commit_seconds_count 2');
    has('switchboard_store_commit_messages_sum 10');
    has('switchboard_store_commit_failures_total 1');
    has('switchboard_publish_ack_seconds_count{type="publish"} 1');
    has('switchboard_uploads_total 1');
    has('switchboard_upload_bytes_total 500');
    has('switchboard_upload_refusals_total{reason="too_large"} 1');
    has('switchboard_history_requests_total{via="api"} 1');
    has('switchboard_api_requests_total{method="GET",route="/api/v1/rooms/{room}/history",status="200"} 1');
    has('switchboard_outbound_queue_bytes 1234');
    has('switchboard_store_backlog_messages 7');
    assert.match(text, /^switchboard_event_loop_utilization \d/m);
    assert.match(text, /^nodejs_eventloop_lag_p99_seconds /m, 'prom-client default metrics');
    assert.match(text, /^process_cpu_seconds_total /m);
    assert.ok(!text.includes('secret-room'), 'no room name in any label');
    assert.ok(!text.includes('slow1'), 'no user name in any label');
    // Counters read when scraped stay monotonic across scrapes.
    m.fanout.delivered(1);
    assert.ok((await m.exposition())!.text.split('\n').includes('switchboard_deliveries_total 5'));
  });

  it('keeps no registry when metrics are off, but still counts for the stats', async () => {
    const m = new Metrics({ prometheus: false, now: Date.now });
    assert.equal(await m.exposition(), null);
    m.fanout.delivered(3);
    assert.equal(m.stats().totals.deliveries, 3);
  });
});
