/**
 * One measured phase: publishers run on a schedule (warm-up, then the
 * measured window), the server's and the generator's CPU and memory are
 * sampled at the window's edges, and once publishing stops the harness waits
 * for everything sent to arrive (or to stop arriving) before it counts.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { nowUs } from './load/client.js';
import type { PublisherSpec } from './load/messages.js';
import type { LoadPool, MergedStats } from './load/pool.js';
import { machineBusyMs, netCounters, sampleProc, type NetCounters, type ProcSample } from './proc.js';
import type { PartRole, RunningTarget } from './server.js';

export interface PhaseWindows {
  warmupMs: number;
  measureMs: number;
  /** Give up waiting for stragglers after this long without progress. */
  drainIdleMs: number;
  /** …or after this long in all. */
  drainMaxMs: number;
}

export interface LatencyMs {
  p50: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
  samples: number;
}

export interface PhaseResult {
  /** Messages per second the publishers were asked to send (all publishers). */
  publishRate: number;
  sent: number;
  expected: number;
  received: number;
  /** received ÷ expected once drained; anything under 1 is a failure. */
  deliveryRatio: number;
  /** Deliveries received per second during the measured window. */
  deliveriesPerSec: number;
  /** Deliveries ÷ text frames received in the window: how many messages share a socket write. */
  messagesPerFrame: number;
  /**
   * What arrived in the window, per delivery: WebSocket payload bytes as sent over the wire (compressed, when
   * permessage-deflate was on) and after inflation, and data frames (text or binary); and the share of frames
   * that came compressed. Absent in results from before it was counted.
   */
  bytes?: { wirePerDelivery: number; payloadPerDelivery: number; framesPerDelivery: number; compressedFrameShare: number };
  latencyMs: LatencyMs;
  /**
   * A cluster's deliveries (connections with a node, see ConnSpec.node), by where the publisher was: on the
   * recipient's node, or on another (the message crossed the broker). Null when no connection has a node.
   */
  latencyByNode: { same: LatencyMs; cross: LatencyMs } | null;
  /**
   * Publishes that asked for an acknowledgement (the durable workload): how
   * many were sent and answered, answers per second in the window (for a
   * durable room: messages persisted per second) and publish → reply latency.
   */
  acks: { asked: number; answered: number; perSec: number; latencyMs: LatencyMs } | null;
  server: {
    /** Every process of the target (a cluster: its nodes and its broker). */
    cpuMs: number;
    /** Server CPU time per delivery in the window (µs). */
    cpuUsPerDelivery: number;
    /** Fraction of one core the server used during the window. */
    cpuUtil: number;
    rssMb: number;
    hwmMb: number;
    /** RSS (MiB) at the window's start, every second in it, and at its end. */
    rssTraceMb: number[];
    /**
     * The highest RSS of the window's last third minus that of its first (MiB): what a leak would add. RSS goes
     * up and down with each GC, so the highs are compared, not two single samples.
     */
    rssGrowthMb: number;
    /** A target of several processes (RunningTarget.sampleParts): each one's share of the window. */
    parts?: PartResult[];
  };
  generator: {
    /** Fraction of the generator's cores it used during the window. */
    cpuUtil: number;
    /** The generator's CPU time per delivery in the window (µs): receiving and decoding, and its share of publishing. */
    cpuUsPerDelivery?: number;
    loopDelayP99Ms: number;
    loopDelayMaxMs: number;
    /** How far behind its schedule the worst publisher fell (ms). */
    maxLagMs: number;
    saturated: boolean;
    reasons: string[];
  };
  /** CPU (in cores) used by other processes on the machine during the window: above ~0.1 the figures are disturbed. */
  otherCpuCores: number;
  /** Loopback packets dropped and TCP segments retransmitted from the start of publishing to the end of the drain. */
  net: NetCounters;
  /** Longest scheduling delay of the harness's idle main thread during the window (ms): the generator's CPU was taken away. */
  stallMs: number;
  drainMs: number;
  errors: number;
  errorSamples: string[];
  closes: Record<string, number>;
  skipped: number;
  /** Why this phase failed (empty: it held). */
  failures: string[];
}

