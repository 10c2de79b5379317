/**
 * The report's parts for the default, stored configuration (issue #20):
 * stored c beside ephemeral c (cs), the reconnect storm against e's connect
 * (g), the durable workload on each store (f, fp) with CPU in reference
 * rounds, and the issue's targets. Each figure is a ratio within one run, so
 * that the machine's speed cancels out.
 */
import { fmt, fmtInt, ratio } from './format.js';
import type { PhaseResult } from './measure.js';
import type { Target } from './report.js';
import type { TargetName } from './server.js';
import { F_TARGET_RATE, type WorkloadId, type WorkloadResult } from './workloads.js';

/** The issue's bounds. */
export const CS_P99_RATIO = 2;
export const CS_P999_MS = 50;
export const CS_CPU_RATIO = 1.3;
export const G_RECOVERY_RATIO = 2;
export const E_BASELINE_RATIO = 1.2;
export const F_ROUNDS_PER_MESSAGE = 15;
export const FP_ACK_RATE = 5_000;
export const FP_ACK_P99_MS = 20;

const find = (results: WorkloadResult[], w: WorkloadId, t: TargetName = 'switchboard'): WorkloadResult | undefined => results.find((r) => r.workload === w && r.target === t);

/** Server CPU per persisted message (µs) of an acknowledged step. */
export const usPerMessage = (p: PhaseResult): number => (p.acks && p.acks.perSec > 0 ? (p.server.cpuUtil * 1e6) / p.acks.perSec : NaN);

/** µs of CPU in reference rounds (ns per round of the calibration on the server's CPU). */
export const rounds = (us: number, r: WorkloadResult): number => (us * 1000) / r.calibration.serverCpuNs;

/** CPU per session while connecting (µs): e's figure, the one g is set beside. */
const connectUsPerSession = (r: WorkloadResult): number => (r.connect.serverCpuMs * 1000) / r.connect.connections;

export function storedTargets(results: WorkloadResult[]): Target[] {
  const out: Target[] = [];
  const es = find(results, 'e');
  const eb = find(results, 'e', 'baseline');
  if (es && eb) {
    const t = es.connect.seconds / eb.connect.seconds;
    const c = connectUsPerSession(es) / connectUsPerSession(eb);
    out.push({ name: '(e) connect time vs baseline', goal: `≤ ${E_BASELINE_RATIO}×`, value: `${fmt(es.connect.seconds)} vs ${fmt(eb.connect.seconds)} s = ${fmt(t)}×`, met: es.ok && eb.ok ? t <= E_BASELINE_RATIO : null });
    out.push({ name: '(e) server CPU per session vs baseline', goal: `≤ ${E_BASELINE_RATIO}×`, value: `${fmt(connectUsPerSession(es), 0)} vs ${fmt(connectUsPerSession(eb), 0)} µs = ${fmt(c)}×`, met: es.ok && eb.ok ? c <= E_BASELINE_RATIO : null });
  }
  const g = find(results, 'g');
  if (g?.storm) {
    const ratioToE = es ? g.storm.recoverySeconds / es.connect.seconds : NaN;
    out.push({
      name: `(g) recovery of ${fmtInt(g.storm.sessions)} sessions vs e's connect time`,
      goal: `≤ ${G_RECOVERY_RATIO}× e's, every missed message recovered (no gap, no duplicate)`,
      value: `${fmt(g.storm.recoverySeconds)} vs ${es ? fmt(es.connect.seconds) : '—'} s = ${fmt(ratioToE)}×; ${fmtInt(g.storm.seq.badSessions)} sessions with a gap or duplicate`,
      met: Number.isFinite(ratioToE) ? g.ok && ratioToE <= G_RECOVERY_RATIO : null,
    });
  }
  const c = find(results, 'c');
  const cs = find(results, 'cs');
  if (cs?.phase) {
    const p99 = cs.phase.latencyMs.p99 / (c?.phase?.latencyMs.p99 ?? NaN);
    const cpu = cs.phase.server.cpuUsPerDelivery / (c?.phase?.server.cpuUsPerDelivery ?? NaN);
    out.push({ name: '(cs) stored c: delivery p99 vs ephemeral c', goal: `≤ ${CS_P99_RATIO}×`, value: `${fmt(cs.phase.latencyMs.p99)} vs ${fmt(c?.phase?.latencyMs.p99)} ms = ${fmt(p99)}×`, met: Number.isFinite(p99) ? cs.ok && p99 <= CS_P99_RATIO : null });
    out.push({ name: '(cs) stored c: delivery p99.9', goal: `≤ ${CS_P999_MS} ms`, value: `${fmt(cs.phase.latencyMs.p999)} ms`, met: cs.ok && cs.phase.latencyMs.p999 <= CS_P999_MS });
    out.push({
      name: '(cs) stored c: server CPU per delivery vs ephemeral c',
      goal: `≤ ${CS_CPU_RATIO}×`,
      value: `${fmt(cs.phase.server.cpuUsPerDelivery, 3)} vs ${fmt(c?.phase?.server.cpuUsPerDelivery, 3)} µs = ${fmt(cpu)}×`,
      met: Number.isFinite(cpu) ? cs.ok && cpu <= CS_CPU_RATIO : null,
    });
  }
  const f = find(results, 'f');
  const atTarget = f?.steps?.find((p) => p.publishRate === F_TARGET_RATE);
  if (f && atTarget) {
    const r = rounds(usPerMessage(atTarget), f);
    out.push({
      name: `(f) server CPU per persisted message at ${fmtInt(F_TARGET_RATE)} msg/s (${f.store ?? 'SQLite'})`,
      goal: `≤ ${F_ROUNDS_PER_MESSAGE} reference rounds`,
      value: `${fmt(usPerMessage(atTarget), 1)} µs = ${fmt(r, 1)} rounds (${fmt(f.calibration.serverCpuNs, 0)} ns per round)`,
      met: Number.isFinite(r) ? r <= F_ROUNDS_PER_MESSAGE : null,
    });
  }
  const fp = find(results, 'fp');
  if (fp) {
    const step = fp.steps?.find((p) => p.publishRate === FP_ACK_RATE);
    const a = step?.acks;
    out.push({
      name: `(fp) PostgreSQL: ack p99 at ${fmtInt(FP_ACK_RATE)} msg/s`,
      goal: `≤ ${FP_ACK_P99_MS} ms, every message acknowledged, stored and delivered`,
      value: a ? `${fmtInt(a.perSec)}/s persisted at ack p99 ${fmt(a.latencyMs.p99)} ms` : 'not measured',
      met: a && step ? step.failures.length === 0 && a.latencyMs.p99 <= FP_ACK_P99_MS : null,
    });
  }
  return out;
}

