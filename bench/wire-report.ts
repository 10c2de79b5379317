/** The markdown of a wire run (`--wire`, bench/wire.ts): the comparison, the byte table, every step. */
import { fmt, fmtInt, pct, ratio } from './format.js';
import type { PhaseResult } from './measure.js';
import type { BenchMeta } from './report.js';
import { WIRE_P99_LIMIT_MS, type WireComparison, type WireRun } from './wire.js';

const verdict = (p: PhaseResult): string =>
  (p.failures.length ? p.failures.join('; ') : 'held') + (p.generator.saturated ? ` (receiver saturated: ${p.generator.reasons.join('; ')})` : '');

const esc = (s: string): string => s.replaceAll('|', '\\|');

function row(name: string, p: PhaseResult | null): string {
  if (!p) return `| ${name} | not measured at this rate | | | | | | | | |`;
  const b = p.bytes;
  return (
    `| ${name} | ${pct(p.deliveryRatio)} | ${fmt(p.latencyMs.p50)} | ${fmt(p.latencyMs.p99)} | ${fmt(p.server.cpuUsPerDelivery, 3)} | ${fmt(p.generator.cpuUsPerDelivery, 3)} | ` +
    `${fmt(b?.wirePerDelivery, 1)} | ${fmt(b?.payloadPerDelivery, 1)} | ${fmt(b ? 1 / b.framesPerDelivery : NaN, 1)} | ${esc(verdict(p))} |`
  );
}

/** Bytes of one delivery less the body's: what the encoding adds (its separator or length prefix included). */
const envelope = (bytes: number | undefined, body: number): string => fmt(bytes === undefined ? NaN : bytes - body, 1);

