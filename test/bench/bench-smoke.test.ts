/**
 * Keeps the benchmark harness from rotting: a quick run of every workload
 * against every target (the baseline, Switchboard, and Socket.IO for a–e) must
 * finish and write a well-formed result. No timing is asserted — this machine
 * may be busy with other tests.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runScript } from '../helpers/run-script.js';
import { REPO_ROOT } from '../helpers/server.js';

const RUN = join(REPO_ROOT, 'dist', 'bench', 'run.js');

interface Result {
  workload: string;
  target: string;
  connections: number;
  connect: { connections: number; failed: number; seconds: number };
  phase: { deliveryRatio: number; deliveriesPerSec: number; latencyMs: { p50: number; p99: number; p999: number }; server: { cpuUsPerDelivery: number | null } } | null;
  steps?: unknown[];
  stored?: { rows: number; acknowledged: number };
  rssPerConnKb: number | null;
  ok: boolean;
  failures: string[];
}

test('bench --quick runs every workload against every target and reports delivery', { timeout: 180_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-smoke-'));
  try {
    const out = join(dir, 'quick.json');
    const { code, stdout, stderr } = await runScript(RUN, ['--quick', '--target', 'all', '--no-pin', '--no-docs', '--out', out], { killMs: 170_000 });
    assert.equal(code, 0, `bench exited with ${code}\n${stderr}`);

    const res = JSON.parse(readFileSync(out, 'utf8')) as { meta: { machine: { cpus: number; node: string } }; results: Result[]; targets: unknown[] };
    assert.ok(res.meta.machine.cpus >= 1);
    assert.match(res.meta.machine.node, /^v\d+/);
    for (const w of ['a', 'b', 'c', 'd', 'e'])
      for (const t of ['baseline', 'switchboard', 'socketio']) {
        const r = res.results.find((x) => x.workload === w && x.target === t);
        assert.ok(r, `no result for ${w}/${t}`);
        assert.ok(!r.failures.some((f) => f.startsWith('harness error')), `${w}/${t}: ${r.failures.join('; ')}`);
        assert.ok(r.connect.connections > 0, `${w}/${t}: nothing connected`);
        assert.equal(typeof r.ok, 'boolean');
        if (w === 'e') {
          assert.equal(typeof r.rssPerConnKb, 'number', `${w}/${t}: no RSS per session`);
          continue;
        }
        if (w === 'b') assert.ok(Array.isArray(r.steps) && r.steps.length > 0, `${w}/${t}: no saturation steps`);
        const p = r.phase ?? (r.steps?.[0] as Result['phase']);
        assert.ok(p, `${w}/${t}: no measured phase`);
        assert.equal(typeof p.deliveryRatio, 'number', `${w}/${t}: no delivery ratio`);
        assert.ok(p.deliveryRatio > 0, `${w}/${t}: nothing delivered`);
        assert.equal(typeof p.latencyMs.p99, 'number');
      }
    // The durable workload runs against Switchboard only: every publish is answered, and what was answered is in the store.
    assert.equal(res.results.filter((x) => x.workload === 'f').length, 1, 'f runs once, against Switchboard');
    const f = res.results.find((x) => x.workload === 'f' && x.target === 'switchboard');
    assert.ok(f && !f.failures.some((x) => x.startsWith('harness error')), `f: ${f?.failures.join('; ')}`);
    const step = f.steps?.[0] as { acks: { asked: number; answered: number } | null } | undefined;
    assert.ok(step?.acks && step.acks.asked > 0, 'f: publishes asked for acks');
    assert.equal(step.acks.answered, step.acks.asked, 'f: every publish acknowledged');
    assert.ok(f.stored && f.stored.rows === f.stored.acknowledged && f.stored.rows > 0, `f: store rows ${f.stored?.rows} vs acks ${f.stored?.acknowledged}`);
    assert.match(stdout, /\| workload \| target \|/, 'the markdown table is printed');
    assert.match(stdout, /### Ratios \(Switchboard ÷ baseline\)/, 'the ratios against the baseline are printed');
    assert.match(stdout, /### Ratios \(Switchboard ÷ Socket\.IO\)/, 'the ratios against Socket.IO are printed');
    assert.match(stdout, /### Durable messages \(f\)/, 'the durable table is printed');
    // A smoke run cannot reach the goals: no targets table full of "no", and a line saying why.
    assert.deepEqual(res.targets, [], 'a --quick run judges no targets');
    assert.doesNotMatch(stdout, /### Targets/);
    assert.match(stdout, /Targets are judged on full runs only/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
