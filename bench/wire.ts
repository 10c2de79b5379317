/**
 * `npm run bench -- --wire` (issue #19): what the wire costs a receiver. One room of 2,000 members, a few
 * publishers of 64-character text bodies, and a receiving generator on one core that decodes every message the
 * way a client of its encoding does (bench/load/wire.ts). Run against, one after the other on a fresh server each:
 *
 *   baseline     a bare `ws` hub sending each message's body alone, one frame per recipient (baseline-server
 *                --bare); its receiver reads the send time from the frame: there is no envelope to parse
 *   v1           Switchboard, no subprotocol: version 1's JSON, JSON.parse per line
 *   lean         Switchboard, `switchboard.v2.json`: the lean JSON, JSON.parse per line
 *   proto        Switchboard, `switchboard.v2.proto`: length-delimited Protobuf, splitDelimited + decodeServerMessage
 *
 * and each Switchboard encoding again with permessage-deflate (`compression.enabled`, every frame compressed;
 * the generator offers the extension and inflates what comes compressed). Every target climbs a ladder of
 * publish rates like workload b's (p99 ≤ 100 ms and every message delivered, or the step failed); the
 * Switchboard ladders start at the highest rate the baseline held, so that every target is measured there
 * too, and go on over the baseline's steps (×1.5 from 10 msg/s) to 500 msg/s — the issue's 1M deliveries/s.
 */
import type { PhaseResult } from './measure.js';
import type { WireSpec } from './load/messages.js';
import type { PublisherSpec } from './load/messages.js';
import type { TargetName } from './server.js';
import {
  bringUp,
  disturbed,
  measured,
  pad,
  phaseLine,
  phaseOptions,
  plan,
  tearDown,
  windows,
  type Calibration,
  type ConnectInfo,
  type Context,
  type Setup,
  type WireSetup,
} from './workloads.js';

export interface WireVariant {
  /** baseline, v1, lean, proto, v1+deflate… */
  name: string;
  target: TargetName;
  wire: WireSpec;
  baselineArgs: string[];
  config: Record<string, unknown>;
}

/** Every frame compressed: the server's default threshold (1024 bytes) would leave the small frames of the low rates as they are. */
const DEFLATE_CONFIG = { compression: { enabled: true, thresholdBytes: 0 } };

const switchboard = (name: string, protocol: string | null, decode: WireSpec['decode'], deflate: boolean): WireVariant => ({
  name: deflate ? `${name}+deflate` : name,
  target: 'switchboard',
  wire: { protocol, decode, deflate },
  baselineArgs: [],
  config: deflate ? DEFLATE_CONFIG : {},
});

export const WIRE_VARIANTS: WireVariant[] = [
  { name: 'baseline', target: 'baseline', wire: { protocol: null, decode: 'bare', deflate: false }, baselineArgs: ['--bare'], config: {} },
  switchboard('v1', null, 'json', false),
  switchboard('lean', 'switchboard.v2.json', 'json', false),
  switchboard('proto', 'switchboard.v2.proto', 'proto', false),
  switchboard('v1', null, 'json', true),
  switchboard('lean', 'switchboard.v2.json', 'json', true),
  switchboard('proto', 'switchboard.v2.proto', 'proto', true),
];
export const WIRE_VARIANT_NAMES = WIRE_VARIANTS.map((v) => v.name);

/** The load: 500 msg/s into a room of 2,000 = 1M deliveries/s. */
export const WIRE_TARGET_RATE = 500;
export const WIRE_MEMBERS = 2000;
export const WIRE_PUBLISHERS = 5;
export const WIRE_BODY_CHARS = 64;
export const WIRE_P99_LIMIT_MS = 100;

export interface WireRun {
  variant: string;
  target: TargetName;
  wire: WireSpec;
  serverCommand: string;
  connections: number;
  connect: ConnectInfo;
  calibration: Calibration;
  /** Every step, in the order measured. */
  steps: PhaseResult[];
  /** The step at the comparison rate (the highest the baseline held), when this target was measured there. */
  atCompare: PhaseResult | null;
  /** The highest rate that held. */
  held: PhaseResult | null;
  stoppedBy: string;
  failures: string[];
  serverProblems: string[];
  seconds: number;
}