export function wireMarkdown(meta: BenchMeta, w: WireComparison): string {
  const lines: string[] = [];
  const m = meta.machine;
  const git = meta.git ? ` at commit ${meta.git.commit}${meta.git.dirty ? ' (with uncommitted changes in src/)' : ''}` : '';
  lines.push(`Run on ${meta.date}${git} with \`${meta.command}\` (${fmt(meta.durationSeconds / 60, 1)} min).`);
  lines.push(`Machine: ${m.cpus} cores (${m.cpuModel}), Node ${m.node}, ${m.os}.`);
  const o = meta.options;
  lines.push(
    `One room of ${fmtInt(w.members)} members, ${w.publishers} publishers, ${w.bodyChars}-character text bodies (the send time, then random letters); ` +
      (o.serverCpus ? `server on CPU ${String(o.serverCpus)}, the receiving generator (${String(o.workers)} thread) on CPU ${String(o.generatorCpus)}.` : 'no CPU pinning.'),
  );
  lines.push('');
  const at = w.compareRate * w.members;
  lines.push(`#### At ${fmt(w.compareRate, 1)} msg/s = ${fmtInt(at)} deliveries/s (the highest rate the baseline held)`);
  lines.push('');
  lines.push('| target | delivered | p50 ms | p99 ms | server µs/delivery | receiver µs/delivery | wire B/delivery | inflated B/delivery | deliveries/frame | verdict |');
  lines.push('|---|--:|--:|--:|--:|--:|--:|--:|--:|---|');
  for (const r of w.runs) lines.push(row(r.variant, r.atCompare));
  lines.push('');

  const base = w.runs.find((r) => r.variant === 'baseline')?.atCompare ?? null;
  if (base) {
    lines.push('Ratios to the baseline at that rate (receiver CPU per delivery / wire bytes per delivery / p99):');
    lines.push('');
    for (const r of w.runs.filter((x) => x.variant !== 'baseline' && x.atCompare)) {
      const p = r.atCompare!;
      lines.push(
        `- ${r.variant}: ${ratio(p.generator.cpuUsPerDelivery ?? NaN, base.generator.cpuUsPerDelivery ?? NaN)} / ` +
          `${ratio(p.bytes?.wirePerDelivery ?? NaN, base.bytes?.wirePerDelivery ?? NaN)} / ${ratio(p.latencyMs.p99, base.latencyMs.p99)}`,
      );
    }
    lines.push('');
  }

  lines.push(`#### Highest rate held (p99 ≤ ${WIRE_P99_LIMIT_MS} ms, every message delivered), up to ${fmt(w.targetRate, 0)} msg/s = ${fmtInt(w.targetRate * w.members)} deliveries/s`);
  lines.push('');
  lines.push('| target | msg/s | deliveries/s | p50 ms | p99 ms | server µs/delivery | receiver µs/delivery | receiver CPU | the step above |');
  lines.push('|---|--:|--:|--:|--:|--:|--:|--:|---|');
  for (const r of w.runs) {
    const h = r.held;
    lines.push(
      h
        ? `| ${r.variant} | ${fmt(h.publishRate, 1)} | ${fmtInt(h.deliveriesPerSec)} | ${fmt(h.latencyMs.p50)} | ${fmt(h.latencyMs.p99)} | ${fmt(h.server.cpuUsPerDelivery, 3)} | ${fmt(h.generator.cpuUsPerDelivery, 3)} | ${(h.generator.cpuUtil * 100).toFixed(0)}% | ${esc(r.stoppedBy || 'none: the top rate held')} |`
        : `| ${r.variant} | none held | | | | | | | ${esc(r.stoppedBy)} |`,
    );
  }
  lines.push('');

  lines.push(
    `#### Bytes per delivery (a ${w.bodyChars}-byte text body; envelope = bytes − ${w.bodyChars}), as the server sent them at ${fmt(w.compareRate, 1)} msg/s ` +
      '(or, where a target was not measured there, at the highest rate it held, or else at its first step)',
  );
  lines.push('');
  lines.push('| encoding | bytes | envelope | deliveries/frame | with permessage-deflate: bytes | envelope | deliveries/frame | frames compressed | deflate row measured at msg/s |');
  lines.push('|---|--:|--:|--:|--:|--:|--:|--:|--:|');
  const byName = (n: string): WireRun | undefined => w.runs.find((r) => r.variant === n);
  const measuredAt = (r: WireRun | undefined): PhaseResult | null => r?.atCompare ?? r?.held ?? r?.steps[0] ?? null;
  for (const n of ['baseline', 'v1', 'lean', 'proto']) {
    const plain = measuredAt(byName(n));
    const defl = measuredAt(byName(`${n}+deflate`));
    if (!plain && !defl) continue;
    const pb = plain?.bytes;
    const db = defl?.bytes;
    lines.push(
      `| ${n} | ${fmt(pb?.payloadPerDelivery, 1)} | ${envelope(pb?.payloadPerDelivery, w.bodyChars)} | ${fmt(pb ? 1 / pb.framesPerDelivery : NaN, 1)} | ` +
        `${fmt(db?.wirePerDelivery, 1)} | ${envelope(db?.wirePerDelivery, w.bodyChars)} | ${fmt(db ? 1 / db.framesPerDelivery : NaN, 1)} | ${db ? `${(db.compressedFrameShare * 100).toFixed(0)}%` : '—'} | ${defl ? fmt(defl.publishRate, 1) : '—'} |`,
    );
  }
  lines.push('');

  lines.push('#### Every step');
  lines.push('');
  lines.push('| target | msg/s | deliveries/s | delivered | p50 ms | p99 ms | server µs/delivery | server CPU | receiver µs/delivery | receiver CPU | wire B/delivery | other procs | verdict |');
  lines.push('|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|');
  for (const r of w.runs)
    for (const p of r.steps)
      lines.push(
        `| ${r.variant} | ${fmt(p.publishRate, 1)} | ${fmtInt(p.deliveriesPerSec)} | ${pct(p.deliveryRatio)} | ${fmt(p.latencyMs.p50)} | ${fmt(p.latencyMs.p99)} | ${fmt(p.server.cpuUsPerDelivery, 3)} | ${(p.server.cpuUtil * 100).toFixed(0)}% | ${fmt(p.generator.cpuUsPerDelivery, 3)} | ${(p.generator.cpuUtil * 100).toFixed(0)}% | ${fmt(p.bytes?.wirePerDelivery, 1)} | ${fmt(p.otherCpuCores)} | ${esc(verdict(p))} |`,
      );
  lines.push('');
  const problems = w.runs.filter((r) => r.failures.length > 0 || r.serverProblems.length > 0);
  for (const r of problems) {
    for (const f of r.failures) lines.push(`- ${r.variant}: ${esc(f)}`);
    for (const p of r.serverProblems.slice(0, 5)) lines.push(`- ${r.variant} server log: \`${p.slice(0, 300).replaceAll('`', "'")}\``);
  }
  if (problems.length) lines.push('');
  return lines.join('\n');
}
