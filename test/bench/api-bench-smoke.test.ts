/**
 * Keeps the server API benchmark (bench/api.ts) from rotting: a quick run must
 * finish and write its three sections (single publish over HTTP, the same rate
 * over WebSocket, batch publish), each with messages acknowledged, stored and
 * delivered to every subscriber, and the unpaced batch phase with messages stored.
 * No timing is asserted — this machine may be busy with other tests.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runScript } from '../helpers/run-script.js';
import { REPO_ROOT } from '../helpers/server.js';

const API_BENCH = join(REPO_ROOT, 'dist', 'bench', 'api.js');

interface Phase {
  name: string;
  acked: number;
  messagesPerSec: number;
  deliveriesPerSec: number;
  delivery: { expected: number; received: number };
  stored: { rows: number; acked: number };
  ackLatencyMs: { p99: number | null };
  deliveryLatencyMs: { p99: number | null };
  server: { cpuSecondsPer1000Messages: number | null };
  batch?: { framesPerBatch: number | null; oneAtATime: { batches: number; frames: number } };
}

test('bench api --quick measures single, WebSocket and batch publishing', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'api-bench-smoke-'));
  try {
    const out = join(dir, 'api.json');
    // SIGTERM first: the bench then stops its server and removes its temporary folder.
    const { code, stdout, stderr } = await runScript(API_BENCH, ['--quick', '--out', out], { termMs: 50_000, killMs: 55_000 });
    assert.equal(code, 0, `bench api exited with ${code}\n${stderr}`);

    const res = JSON.parse(readFileSync(out, 'utf8')) as { meta: { machine: { cpus: number }; subscribers: { connected: number } }; single: Phase; websocket: Phase; batch: Phase; batchUnpaced: Phase; failures: string[] };
    assert.ok(res.meta.machine.cpus >= 1);
    assert.ok(res.meta.subscribers.connected > 0, 'subscribers connected');
    assert.deepEqual(res.failures, []);
    for (const name of ['single', 'websocket', 'batch'] as const) {
      const p = res[name];
      assert.ok(p, `no ${name} section`);
      assert.equal(p.name, name);
      assert.ok(p.acked > 0 && p.messagesPerSec > 0, `${name}: nothing acknowledged`);
      assert.ok(p.deliveriesPerSec > 0, `${name}: nothing delivered`);
      assert.equal(p.delivery.received, p.delivery.expected, `${name}: every acknowledged message reaches every subscriber`);
      assert.equal(p.stored.rows, p.stored.acked, `${name}: the store holds what was acknowledged`);
      assert.equal(typeof p.ackLatencyMs.p99, 'number', `${name}: no ack latency`);
      assert.equal(typeof p.deliveryLatencyMs.p99, 'number', `${name}: no delivery latency`);
      assert.equal(typeof p.server.cpuSecondsPer1000Messages, 'number', `${name}: no server CPU`);
    }
    // The unpaced batch phase may outrun the load generator (subscribers closed as slow consumers): only its intake is checked.
    assert.ok(res.batchUnpaced && res.batchUnpaced.messagesPerSec > 0, 'batchUnpaced: nothing acknowledged');
    assert.equal(res.batchUnpaced.stored.rows, res.batchUnpaced.stored.acked, 'batchUnpaced: the store holds what was acknowledged');
    assert.ok(res.batch.batch, 'batch details');
    assert.ok(res.batch.batch.oneAtATime.batches > 0, 'batches sent one at a time');
    assert.equal(res.batch.batch.oneAtATime.frames, res.batch.batch.oneAtATime.batches, 'one frame per member per batch');
    assert.match(stdout, /\| phase \| asked \|/, 'the markdown table is printed');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
