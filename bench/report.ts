/** The benchmark's results as JSON and as the markdown tables of docs/benchmarks.md. */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { clusterMarkdown, type ClusterComparison } from './cluster-report.js';
import { fmt, fmtInt, pct, ratio } from './format.js';
import type { PhaseResult } from './measure.js';
import { rounds, storedMarkdown, storedTargets, usPerMessage } from './report-stored.js';
import type { TargetName } from './server.js';
import type { WireComparison } from './wire.js';
import { F_ACK_P99_LIMIT_MS, F_TARGET_RATE, type WorkloadId, type WorkloadResult } from './workloads.js';

export interface BenchMeta {
  command: string;
  date: string;
  /** The commit measured; dirty: src/ or bin/ differed from it. */
  git: { commit: string; dirty: boolean } | null;
  machine: { cpus: number; cpuModel: string; memoryGiB: number; node: string; os: string; openFilesLimit: number | null };
  options: Record<string, unknown>;
  switchboardConfig: Record<string, unknown>;
  durationSeconds: number;
}

export interface Target {
  name: string;
  goal: string;
  value: string;
  met: boolean | null;
}

export interface BenchResults {
  meta: BenchMeta;
  results: WorkloadResult[];
  targets: Target[];
  /** `--cluster`: each workload on one node against two nodes and Redis (bench/cluster-report.ts). */
  cluster?: ClusterComparison[];
  /** `--wire`: each encoding's cost at the receiver (bench/wire.ts). */
  wire?: WireComparison;
}


function find(results: WorkloadResult[], w: WorkloadId, t: TargetName): WorkloadResult | undefined {
  return results.find((r) => r.workload === w && r.target === t);
}

/** The goals the lead measures Switchboard against. */
export function evaluateTargets(results: WorkloadResult[]): Target[] {
  const out: Target[] = [];
  const bb = find(results, 'b', 'baseline');
  const bs = find(results, 'b', 'switchboard');
  if (bs?.phase) {
    const base = bb?.phase?.deliveriesPerSec ?? NaN;
    const r = bs.phase.deliveriesPerSec / base;
    out.push({
      name: '(b) saturation fan-out vs baseline',
      goal: '≥ 5× baseline deliveries/s at p99 ≤ 100 ms, 100% delivered',
      value: `${fmtInt(bs.phase.deliveriesPerSec)} vs ${fmtInt(base)} deliveries/s = ${fmt(r)}×${bs.generatorLimited ? ' (load generator saturated first: a lower bound)' : ''}`,
      met: Number.isFinite(r) ? r >= 5 : null,
    });
  }
  const ab = find(results, 'a', 'baseline');
  const as = find(results, 'a', 'switchboard');
  if (as?.phase) {
    out.push({ name: '(a) fan-out p99 latency', goal: '≤ 10 ms', value: `${as.phase.latencyMs.p99} ms`, met: as.ok && as.phase.latencyMs.p99 <= 10 });
    if (ab?.phase) {
      const r = as.phase.server.cpuUsPerDelivery / ab.phase.server.cpuUsPerDelivery;
      out.push({
        name: '(a) server CPU per delivery vs baseline',
        goal: '≤ 0.5× baseline',
        value: `${fmt(as.phase.server.cpuUsPerDelivery, 3)} vs ${fmt(ab.phase.server.cpuUsPerDelivery, 3)} µs = ${fmt(r)}×`,
        met: Number.isFinite(r) ? r <= 0.5 : null,
      });
    }
  }
  const es = find(results, 'e', 'switchboard');
  if (es) {
    out.push({ name: `(e) server RSS per session at ${fmtInt(es.connections)} sessions`, goal: '≤ 8 KiB', value: `${fmt(es.rssPerConnKb)} KiB`, met: es.ok && es.rssPerConnKb <= 8 });
    out.push({ name: `(e) time to connect ${fmtInt(es.connections)} sessions (2 rooms each)`, goal: '< 2 s', value: `${fmt(es.connect.seconds)} s`, met: es.ok && es.connect.seconds < 2 });
  }
  const fs = find(results, 'f', 'switchboard');
  if (fs) {
    const a = fs.phase?.acks;
    const top = fs.steps?.at(-1);
    out.push({
      name: `(f) messages persisted per second, ${fs.store === 'PostgreSQL' ? 'PostgreSQL' : 'embedded SQLite'} store`,
      goal: `≥ ${fmtInt(F_TARGET_RATE)}/s with ack p99 ≤ ${F_ACK_P99_LIMIT_MS} ms, every message stored and delivered`,
      value: a
        ? `${fmtInt(a.perSec)}/s at ack p99 ${a.latencyMs.p99} ms` +
          (fs.stored ? `; store holds ${fmtInt(fs.stored.rows)} messages, ${fmtInt(fs.stored.acknowledged)} acknowledged` : '') +
          (top && top !== fs.phase && top.acks ? ` (next step: ${fmtInt(top.acks.perSec)}/s, ack p99 ${top.acks.latencyMs.p99} ms)` : '')
        : `no rate held${fs.stoppedBy ? `: ${fs.stoppedBy}` : ''}`,
      met: fs.ok && !!a && a.perSec >= F_TARGET_RATE * 0.99 && a.latencyMs.p99 <= F_ACK_P99_LIMIT_MS,
    });
  }
  out.push(...storedTargets(results));
  return out;
}

