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
  store?: string;
  storm?: {
    sessions: number;
    reconnected: number;
    recoverySeconds: number;
    cpuUsPerSession: number;
    expected: number;
    received: number;
    seq: { gaps: number; duplicates: number; unrecovered: number; badSessions: number; resumedJoins: number };
  };
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
    assert.match(stdout, /### Durable messages \(f: SQLite\)/, 'the durable table is printed, with its store');
    assert.equal(f.store, 'SQLite');

    // Stored c, the reconnect storm and f on PostgreSQL run against Switchboard only.
    for (const w of ['cs', 'g', 'fp']) assert.ok(res.results.filter((x) => x.workload === w).every((x) => x.target === 'switchboard'), `${w} runs against Switchboard only`);
    const cs = res.results.find((x) => x.workload === 'cs');
    assert.ok(cs?.phase && cs.phase.deliveryRatio > 0 && typeof cs.phase.latencyMs.p999 === 'number', `cs: ${cs?.failures.join('; ')}`);
    assert.match(stdout, /### Stored rooms at c's shape \(cs beside c\)/);
    // Every session of the storm comes back and gets exactly what it missed: the seq checks are what g is for.
    const g = res.results.find((x) => x.workload === 'g');
    assert.ok(g?.storm, `g: ${g?.failures.join('; ')}`);
    assert.equal(g.storm.reconnected, g.storm.sessions, 'g: every session reconnected');
    assert.equal(g.storm.seq.resumedJoins, 2 * g.storm.sessions, 'g: every room rejoined with since');
    assert.deepEqual([g.storm.seq.gaps, g.storm.seq.duplicates, g.storm.seq.unrecovered, g.storm.seq.badSessions], [0, 0, 0, 0], 'g: no gap, no duplicate');
    assert.equal(g.storm.received, g.storm.expected, 'g: every delivery arrived exactly once');
    assert.ok(g.storm.recoverySeconds > 0 && g.storm.cpuUsPerSession > 0);
    assert.match(stdout, /### Reconnect storm \(g\)/);
    // PostgreSQL: skipped by a quick run only where it is not there and this is not CI.
    const fp = res.results.find((x) => x.workload === 'fp');
    if (fp || process.env['CI'] === 'true') {
      assert.ok(fp && !fp.failures.some((x) => x.startsWith('harness error')), `fp: ${fp?.failures.join('; ')}`);
      assert.equal(fp.store, 'PostgreSQL');
      assert.ok(fp.stored && fp.stored.rows === fp.stored.acknowledged && fp.stored.rows > 0, `fp: store rows ${fp.stored?.rows} vs acks ${fp.stored?.acknowledged}`);
      assert.match(stdout, /### Durable messages \(fp: PostgreSQL\)/);
    } else assert.match(stderr, /skipping fp: PostgreSQL not reachable/);
    // A smoke run cannot reach the goals: no targets table full of "no", and a line saying why.
    assert.deepEqual(res.targets, [], 'a --quick run judges no targets');
    assert.doesNotMatch(stdout, /### Targets/);
    assert.match(stdout, /Targets are judged on full runs only/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