export interface PartResult {
  name: string;
  role: PartRole;
  cpuMs: number;
  /** This process's CPU per delivery (µs): of all deliveries in the window, wherever they were made. */
  cpuUsPerDelivery: number;
  cpuUtil: number;
  rssMb: number;
}

export interface PhaseOptions {
  pool: LoadPool;
  server: RunningTarget;
  publishers: PublisherSpec[];
  windows: PhaseWindows;
  bodyChars: number;
  genCores: number;
  /** Latency bound for this phase (ms): a p99 above it is a failure (saturation steps). */
  p99LimitMs?: number;
  /** Bound for the publish → ack p99 (ms): above it the phase failed. */
  ackP99LimitMs?: number;
}

/**
 * The main thread is idle while a window is measured, so its event-loop delay
 * is the scheduling delay of the generator's CPU: a stall of tens of
 * milliseconds there means the CPU itself was taken away (by the host, or by
 * something this machine cannot see), not that the generator was busy.
 */
const canary = monitorEventLoopDelay({ resolution: 2 });
canary.enable();

const GEN_CPU_LIMIT = 0.9;
const GEN_LAG_LIMIT_MS = 50;
const GEN_LOOP_LIMIT_MS = 50;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** CPU (in cores) that processes other than this one and the target's (all of them: a cluster's nodes and broker too) used over the next `ms`. */
export async function otherLoad(target: Pick<RunningTarget, 'sample'> | null, ms = 1000): Promise<number> {
  const m0 = machineBusyMs();
  const s0 = sampleProc('self');
  const p0 = target ? target.sample().cpuMs : 0;
  await sleep(ms);
  const m1 = machineBusyMs();
  const s1 = sampleProc('self');
  const p1 = target ? target.sample().cpuMs : 0;
  return Math.max(0, (m1 - m0 - (s1.cpuMs - s0.cpuMs) - (p1 - p0)) / (s1.at - s0.at));
}

/**
 * Waits (up to `maxMs`) until the rest of the machine is quiet: other
 * processes using more than `limit` cores would take CPU from the server or
 * the generator and make the figures meaningless. Returns the last load seen.
 */
export async function waitForQuiet(target: Pick<RunningTarget, 'sample'> | null, maxMs: number, limit: number, log: (s: string) => void): Promise<number> {
  const until = performance.now() + maxMs;
  let load = await otherLoad(target, 500);
  let told = false;
  while (load > limit && performance.now() < until) {
    if (!told) log(`    (other processes are using ${load.toFixed(2)} cores: waiting up to ${Math.round(maxMs / 1000)} s for the machine to quiet down)`);
    told = true;
    load = await otherLoad(target, 1000);
  }
  return load;
}

/** One sample of several processes: CPU and memory added up, taken at the first one's time. */
export function sumSamples(xs: ProcSample[]): ProcSample {
  return {
    cpuMs: xs.reduce((n, x) => n + x.cpuMs, 0),
    rssKb: xs.reduce((n, x) => n + x.rssKb, 0),
    hwmKb: xs.reduce((n, x) => n + x.hwmKb, 0),
    at: xs[0]?.at ?? performance.now(),
  };
}

function partResults(
  a: { name: string; role: PartRole; sample: ProcSample }[],
  b: { name: string; role: PartRole; sample: ProcSample }[],
  wallMs: number,
  deliveries: number,
): PartResult[] {
  return a.map((x, i) => {
    const cpuMs = b[i]!.sample.cpuMs - x.sample.cpuMs;
    return { name: x.name, role: x.role, cpuMs, cpuUsPerDelivery: deliveries > 0 ? (cpuMs * 1000) / deliveries : NaN, cpuUtil: cpuMs / wallMs, rssMb: b[i]!.sample.rssKb / 1024 };
  });
}

/** The highest value of the last third of `trace` minus the highest of its first third. */
function growth(trace: number[]): number {
  const third = Math.max(1, Math.floor(trace.length / 3));
  return Math.max(...trace.slice(-third)) - Math.max(...trace.slice(0, third));
}