export interface WireComparison {
  members: number;
  publishers: number;
  bodyChars: number;
  /** Publish rate (msg/s) all targets were compared at: the highest the baseline held (or --wire-rate). */
  compareRate: number;
  targetRate: number;
  runs: WireRun[];
}

/** Rates (msg/s) a ladder climbs: ×1.5 from `from`, and the target rate last. */
function ladderRates(from: number, to: number): number[] {
  const out: number[] = [];
  for (let r = from; r < to * 0.99; r *= 1.5) out.push(r);
  out.push(to);
  return out;
}

/** `rates` with `rate` in its place (ascending), unless it is there already or 0. */
function withRate(rates: number[], rate: number): number[] {
  if (rate <= 0 || rates.some((r) => Math.abs(r - rate) < 1e-6)) return rates;
  return [...rates, rate].sort((x, y) => x - y);
}

/**
 * One target's ladder on a fresh server: steps up until two in a row fail (or the top is reached), then two
 * bisection steps between the highest rate that held and the failed one above it, each on a fresh server.
 */
async function climb(ctx: Context, v: WireVariant, rates: number[]): Promise<WireRun> {
  const t0 = performance.now();
  const quick = ctx.settings.quick;
  const n = quick ? 200 : WIRE_MEMBERS;
  const publishers = quick ? 2 : WIRE_PUBLISHERS;
  const room = 'wire';
  const conns = plan(n, (i) => `w${pad(i, 5)}`, () => [room]);
  const setup: WireSetup = { wire: v.wire, baselineArgs: v.baselineArgs };
  const up = (): Promise<Setup> => bringUp(ctx, v.target, conns, v.config, ctx.settings.serverCpus, setup);
  const pubsAt = (total: number): PublisherSpec[] =>
    Array.from({ length: publishers }, (_, k) => ({ conn: Math.floor((k * n) / publishers), rate: total / publishers, fanout: n, room }));
  const w = windows(ctx, 1000, 4000);
  let s = await up();
  const first = s;
  const steps: PhaseResult[] = [];
  let held: PhaseResult | null = null;
  let stoppedBy = '';
  const step = async (rate: number): Promise<PhaseResult> => {
    const p = await measured(ctx, { ...phaseOptions(ctx, s.server, pubsAt(rate), w, { p99LimitMs: WIRE_P99_LIMIT_MS }), bodyChars: WIRE_BODY_CHARS });
    steps.push(p);
    ctx.log(`    ${rate.toFixed(1)} msg/s → ${phaseLine(p)}; ${bytesLine(p)}`);
    return p;
  };
  const why = (rate: number, p: PhaseResult): string =>
    `${rate.toFixed(1)} msg/s: ${p.failures.join('; ')}` +
    (p.generator.saturated ? ` (receiver saturated: ${p.generator.reasons.join('; ')})` : '') +
    (disturbed(p) ? ` (other processes used ${p.otherCpuCores.toFixed(2)} cores, CPU stalls up to ${p.stallMs.toFixed(0)} ms)` : '');
  const fresh = async (): Promise<void> => {
    await tearDown(ctx, s);
    s = await up();
  };
  try {
    let lastGood = 0;
    let firstBad = 0;
    let failedInARow = 0;
    for (const rate of rates) {
      const p = await step(rate);
      if (p.failures.length === 0) {
        held = p;
        lastGood = rate;
        failedInARow = 0;
        firstBad = 0;
        continue;
      }
      if (failedInARow++ === 0) firstBad = rate;
      stoppedBy = why(rate, p);
      if (failedInARow >= 2) break;
      // A backlog or lost sessions would spoil the next step.
      if (Object.keys(p.closes).length > 0 || p.deliveryRatio < 1) await fresh();
    }
    if (!quick && firstBad > 0 && lastGood > 0) {
      for (let i = 0; i < 2; i++) {
        const mid = (lastGood + firstBad) / 2;
        await fresh();
        const p = await step(mid);
        if (p.failures.length === 0) {
          held = p;
          lastGood = mid;
        } else {
          firstBad = mid;
          stoppedBy = why(mid, p);
        }
      }
    }
    if (held) ctx.log(`    highest rate that held: ${held.publishRate.toFixed(1)} msg/s = ${Math.round(held.deliveriesPerSec).toLocaleString('en-US')} deliveries/s`);
    return {
      variant: v.name,
      target: v.target,
      wire: v.wire,
      serverCommand: first.server.command,
      connections: n,
      connect: first.connect,
      calibration: first.calibration,
      steps,
      atCompare: null,
      held,
      stoppedBy,
      failures: [
        ...(first.connect.failed > 0 ? [`${first.connect.failed} of ${n} connections failed: ${first.connect.firstErrors.join('; ')}`] : []),
        ...(held ? [] : [`no rate held: ${stoppedBy}`]),
      ],
      serverProblems: [...new Set([...first.server.problems(), ...s.server.problems()])].slice(0, 20),
      seconds: (performance.now() - t0) / 1000,
    };
  } finally {
    await tearDown(ctx, s);
  }
}