function phaseCells(p: PhaseResult | null): string[] {
  if (!p) return ['—', '—', '—', '—', '—', '—'];
  return [fmtInt(p.deliveriesPerSec), pct(p.deliveryRatio), fmt(p.latencyMs.p50), fmt(p.latencyMs.p99), fmt(p.latencyMs.p999), fmt(p.server.cpuUsPerDelivery, 3)];
}

function netCell(p: PhaseResult | null): string {
  return p?.net ? `${p.net.backlogDrops}/${p.net.tcpRetransmits}` : '—';
}

function genCell(r: WorkloadResult): string {
  const p = r.phase;
  if (!p) return `${fmt(r.connect.generatorCpuMs / 1000)} s CPU to connect`;
  const util = `${(p.generator.cpuUtil * 100).toFixed(0)}%`;
  if (p.generator.saturated) return `**saturated** (${util})`;
  return r.generatorLimited ? `${util}; the step above failed with it **saturated**` : util;
}

/** Which CPUs f's server had, as its command line says (taskset), against the generator's. */
function durableCpus(serverCommand: string, generatorCpus: unknown): string {
  const cpus = /^taskset -c (\S+)/.exec(serverCommand)?.[1];
  if (!cpus) return 'No CPU pinning.';
  return (
    `The server ran on CPU ${cpus}${generatorCpus ? `, the load generator on CPU ${String(generatorCpus)}` : ''}: ` +
    'unlike the other workloads, f lets the server use every core, since the store commits in a thread of its own beside the event loop.'
  );
}

/** Switchboard ÷ another target for every workload both ran, with a blank line after it (only that line if none). */
function ratioTable(results: WorkloadResult[], other: TargetName, label: string): string[] {
  const lines: string[] = [];
  const paired = [...new Set(results.map((r) => r.workload))].filter((w) => find(results, w, other) && find(results, w, 'switchboard'));
  if (paired.length) {
    lines.push(`### Ratios (Switchboard ÷ ${label})`);
    lines.push('');
    lines.push('| workload | deliveries/s | p99 latency | server CPU per delivery | RSS per connection |');
    lines.push('|---|--:|--:|--:|--:|');
  }
  for (const w of paired) {
    const b = find(results, w, other)!;
    const s = find(results, w, 'switchboard')!;
    lines.push(
      `| ${w} | ${ratio(s.phase?.deliveriesPerSec ?? NaN, b.phase?.deliveriesPerSec ?? NaN)} | ${ratio(s.phase?.latencyMs.p99 ?? NaN, b.phase?.latencyMs.p99 ?? NaN)} | ${ratio(s.phase?.server.cpuUsPerDelivery ?? NaN, b.phase?.server.cpuUsPerDelivery ?? NaN)} | ${ratio(s.rssPerConnKb, b.rssPerConnKb)} |`,
    );
  }
  if (paired.length || other === 'baseline') lines.push('');
  return lines;
}