function latency(h: MergedStats['latency']): LatencyMs {
  const ms = (us: number): number => Math.round(us) / 1000;
  return { p50: ms(h.quantile(0.5)), p99: ms(h.quantile(0.99)), p999: ms(h.quantile(0.999)), max: ms(h.max), mean: ms(h.mean()), samples: h.count };
}

export async function runPhase(o: PhaseOptions): Promise<PhaseResult> {
  const { pool, server, windows: w } = o;
  const net0 = netCounters();
  const startUs = nowUs() + 100_000;
  const warmEndUs = startUs + w.warmupMs * 1000;
  const endUs = warmEndUs + w.measureMs * 1000;
  const samples: { server: ProcSample; parts: { name: string; role: PartRole; sample: ProcSample }[] | null; self: ProcSample; machineMs: number }[] = [];
  let stallMs = 0;
  const rssTraceKb: number[] = [];
  let tracing: NodeJS.Timeout | null = null;
  const take = (): void => {
    const parts = server.sampleParts?.() ?? null;
    samples.push({ server: parts ? sumSamples(parts.map((x) => x.sample)) : server.sample(), parts, self: sampleProc('self'), machineMs: machineBusyMs() });
    rssTraceKb.push(samples.at(-1)!.server.rssKb);
    if (samples.length === 1) {
      canary.reset();
      tracing = setInterval(() => rssTraceKb.push(server.sample().rssKb), 1000);
    } else {
      stallMs = canary.max / 1e6;
      if (tracing) clearInterval(tracing);
    }
  };
  const t0 = setTimeout(take, (warmEndUs - nowUs()) / 1000);
  const t1 = setTimeout(take, (endUs - nowUs()) / 1000);
  let run;
  try {
    run = await pool.run({ startUs, warmEndUs, endUs, bodyChars: o.bodyChars }, o.publishers);
  } catch (err) {
    clearTimeout(t0);
    clearTimeout(t1);
    if (tracing) clearInterval(tracing);
    throw err;
  }
  while (samples.length < 2) await sleep(5);

  // Drain: wait for every expected delivery, or until nothing more arrives.
  const drainStart = performance.now();
  const acking = o.publishers.some((p) => p.ack);
  let st = await pool.stats();
  let last = st.received + st.acks;
  let lastProgress = performance.now();
  while ((st.received < st.expected || (acking && st.acks < st.sent)) && !server.exited()) {
    const now = performance.now();
    if (now - lastProgress > w.drainIdleMs || now - drainStart > w.drainMaxMs) break;
    await sleep(25);
    st = await pool.stats();
    if (st.received + st.acks !== last) {
      last = st.received + st.acks;
      lastProgress = performance.now();
    }
  }
  const drainMs = performance.now() - drainStart;
  const net1 = netCounters();

  const [a, b] = samples as [(typeof samples)[0], (typeof samples)[0]];
  const wallMs = b.server.at - a.server.at;
  const cpuMs = b.server.cpuMs - a.server.cpuMs;
  const genUtil = (b.self.cpuMs - a.self.cpuMs) / (b.self.at - a.self.at) / o.genCores;
  // Busy time of every other process on the machine, in cores.
  const otherCores = (b.machineMs - a.machineMs - cpuMs - (b.self.cpuMs - a.self.cpuMs)) / wallMs;
  const lat = latency(st.latency);
  const latencyByNode = st.latencySame.count + st.latencyCross.count > 0 ? { same: latency(st.latencySame), cross: latency(st.latencyCross) } : null;
  const ackLat = acking ? latency(st.ackLatency) : null;
  const publishRate = o.publishers.reduce((n, p) => n + p.rate, 0);
  const reasons: string[] = [];
  if (genUtil >= GEN_CPU_LIMIT) reasons.push(`generator CPU ${(genUtil * 100).toFixed(0)}% of its ${o.genCores} core(s)`);
  if (run.maxLagUs / 1000 > GEN_LAG_LIMIT_MS) reasons.push(`publishers fell ${(run.maxLagUs / 1000).toFixed(0)} ms behind schedule`);
  if (st.loopDelayP99Ms > GEN_LOOP_LIMIT_MS) reasons.push(`generator event-loop delay p99 ${st.loopDelayP99Ms.toFixed(0)} ms`);

  const failures: string[] = [];
  const ratio = st.expected > 0 ? st.received / st.expected : 1;
  if (st.received < st.expected) failures.push(`delivered ${st.received} of ${st.expected} (${(ratio * 100).toFixed(3)}%)`);
  if (st.received > st.expected) failures.push(`delivered ${st.received - st.expected} more than expected (duplicates?)`);
  if (st.skipped > 0) failures.push(`${st.skipped} messages not sent: the publisher's connection was gone`);
  const closed = Object.entries(st.closes);
  if (closed.length > 0) failures.push(`connections closed: ${closed.map(([k, v]) => `${v}× ${k}`).join(', ')}`);
  if (st.errors > 0) failures.push(`${st.errors} error pushes, e.g. ${st.errorSamples[0]}`);
  if (server.exited()) failures.push('the server exited');
  if (o.p99LimitMs !== undefined && !(lat.p99 <= o.p99LimitMs)) failures.push(`p99 ${lat.p99} ms > ${o.p99LimitMs} ms`);
  if (acking && st.acks < st.sent) failures.push(`acknowledged ${st.acks} of ${st.sent} publishes`);
  if (ackLat && o.ackP99LimitMs !== undefined && !(ackLat.p99 <= o.ackP99LimitMs)) failures.push(`ack p99 ${ackLat.p99} ms > ${o.ackP99LimitMs} ms`);

  return {
    publishRate,
    sent: st.sent,
    expected: st.expected,
    received: st.received,
    deliveryRatio: ratio,
    deliveriesPerSec: st.receivedInWindow / (w.measureMs / 1000),
    messagesPerFrame: st.framesInWindow > 0 ? st.receivedInWindow / st.framesInWindow : NaN,
    bytes: {
      wirePerDelivery: st.receivedInWindow > 0 ? st.wire.wireBytes / st.receivedInWindow : NaN,
      payloadPerDelivery: st.receivedInWindow > 0 ? st.wire.payloadBytes / st.receivedInWindow : NaN,
      framesPerDelivery: st.receivedInWindow > 0 ? st.wire.frames / st.receivedInWindow : NaN,
      compressedFrameShare: st.wire.frames > 0 ? st.wire.compressedFrames / st.wire.frames : NaN,
    },
    latencyMs: lat,
    latencyByNode,
    acks: ackLat ? { asked: st.sent, answered: st.acks, perSec: st.acksInWindow / (w.measureMs / 1000), latencyMs: ackLat } : null,
    server: {
      cpuMs,
      cpuUsPerDelivery: st.receivedInWindow > 0 ? (cpuMs * 1000) / st.receivedInWindow : NaN,
      cpuUtil: cpuMs / wallMs,
      rssMb: b.server.rssKb / 1024,
      hwmMb: b.server.hwmKb / 1024,
      rssTraceMb: rssTraceKb.map((kb) => kb / 1024),
      rssGrowthMb: growth(rssTraceKb) / 1024,
      ...(a.parts && b.parts ? { parts: partResults(a.parts, b.parts, wallMs, st.receivedInWindow) } : {}),
    },
    generator: {
      cpuUtil: genUtil,
      cpuUsPerDelivery: st.receivedInWindow > 0 ? ((b.self.cpuMs - a.self.cpuMs) * 1000) / st.receivedInWindow : NaN,
      loopDelayP99Ms: st.loopDelayP99Ms,
      loopDelayMaxMs: st.loopDelayMaxMs,
      maxLagMs: run.maxLagUs / 1000,
      saturated: reasons.length > 0,
      reasons,
    },
    otherCpuCores: Math.max(0, otherCores),
    stallMs,
    net: { backlogDrops: net1.backlogDrops - net0.backlogDrops, tcpRetransmits: net1.tcpRetransmits - net0.tcpRetransmits },
    drainMs,
    errors: st.errors,
    errorSamples: st.errorSamples,
    closes: st.closes,
    skipped: st.skipped,
    failures,
  };
}
