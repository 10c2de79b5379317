/**
 * A managed room's own retention, against a real server process: a room created through the server API with
 * maxCount 3 keeps its last 3 messages once a retention pass has run, and a change of the limit applies at the
 * next pass; the other rooms keep everything. The server has no retention of its own (and no uploads, whose
 * clean-up would otherwise run the passes anyway): the rooms' limits alone make it run them.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startServer, type TestServer } from '../helpers/server.js';

const ADMIN = 'sbk_room-retention-admin';
const hash = (k: string): string => createHash('sha256').update(k).digest('hex');
const API_KEYS = JSON.stringify([{ name: 'admin', hash: hash(ADMIN), scopes: ['admin'] }]);

async function call(server: TestServer, method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${server.url}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

/** The seqs a room's history holds. */
async function seqs(server: TestServer, room: string): Promise<number[]> {
  const { status, json } = await call(server, 'GET', `/rooms/${room}/history?limit=100`);
  assert.equal(status, 200);
  return (json.messages as { seq: number }[]).map((m) => m.seq);
}

/** Polls a room's history until it holds exactly `want`, for 10 s at most. */
async function untilHeld(server: TestServer, room: string, want: number[]): Promise<void> {
  let held: number[] = [];
  for (const deadline = Date.now() + 10_000; Date.now() < deadline; await sleep(20)) {
    held = await seqs(server, room);
    if (JSON.stringify(held) === JSON.stringify(want)) return;
  }
  assert.deepEqual(held, want, `${room}: still not trimmed after 10 s`);
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe("a managed room's own retention", () => {
  it('keeps the last maxCount messages of that room only, and follows a change of the limit', async (t) => {
    const server = await startServer(['--auth.dev', 'true', '--api.keys', API_KEYS, '--uploads.enabled', 'false', '--store.retention.intervalMs', '50'], { t });
    assert.equal((await call(server, 'POST', '/rooms', { name: 'short', maxCount: 3 })).status, 200);
    assert.equal((await call(server, 'POST', '/rooms', { name: 'plain' })).status, 200, 'managed, without limits of its own');
    for (const room of ['short', 'plain', 'unmanaged'])
      for (let i = 1; i <= 10; i++) assert.equal((await call(server, 'POST', `/rooms/${room}/publish`, { body: `${room} ${i}` })).status, 200);

    await untilHeld(server, 'short', [8, 9, 10]);
    const { json } = await call(server, 'GET', '/rooms/short/history?limit=100');
    assert.deepEqual((json.messages as { body: string }[]).map((m) => m.body), ['short 8', 'short 9', 'short 10']);
    assert.deepEqual([json.oldestSeq, json.lastSeq], [8, 10]);
    assert.deepEqual(await seqs(server, 'plain'), range(1, 10));
    assert.deepEqual(await seqs(server, 'unmanaged'), range(1, 10));

    // A stricter limit applies at the next pass; sequence numbers go on.
    assert.equal((await call(server, 'PATCH', '/rooms/short', { maxCount: 1 })).status, 200);
    assert.equal((await call(server, 'POST', '/rooms/short/publish', { body: 'short 11' })).status, 200);
    await untilHeld(server, 'short', [11]);
    assert.deepEqual(await seqs(server, 'plain'), range(1, 10));
    assert.deepEqual(await seqs(server, 'unmanaged'), range(1, 10));
    assert.ok(
      server.logs().some((l) => l.msg === 'retention trimmed messages'),
      'the pass logs what it removed',
    );
  });
});