export function markdown(res: BenchResults): string {
  const { meta, results } = res;
  const lines: string[] = [];
  const m = meta.machine;
  const git = meta.git ? ` at commit ${meta.git.commit}${meta.git.dirty ? ' (with uncommitted changes in src/)' : ''}` : '';
  lines.push(`Run on ${meta.date}${git} with \`${meta.command}\` (${fmt(meta.durationSeconds / 60, 1)} min).`);
  lines.push('');
  lines.push(`Machine: ${m.cpus} cores (${m.cpuModel}), ${fmt(m.memoryGiB, 1)} GiB memory, Node ${m.node}, ${m.os}, open files limit ${m.openFilesLimit ?? 'unknown'}.`);
  const o = meta.options;
  lines.push(
    `Harness: ${String(o.workers)} load worker thread(s)` +
      (o.serverCpus ? `; server pinned to CPU ${String(o.serverCpus)}, load generator to CPU ${String(o.generatorCpus)}` : '; no CPU pinning') +
      `; message body ${String(o.bodyChars)} characters.`,
  );
  lines.push('');
  lines.push('### Results');
  lines.push('');
  lines.push('| workload | target | conns | connect s | deliveries/s | delivered | p50 ms | p99 ms | p99.9 ms | server CPU µs/delivery | server RSS MiB | RSS/conn KiB | generator CPU | other procs | drops/retx | ok |');
  lines.push('|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|');
  for (const r of results) {
    lines.push(
      `| ${r.workload} | ${r.target}${r.deployment ? ` (${r.deployment})` : ''} | ${fmtInt(r.connections)} | ${fmt(r.connect.seconds)} | ${phaseCells(r.phase).join(' | ')} | ${fmt(r.rssMb, 1)} | ${fmt(r.rssPerConnKb)} | ${genCell(r)} | ${fmt(r.phase ? r.phase.otherCpuCores : r.connect.otherCpuCores)}${r.disturbed ? ' (disturbed)' : ''} | ${netCell(r.phase)} | ${r.ok ? 'yes' : '**FAIL**'} |`,
    );
  }
  lines.push('');
  lines.push(
    'CPU speed before each server start (ns per reference round of `JSON.stringify` + copy, on the server\'s CPU; lower is faster, and the same code on the same machine differs when its CPUs are shared with neighbours): ' +
      results.map((r) => `${r.workload}/${r.deployment ?? (r.target === 'baseline' ? 'base' : r.target === 'socketio' ? 'sio' : 'sb')} ${fmt(r.calibration.serverCpuNs, 0)}`).join(', ') +
      '.',
  );
  lines.push('');
  lines.push('Workloads: ' + [...new Set(results.map((r) => `**${r.workload}** ${r.title}`))].join('; ') + '.');
  if (results.some((r) => r.workload === 'b')) lines.push('For **b** the row shows the highest publish rate that held (p99 ≤ 100 ms, every message delivered); the steps are listed below.');
  if (results.some((r) => r.workload === 'f' || r.workload === 'fp')) lines.push('For **f** and **fp** the row shows the highest publish rate that held (ack p99 ≤ 20 ms, every message acknowledged, stored and delivered); its latency columns are delivery latency, the ack latency is listed below.');
  lines.push('');

  lines.push(...ratioTable(results, 'baseline', 'baseline'));
  lines.push(...ratioTable(results, 'socketio', 'Socket.IO'));
  if (res.cluster) lines.push(clusterMarkdown(res.cluster, results));
  lines.push(...storedMarkdown(results));

  if (meta.options.quick) {
    lines.push('Targets are judged on full runs only (`npm run bench`): a `--quick` run is a smoke test, too small and short to reach them.');
    lines.push('');
  } else if (res.targets.length) {
    lines.push('### Targets');
    lines.push('');
    lines.push('| target | goal | measured | met |');
    lines.push('|---|---|---|---|');
    for (const t of res.targets) lines.push(`| ${t.name} | ${t.goal} | ${t.value} | ${t.met === null ? '—' : t.met ? 'yes' : '**no**'} |`);
    lines.push('');
  }

  const sat = results.filter((r) => r.steps && r.workload === 'b');
  if (sat.length) {
    lines.push('### Saturation steps (b)');
    lines.push('');
    lines.push('| target | publish msg/s | deliveries/s | delivered | p50 ms | p99 ms | p99.9 ms | server CPU | generator CPU | other procs | drops/retx | verdict |');
    lines.push('|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|');
    for (const r of sat)
      for (const p of r.steps!) {
        const verdict = p.failures.length ? p.failures.join('; ') : p.generator.saturated ? `held (generator saturated: ${p.generator.reasons.join('; ')})` : 'held';
        lines.push(
          `| ${r.target}${r.deployment ? ` (${r.deployment})` : ''} | ${fmt(p.publishRate, 1)} | ${fmtInt(p.deliveriesPerSec)} | ${pct(p.deliveryRatio)} | ${fmt(p.latencyMs.p50)} | ${fmt(p.latencyMs.p99)} | ${fmt(p.latencyMs.p999)} | ${(p.server.cpuUtil * 100).toFixed(0)}% | ${(p.generator.cpuUtil * 100).toFixed(0)}% | ${fmt(p.otherCpuCores)} | ${netCell(p)} | ${verdict.replaceAll('|', '\\|')} |`,
        );
      }
    lines.push('');
  }

  for (const r of results.filter((x) => x.steps && (x.workload === 'f' || x.workload === 'fp'))) lines.push(...durableSection(r, res.meta.options));

  const problems = results.filter((r) => !r.ok || r.serverProblems.length > 0);
  if (problems.length) {
    lines.push('### Failures and server log warnings');
    lines.push('');
    for (const r of problems) {
      for (const f of r.failures) lines.push(`- ${r.workload}/${r.target}: ${f.replaceAll('|', '\\|')}`);
      for (const p of r.serverProblems.slice(0, 5)) lines.push(`- ${r.workload}/${r.target} server log: \`${p.slice(0, 300).replaceAll('`', "'")}\``);
    }
    lines.push('');
  }
  return lines.join('\n');
}

export function writeJson(file: string, res: BenchResults): void {
  writeFileSync(file, JSON.stringify(res, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n');
}

const BEGIN = '<!-- bench:results:begin -->';
const END = '<!-- bench:results:end -->';

/** Replaces the generated part of docs/benchmarks.md (between the markers), or appends it. */
export function updateDocs(file: string, md: string): void {
  const block = `${BEGIN}\n${md}\n${END}`;
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n\n';
  const a = text.indexOf(BEGIN);
  const b = text.indexOf(END);
  writeFileSync(file, a !== -1 && b > a ? text.slice(0, a) + block + text.slice(b + END.length) : `${text.trimEnd()}\n\n${block}\n`);
}

/** One durable run's steps (f or fp), labelled by the store it ran on. */
function durableSection(r: WorkloadResult, options: Record<string, unknown>): string[] {
  const pg = r.store === 'PostgreSQL';
  const lines: string[] = [];
  lines.push(`### Durable messages (${r.workload}: ${pg ? 'PostgreSQL' : 'SQLite'})`);
  lines.push('');
  lines.push(
    (pg
      ? 'Every room stored in PostgreSQL (`store.url`, a database created for the run and dropped after it); server CPU is Switchboard\'s plus that of the PostgreSQL processes working for it (its backends, the WAL writer, checkpointer, background writer, autovacuum), the latter also shown alone. '
      : 'Every room stored in the embedded SQLite store (`synchronous=full`). ') +
      `Each publish asks for an ack; an ack means the message is committed. A step fails if the ack p99 exceeds ${F_ACK_P99_LIMIT_MS} ms, a publish is not acknowledged, or a delivery is missing. ` +
      (options.durableKeys ? "Every publish carries an idempotency key (`--f-keys`), as the SDK's do. " : "Publishes carry no idempotency key (the SDK always sends one; `--f-keys` adds them). ") +
      durableCpus(r.serverCommand, options.generatorCpus) +
      ' Server CPU is a share of one core: above 100 % the server used more than one. ' +
      `Rounds: CPU per message ÷ the calibration's ns per reference round on the server's CPU (${fmt(r.calibration.serverCpuNs, 0)} ns), comparable across machines.`,
  );
  lines.push('');
  lines.push(`| publish msg/s | persisted msg/s | ack p50 ms | ack p99 ms | ack p99.9 ms | delivery p99 ms | delivered | server CPU | server µs/message | rounds/message |${pg ? ' of which PostgreSQL µs |' : ''} generator CPU | verdict |`);
  lines.push(`|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|${pg ? '--:|' : ''}--:|---|`);
  for (const p of r.steps!) {
    const a = p.acks;
    const us = usPerMessage(p);
    const store = p.server.parts?.find((x) => x.role === 'store');
    const storeUs = store && a && a.perSec > 0 ? (store.cpuUtil * 1e6) / a.perSec : NaN;
    const verdict = p.failures.length ? p.failures.join('; ') : p.generator.saturated ? `held (generator saturated: ${p.generator.reasons.join('; ')})` : 'held';
    lines.push(
      `| ${fmtInt(p.publishRate)} | ${fmtInt(a?.perSec ?? NaN)} | ${fmt(a?.latencyMs.p50)} | ${fmt(a?.latencyMs.p99)} | ${fmt(a?.latencyMs.p999)} | ${fmt(p.latencyMs.p99)} | ${pct(p.deliveryRatio)} | ${(p.server.cpuUtil * 100).toFixed(0)}% | ${fmt(us, 1)} | ${fmt(rounds(us, r), 1)} |${pg ? ` ${fmt(storeUs, 1)} |` : ''} ${(p.generator.cpuUtil * 100).toFixed(0)}% | ${verdict.replaceAll('|', '\\|')} |`,
    );
  }
  if (r.stored) lines.push('', `After the run the store held ${fmtInt(r.stored.rows)} messages; ${fmtInt(r.stored.acknowledged)} publishes were acknowledged.`);
  lines.push('');
  return lines;
}