/** cs beside c: the cost of storing at a chat's shape. */
function storedRoomsSection(results: WorkloadResult[]): string[] {
  const cs = find(results, 'cs');
  if (!cs) return [];
  const c = find(results, 'c');
  const row = (label: string, r: WorkloadResult | undefined): string => {
    const p = r?.phase;
    return `| ${label} | ${fmt(p?.latencyMs.p50)} | ${fmt(p?.latencyMs.p99)} | ${fmt(p?.latencyMs.p999)} | ${fmt(p?.latencyMs.max)} | ${fmt(p?.server.cpuUsPerDelivery, 3)} | ${p ? `${(p.server.cpuUtil * 100).toFixed(0)}%` : '—'} | ${r ? (r.ok ? 'yes' : '**FAIL**') : '—'} |`;
  };
  const window = cs.phase ? `${fmtInt(cs.phase.latencyMs.samples)} deliveries timed` : 'not measured';
  return [
    '### Stored rooms at c\'s shape (cs beside c)',
    '',
    `The same connections, rooms and publishers as c, in rooms stored by default (the default \`rooms.rules\`, the embedded SQLite store at \`synchronous=full\`) instead of c's \`durable: false\`; measured for longer (${window}) so that the store's bursts show in the tail. Switchboard only.`,
    '',
    '| rooms | p50 ms | p99 ms | p99.9 ms | max ms | server CPU µs/delivery | server CPU | ok |',
    '|---|--:|--:|--:|--:|--:|--:|---|',
    row('ephemeral (c)', c),
    row('stored (cs)', cs),
    `| stored ÷ ephemeral | | ${ratio(cs.phase?.latencyMs.p99 ?? NaN, c?.phase?.latencyMs.p99 ?? NaN)} (goal ≤ ${CS_P99_RATIO}×) | (goal ≤ ${CS_P999_MS} ms) | | ${ratio(cs.phase?.server.cpuUsPerDelivery ?? NaN, c?.phase?.server.cpuUsPerDelivery ?? NaN)} (goal ≤ ${CS_CPU_RATIO}×) | | |`,
    '',
  ];
}

/** g against e: recovering everyone against connecting everyone. */
function stormSection(results: WorkloadResult[]): string[] {
  const g = find(results, 'g');
  if (!g?.storm) return [];
  const s = g.storm;
  const e = find(results, 'e');
  const q = s.seq;
  return [
    '### Reconnect storm (g)',
    '',
    `${fmtInt(s.sessions)} sessions in 2 stored rooms of 10 each (e's shape, the default stored rooms), publishers sending ${fmtInt(s.publishRate)} msg/s into all rooms on connections of their own that stay up; ` +
      'then the generator destroys every session\'s socket in the same moment, and all dial again with `resume=1` and joins with `since` = the last seq each saw in each room. ' +
      'Recovered: the session\'s last join reply has come (a join\'s replay arrives before its reply). Server CPU: from just before the cut until the last session recovered, publishing included ' +
      `(${fmt(s.steadyCpuUtil * 100, 1)}% of a core before the cut). Switchboard only: the baseline and Socket.IO have no resume.`,
    '',
    '| sessions back | recovered in s | e connect s | g ÷ e | server CPU s | µs/session | rounds/session | e µs/session | replayed | gaps (missing) | duplicates | recovered:false | delivered | ok |',
    '|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|',
    `| ${fmtInt(s.reconnected)} of ${fmtInt(s.sessions)} | ${fmt(s.recoverySeconds)} | ${fmt(e?.connect.seconds)} | ${ratio(s.recoverySeconds, e?.connect.seconds ?? NaN)} (goal ≤ ${G_RECOVERY_RATIO}×) | ${fmt(s.serverCpuMs / 1000)} | ${fmt(s.cpuUsPerSession, 0)} | ${fmt(s.cpuRoundsPerSession, 0)} | ${e ? fmt(connectUsPerSession(e), 0) : '—'} | ${fmtInt(q.replayed)} | ${fmtInt(q.gaps)} (${fmtInt(q.missing)}) | ${fmtInt(q.duplicates)} | ${fmtInt(q.unrecovered)} | ${fmtInt(s.received)} of ${fmtInt(s.expected)} | ${g.ok ? 'yes' : '**FAIL**'} |`,
    '',
  ];
}

export function storedMarkdown(results: WorkloadResult[]): string[] {
  return [...storedRoomsSection(results), ...stormSection(results)];
}
