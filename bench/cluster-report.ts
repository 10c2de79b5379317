/**
 * `--cluster`'s figures: for each workload, one node against two nodes + Redis — CPU per delivery (the
 * cluster's is its nodes' plus Redis's own), the ratio against the target, and the latency a cross-node hop adds
 * (recipients on the publisher's node against those on the other, in the same run). JSON and markdown.
 */
import { fmt, fmtInt } from './format.js';
import type { LatencyMs, PhaseResult } from './measure.js';
import type { Target } from './report.js';
import { disturbed, type WorkloadId, type WorkloadResult } from './workloads.js';

/** WorkloadResult.deployment of the two sides (bench/cluster.ts). */
export const ONE_NODE = '1 node';
export const CLUSTER = '2 nodes + Redis';

/** The issue's targets (#18): the cluster's CPU per delivery at most this × one node's, at a, b and c… */
export const CPU_RATIO_TARGET = 1.3;
/** …and a cross-node hop adding at most this much to the p99 at a (ms). */
export const HOP_P99_TARGET_MS = 5;

export interface ClusterSide {
  publishRate: number;
  deliveriesPerSec: number;
  deliveryRatio: number;
  /** Messages per WebSocket frame received: fewer means more socket writes per delivery. */
  messagesPerFrame: number;
  latencyMs: Pick<LatencyMs, 'p50' | 'p99' | 'p999'>;
  /** Every process of the deployment (one node; or two nodes and Redis), µs of CPU per delivery. */
  cpuUsPerDelivery: number;
  /** The Switchboard processes' part of it… */
  serversUsPerDelivery: number;
  /** …and the broker's (0 for one node). */
  brokerUsPerDelivery: number;
  /** Share of one core the deployment used in the window, and each process's. */
  cpuUtil: number;
  parts: { name: string; cpuUtil: number; cpuUsPerDelivery: number }[];
  generatorCpuUtil: number;
  generatorSaturated: boolean;
  otherCpuCores: number;
  disturbed: boolean;
  failures: string[];
}

export interface Hop {
  same: Pick<LatencyMs, 'p50' | 'p99' | 'samples'>;
  other: Pick<LatencyMs, 'p50' | 'p99' | 'samples'>;
  /** other − same, ms. */
  p50: number;
  p99: number;
}

export interface ClusterComparison {
  workload: WorkloadId;
  title: string;
  /** What load the two sides are compared at (b: the highest step both held). */
  comparedAt: string;
  oneNode: ClusterSide | null;
  cluster: ClusterSide | null;
  /** cluster.cpuUsPerDelivery ÷ oneNode.cpuUsPerDelivery. */
  ratio: number;
  hop: Hop | null;
  /** b: every rate both held, each side's CPU there (the cost of a delivery falls as the rate rises and writes fill up). */
  steps?: { rate: number; oneNode: number; cluster: number; ratio: number; oneNodeCpuUtil: number; clusterCpuUtil: number; clusterGeneratorSaturated: boolean; oneNodeGeneratorSaturated: boolean }[];
  /** b: the highest publish rate each held (msg/s) and its deliveries/s. */
  highest?: { oneNode: { rate: number; deliveriesPerSec: number } | null; cluster: { rate: number; deliveriesPerSec: number } | null };
  /** Both sides measured, nothing lost on either. */
  ok: boolean;
}

const sum = (xs: number[]): number => xs.reduce((n, x) => n + x, 0);

function side(p: PhaseResult): ClusterSide {
  const parts = p.server.parts ?? [];
  const servers = parts.filter((x) => x.role === 'server');
  const brokers = parts.filter((x) => x.role === 'broker');
  return {
    publishRate: p.publishRate,
    deliveriesPerSec: p.deliveriesPerSec,
    deliveryRatio: p.deliveryRatio,
    // Absent from result files written before it was counted.
    messagesPerFrame: p.messagesPerFrame ?? NaN,
    latencyMs: { p50: p.latencyMs.p50, p99: p.latencyMs.p99, p999: p.latencyMs.p999 },
    cpuUsPerDelivery: p.server.cpuUsPerDelivery,
    serversUsPerDelivery: parts.length ? sum(servers.map((x) => x.cpuUsPerDelivery)) : p.server.cpuUsPerDelivery,
    brokerUsPerDelivery: sum(brokers.map((x) => x.cpuUsPerDelivery)),
    cpuUtil: p.server.cpuUtil,
    parts: parts.map((x) => ({ name: x.name, cpuUtil: x.cpuUtil, cpuUsPerDelivery: x.cpuUsPerDelivery })),
    generatorCpuUtil: p.generator.cpuUtil,
    generatorSaturated: p.generator.saturated,
    otherCpuCores: p.otherCpuCores,
    disturbed: disturbed(p),
    failures: p.failures,
  };
}

function hop(p: PhaseResult | null): Hop | null {
  const l = p?.latencyByNode;
  if (!l || l.same.samples === 0 || l.cross.samples === 0) return null;
  const pick = (x: LatencyMs): Hop['same'] => ({ p50: x.p50, p99: x.p99, samples: x.samples });
  return { same: pick(l.same), other: pick(l.cross), p50: l.cross.p50 - l.same.p50, p99: l.cross.p99 - l.same.p99 };
}

