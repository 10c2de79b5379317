/**
 * Keeps `npm run bench -- --cluster` from rotting: a quick run (one node, then two nodes + Redis, on PostgreSQL)
 * must finish and report, for a, b and c, each side's CPU per delivery (the cluster's split into its nodes and
 * Redis), their ratio, and the cross-node hop from deliveries that did cross. No timing is asserted — this
 * machine may be busy with other tests. Without redis-server or PostgreSQL the test is skipped, saying why;
 * under CI=true it fails instead.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import pg from 'pg';
import { runScript } from '../helpers/run-script.js';
import { REPO_ROOT } from '../helpers/server.js';

const RUN = join(REPO_ROOT, 'dist', 'bench', 'run.js');
const PG_URL = process.env['SWITCHBOARD_BENCH_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** Why the cluster bench cannot run here, or null. */
async function missing(): Promise<string | null> {
  const redis = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (redis.status !== 0) return `redis-server not found on PATH (${redis.error?.message ?? redis.stderr.trim()})`;
  const c = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3000 });
  try {
    await c.connect();
    return null;
  } catch (err) {
    return `PostgreSQL not reachable at ${PG_URL}: ${(err as Error).message}`;
  } finally {
    await c.end().catch(() => {});
  }
}

interface Side {
  cpuUsPerDelivery: number | null;
  serversUsPerDelivery: number | null;
  brokerUsPerDelivery: number | null;
  deliveryRatio: number;
  latencyMs: { p50: number; p99: number };
  parts: { name: string; cpuUtil: number }[];
}

interface Comparison {
  workload: string;
  oneNode: Side | null;
  cluster: Side | null;
  ratio: number | null;
  hop: { same: { p99: number; samples: number }; other: { p99: number; samples: number }; p50: number; p99: number } | null;
}

test('bench --cluster --quick compares one node with two nodes + Redis on a, b and c', { timeout: 180_000 }, async (t) => {
  const why = await missing();
  if (why) {
    if (process.env['CI'] === 'true') throw new Error(`${why} (CI=true: the cluster bench smoke test must run)`);
    t.skip(`skipping the cluster bench smoke test: ${why}`);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'bench-cluster-smoke-'));
  try {
    const out = join(dir, 'cluster.json');
    const { code, stdout, stderr } = await runScript(RUN, ['--cluster', '--quick', '--no-pin', '--out', out, '--pg-url', PG_URL], { killMs: 170_000, termMs: 150_000 });
    assert.equal(code, 0, `bench exited with ${code}\n${stderr}`);

    const res = JSON.parse(readFileSync(out, 'utf8')) as {
      meta: { options: { cluster?: { nodes: number } } };
      results: { workload: string; target: string; deployment?: string; failures: string[] }[];
      cluster?: Comparison[];
      targets: unknown[];
    };
    assert.equal(res.meta.options.cluster?.nodes, 2);
    for (const w of ['a', 'b', 'c'])
      for (const d of ['1 node', '2 nodes + Redis']) {
        const r = res.results.find((x) => x.workload === w && x.deployment === d);
        assert.ok(r, `no result for ${w} on ${d}`);
        assert.equal(r.target, 'switchboard');
        assert.ok(!r.failures.some((f) => f.startsWith('harness error')), `${w} on ${d}: ${r.failures.join('; ')}`);
      }
    assert.deepEqual(
      res.results.map((r) => r.deployment),
      ['1 node', '2 nodes + Redis', '1 node', '2 nodes + Redis', '1 node', '2 nodes + Redis'],
      'one node, then the cluster, for each workload',
    );
    const cluster = res.cluster;
    assert.ok(cluster, 'the result has a cluster section');
    for (const w of ['a', 'b', 'c']) {
      const c: Comparison | undefined = cluster.find((x) => x.workload === w);
      assert.ok(c?.oneNode && c.cluster, `${w}: both sides measured`);
      for (const s of [c.oneNode, c.cluster]) {
        assert.equal(typeof s.cpuUsPerDelivery, 'number', `${w}: CPU per delivery`);
        assert.ok(s.deliveryRatio > 0, `${w}: nothing delivered`);
      }
      assert.equal(c.oneNode.brokerUsPerDelivery, 0, `${w}: one node has no broker`);
      assert.equal(typeof c.cluster.serversUsPerDelivery, 'number', `${w}: the cluster's nodes' CPU`);
      assert.equal(typeof c.cluster.brokerUsPerDelivery, 'number', `${w}: Redis's CPU`);
      assert.deepEqual(
        c.cluster.parts.map((p) => p.name),
        ['node 0', 'node 1', 'redis'],
        `${w}: the cluster's processes`,
      );
      assert.equal(typeof c.ratio, 'number', `${w}: the ratio`);
      // Recipients on both nodes, publishers on both: some deliveries crossed Redis, some did not.
      assert.ok(c.hop && c.hop.same.samples > 0 && c.hop.other.samples > 0, `${w}: deliveries timed on the same node and across`);
      assert.equal(typeof c.hop.p99, 'number');
    }
    assert.match(stdout, /### Cluster: one node vs two nodes \+ Redis/);
    assert.match(stdout, /the hop adds: p50 \/ p99 ms/);
    assert.deepEqual(res.targets, [], 'a --quick run judges no targets');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