export function bytesLine(p: PhaseResult): string {
  const b = p.bytes;
  if (!b) return '';
  return (
    `${b.wirePerDelivery.toFixed(1)} B/delivery on the wire (${b.payloadPerDelivery.toFixed(1)} inflated), ` +
    `${(1 / b.framesPerDelivery).toFixed(1)} deliveries/frame, ${(b.compressedFrameShare * 100).toFixed(0)}% of frames compressed, ` +
    `receiver ${(p.generator.cpuUsPerDelivery ?? NaN).toFixed(2)} µs/delivery`
  );
}

export interface WireOptions {
  variants: string[];
  /** Compare at this rate instead of the baseline's highest (needed when the baseline is not run). */
  compareRate: number | null;
}

/** Every variant asked for, the baseline first (its highest rate is where the others are compared). */
export async function wireComparison(ctx: Context, o: WireOptions): Promise<WireComparison> {
  const quick = ctx.settings.quick;
  const top = quick ? 40 : WIRE_TARGET_RATE;
  const runs: WireRun[] = [];
  let compareRate = o.compareRate ?? (quick ? 10 : 0);
  // In the order asked for (runs can alternate it), the baseline always first: the others start from its highest rate.
  const chosen = o.variants.map((n) => WIRE_VARIANTS.find((v) => v.name === n)!).sort((x, y) => Number(y.target === 'baseline') - Number(x.target === 'baseline'));
  for (const v of chosen) {
    ctx.log(`[wire] ${v.name}: ${describe(v)}`);
    // The baseline climbs from 10 msg/s; the others are measured at the rate where it stopped, then on the same
    // steps as it from there up (steps every run shares, whatever the baseline held) — except with deflate, whose
    // server cost puts its limit far lower: it climbs from 5 msg/s, through that rate.
    const rates = quick
      ? v.target === 'baseline'
        ? [10, 20]
        : [compareRate, top]
      : v.target === 'baseline'
        ? ladderRates(10, top)
        : v.wire.deflate
          ? withRate(ladderRates(5, top), compareRate)
          : withRate(ladderRates(10, top).filter((r) => r >= compareRate), compareRate);
    const r = await climb(ctx, v, rates);
    if (v.target === 'baseline' && o.compareRate === null && !quick) compareRate = r.held?.publishRate ?? 10;
    runs.push(r);
  }
  for (const r of runs) r.atCompare = r.steps.find((p) => Math.abs(p.publishRate - compareRate) < 1e-6) ?? null;
  return { members: quick ? 200 : WIRE_MEMBERS, publishers: quick ? 2 : WIRE_PUBLISHERS, bodyChars: WIRE_BODY_CHARS, compareRate, targetRate: top, runs };
}

export function describe(v: WireVariant): string {
  if (v.target === 'baseline') return 'bare ws hub, the body alone per frame; the receiver reads the send time, parses nothing';
  const enc = v.wire.protocol ?? 'no subprotocol (v1 JSON)';
  const dec = v.wire.decode === 'proto' ? 'splitDelimited + decodeServerMessage' : 'JSON.parse per line';
  return `Switchboard, ${enc}, receiver: ${dec}${v.wire.deflate ? ', permessage-deflate' : ''}`;
}