/** b: the rates both deployments held, each side's step there, by rate. */
function commonSteps(one: WorkloadResult, two: WorkloadResult): [PhaseResult, PhaseResult][] {
  const out: [PhaseResult, PhaseResult][] = [];
  for (const p of one.steps ?? []) {
    if (p.failures.length) continue;
    const q = (two.steps ?? []).find((s) => s.failures.length === 0 && Math.abs(s.publishRate - p.publishRate) < 1e-6);
    if (q) out.push([p, q]);
  }
  return out.sort((x, y) => x[0].publishRate - y[0].publishRate);
}

export function clusterComparisons(results: WorkloadResult[]): ClusterComparison[] {
  const out: ClusterComparison[] = [];
  for (const w of [...new Set(results.map((r) => r.workload))]) {
    const one = results.find((r) => r.workload === w && r.deployment === ONE_NODE);
    const two = results.find((r) => r.workload === w && r.deployment === CLUSTER);
    if (!one && !two) continue;
    let p1 = one?.phase ?? null;
    let p2 = two?.phase ?? null;
    let comparedAt = p1 || p2 ? `${fmt((p1 ?? p2)!.publishRate, 0)} msg/s` : '—';
    let highest: ClusterComparison['highest'];
    let steps: ClusterComparison['steps'];
    if (w === 'b' && one && two) {
      const top = (r: WorkloadResult): { rate: number; deliveriesPerSec: number } | null => (r.phase ? { rate: r.phase.publishRate, deliveriesPerSec: r.phase.deliveriesPerSec } : null);
      highest = { oneNode: top(one), cluster: top(two) };
      const common = commonSteps(one, two);
      steps = common.map(([x, y]) => ({
        rate: x.publishRate,
        oneNode: x.server.cpuUsPerDelivery,
        cluster: y.server.cpuUsPerDelivery,
        ratio: y.server.cpuUsPerDelivery / x.server.cpuUsPerDelivery,
        oneNodeCpuUtil: x.server.cpuUtil,
        clusterCpuUtil: y.server.cpuUtil,
        oneNodeGeneratorSaturated: x.generator.saturated,
        clusterGeneratorSaturated: y.generator.saturated,
      }));
      const c = common.at(-1) ?? null;
      [p1, p2] = c ?? [null, null];
      comparedAt = c ? `${fmt(c[0].publishRate, 1)} msg/s, the highest step both held` : 'no step both held';
    }
    const s1 = p1 ? side(p1) : null;
    const s2 = p2 ? side(p2) : null;
    out.push({
      workload: w,
      title: (one ?? two)!.title,
      comparedAt,
      oneNode: s1,
      cluster: s2,
      ratio: s1 && s2 ? s2.cpuUsPerDelivery / s1.cpuUsPerDelivery : NaN,
      hop: hop(p2),
      ...(highest ? { highest } : {}),
      ...(steps ? { steps } : {}),
      ok: !!(one?.ok && two?.ok && s1 && s2),
    });
  }
  return out;
}

export function clusterTargets(cs: ClusterComparison[]): Target[] {
  const out: Target[] = [];
  for (const c of cs) {
    if (!['a', 'b', 'c'].includes(c.workload)) continue;
    const s1 = c.oneNode;
    const s2 = c.cluster;
    out.push({
      name: `(${c.workload}) cluster CPU per delivery ÷ one node's${c.workload === 'b' ? ` (at ${c.comparedAt})` : ''}`,
      goal: `≤ ${CPU_RATIO_TARGET}×`,
      value:
        s1 && s2
          ? `${fmt(s2.cpuUsPerDelivery, 3)} µs (nodes ${fmt(s2.serversUsPerDelivery, 3)} + Redis ${fmt(s2.brokerUsPerDelivery, 3)}) vs ${fmt(s1.cpuUsPerDelivery, 3)} µs = ${fmt(c.ratio)}×` +
            (c.ok ? '' : ' (a side failed: see the failures)')
          : 'not measured on both',
      met: Number.isFinite(c.ratio) ? c.ok && c.ratio <= CPU_RATIO_TARGET : null,
    });
  }
  const a = cs.find((c) => c.workload === 'a');
  if (a) {
    const h = a.hop;
    out.push({
      name: '(a) p99 added by a cross-node hop',
      goal: `≤ ${HOP_P99_TARGET_MS} ms`,
      value: h ? `${fmt(h.p99)} ms (other node p99 ${fmt(h.other.p99)} − same node ${fmt(h.same.p99)}; p50 ${fmt(h.p50)} ms)` : 'not measured',
      met: h ? a.ok && h.p99 <= HOP_P99_TARGET_MS : null,
    });
  }
  return out;
}

const util = (x: number): string => (Number.isFinite(x) ? `${(x * 100).toFixed(0)}%` : '—');

export function clusterMarkdown(cs: ClusterComparison[], results: WorkloadResult[]): string {
  const lines: string[] = [];
  const cmd = results.find((r) => r.deployment === CLUSTER)?.serverCommand ?? '';
  const cpus = /taskset -c (\S+)/.exec(cmd)?.[1];
  lines.push('### Cluster: one node vs two nodes + Redis');
  lines.push('');
  lines.push(
    'Both deployments on PostgreSQL (`store.url`, a fresh database for every start), rooms not durable; in the cluster each ' +
      "room's members and its publishers are split between the two nodes, so every message crosses Redis. CPU per delivery: " +
      "the processes' `utime + stime` (/proc/PID/stat) over the window ÷ the deliveries in it; the cluster's adds up its two nodes and Redis. " +
      (cpus ? `The nodes and Redis ran on CPU ${cpus}, as the one node did: the same CPU budget.` : 'No CPU pinning.'),
  );
  lines.push('');
  lines.push('| workload | compared at | deliveries/s (1 node / cluster) | 1 node µs/delivery | cluster: nodes µs/delivery | cluster: Redis µs/delivery | (nodes + Redis) ÷ 1 node | CPU used: 1 node / cluster (per process) | messages per frame (1 node / cluster) | p50 / p99 ms, 1 node | p50 / p99 ms, cluster | generator CPU (1 node / cluster) |');
  lines.push('|---|---|--:|--:|--:|--:|--:|---|--:|--:|--:|--:|');
  for (const c of cs) {
    const s1 = c.oneNode;
    const s2 = c.cluster;
    const gen = (s: ClusterSide | null): string => (s ? `${util(s.generatorCpuUtil)}${s.generatorSaturated ? ' **saturated**' : ''}` : '—');
    const lat = (s: ClusterSide | null): string => (s ? `${fmt(s.latencyMs.p50)} / ${fmt(s.latencyMs.p99)}` : '—');
    lines.push(
      `| ${c.workload} | ${c.comparedAt} | ${fmtInt(s1?.deliveriesPerSec ?? NaN)} / ${fmtInt(s2?.deliveriesPerSec ?? NaN)} | ${fmt(s1?.cpuUsPerDelivery, 3)} | ${fmt(s2?.serversUsPerDelivery, 3)} | ${fmt(s2?.brokerUsPerDelivery, 3)} | ` +
        `${Number.isFinite(c.ratio) ? `**${fmt(c.ratio)}×**` : '—'} | ${util(s1?.cpuUtil ?? NaN)} / ${util(s2?.cpuUtil ?? NaN)}${s2?.parts.length ? ` (${s2.parts.map((p) => `${p.name} ${util(p.cpuUtil)}`).join(', ')})` : ''} | ` +
        `${fmt(s1?.messagesPerFrame)} / ${fmt(s2?.messagesPerFrame)} | ${lat(s1)} | ${lat(s2)} | ${gen(s1)} / ${gen(s2)} |`,
    );
  }
  const b = cs.find((c) => c.highest);
  if (b?.highest) {
    const h = b.highest;
    const top = (x: { rate: number; deliveriesPerSec: number } | null): string => (x ? `${fmt(x.rate, 1)} msg/s (${fmtInt(x.deliveriesPerSec)} deliveries/s)` : 'none');
    lines.push('');
    lines.push(`b compares CPU at the highest rate both held. The highest rate each held: one node ${top(h.oneNode)}, the cluster ${top(h.cluster)}.`);
    if (b.steps?.length) {
      const sat = (x: boolean): string => (x ? ' (generator saturated)' : '');
      lines.push('');
      lines.push('| b: publish msg/s | 1 node µs/delivery | cluster µs/delivery (nodes + Redis) | ratio | CPU used: 1 node / cluster |');
      lines.push('|--:|--:|--:|--:|--:|');
      for (const s of b.steps)
        lines.push(`| ${fmt(s.rate, 1)} | ${fmt(s.oneNode, 3)}${sat(s.oneNodeGeneratorSaturated)} | ${fmt(s.cluster, 3)}${sat(s.clusterGeneratorSaturated)} | ${fmt(s.ratio)}× | ${util(s.oneNodeCpuUtil)} / ${util(s.clusterCpuUtil)} |`);
    }
  }
  lines.push('');
  lines.push('Cross-node hop: in the same cluster run, the latency of deliveries whose recipient was on the publisher\'s node against those on the other node (the publisher\'s node travels in the message body).');
  lines.push('');
  lines.push('| workload | same node p50 / p99 ms | other node p50 / p99 ms | the hop adds: p50 / p99 ms | deliveries timed (same / other) |');
  lines.push('|---|--:|--:|--:|--:|');
  for (const c of cs) {
    const h = c.hop;
    if (!h) {
      lines.push(`| ${c.workload} | — | — | — | — |`);
      continue;
    }
    lines.push(`| ${c.workload} | ${fmt(h.same.p50)} / ${fmt(h.same.p99)} | ${fmt(h.other.p50)} / ${fmt(h.other.p99)} | ${fmt(h.p50)} / **${fmt(h.p99)}** | ${fmtInt(h.same.samples)} / ${fmtInt(h.other.samples)} |`);
  }
  lines.push('');
  return lines.join('\n');
}
