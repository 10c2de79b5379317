/**
 * The server API (/api/v1) under load, in one run on one machine (issue #16):
 *
 *   1. single publish  POST /api/v1/rooms/{room}/publish at a fixed rate, a bounded number of requests in flight
 *                      over keep-alive connections: messages/s, HTTP ack latency, send → WebSocket delivery latency
 *   2. WebSocket       the same rate sent by members of the room (`publish` with an id, the reply timed), for comparison
 *   3. batch publish   POST /api/v1/publish/batch with 1,000 messages per request, back to back, a few in flight,
 *                      held back only while the subscribers are more than a few batches behind: messages/s stored and
 *                      delivered, request latency, every message counted at every subscriber, frames per batch at one
 *                      subscriber (and with one batch at a time)
 *   4. batch, unpaced  the same with nothing holding the sender back: what the server takes in and stores. The
 *                      server answers after the commit and does not wait for readers, so a load generator that must
 *                      read every message at every subscriber falls behind, and the server closes the slowest
 *                      subscribers (4005): reported, not counted as a failure
 *
 * Switchboard is started as bench/server.ts starts it (its CLI, a config file, here with an API key and durable
 * rooms, the embedded SQLite store in a temporary folder); the subscribers are the load workers of bench/load/.
 *
 *   npm run build && node dist/bench/api.js [--quick] [options]     (npm run bench:api -- [options])
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { dirname, join } from 'node:path';
import { batchPublishes, Observer, oneBatch, singlePublishes, type HttpStats, type HttpTarget, type Window } from './api-load.js';
import { nowUs } from './load/client.js';
import type { Histogram } from './load/histogram.js';
import type { ConnSpec, PublisherSpec } from './load/messages.js';
import { LoadPool, type MergedStats } from './load/pool.js';
import { gitState, hasTaskset, pinGenerator } from './machine.js';
import { machineBusyMs, sampleProc, type ProcSample } from './proc.js';
import { REPO_ROOT, mergeConfig, startTarget, switchboardBenchConfig, type RunningTarget } from './server.js';

const HELP = `Usage: node dist/bench/api.js [options]   (npm run bench:api -- [options]; build first)

  --quick                 smoke run: 100 subscribers, 0.5 s warm-up + 1.5 s measured per phase, JSON to a temp file
  --only LIST             phases to run: single,websocket,batch,unpaced (default all)
  --subscribers N         WebSocket subscribers in the room (default 500)
  --rate R                msg/s for the single-publish and WebSocket phases (default 1000)
  --in-flight N           single publish: most HTTP requests out at once (default 64)
  --ws-publishers N       WebSocket phase: publishers sharing the rate (default 10)
  --batch N               messages per batch request (default 1000)
  --batch-in-flight N     batch requests out at once (default 3)
  --batch-ahead N         paced batch phase: most messages sent but not yet read by the subscribers
                          (default 2 × batch-in-flight × batch; the server closes a session 10,000 messages behind)
  --warmup S              warm-up seconds per phase (default 2)
  --measure S             measured seconds per phase (default 10)
  --body N                message body length in characters (default 48)
  --out FILE              JSON result (default bench/results/api.json; --quick: a temp file)
  --no-pin                do not pin the server to CPU 0 and the harness to the other CPUs
  --server-cpus LIST      the server's CPUs (taskset list) when pinning (default 0)
  --server-node-args S    extra node flags for the server, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"
                          (node dist/bench/cpuprofile-top.js FILE lists a profile's top frames)
  --wait-load L           before starting, wait until the 1-minute load average is below L (default 1.0; --quick: no wait)
  --wait-max S            …for at most S seconds (default 600)
`;

type PhaseId = 'single' | 'websocket' | 'batch' | 'unpaced';
const PHASES: PhaseId[] = ['single', 'websocket', 'batch', 'unpaced'];

interface Args {
  quick: boolean;
  only: PhaseId[];
  subscribers: number;
  rate: number;
  inFlight: number;
  wsPublishers: number;
  batch: number;
  batchInFlight: number;
  batchAhead: number | null;
  warmupS: number;
  measureS: number;
  body: number;
  out: string | null;
  pin: boolean | null;
  serverCpus: string;
  waitLoad: number | null;
  waitMaxS: number;
  serverNodeArgs: string[];
}

function parse(argv: string[]): Args {
  const quick = argv.includes('--quick');
  const a: Args = {
    quick,
    only: PHASES,
    subscribers: quick ? 100 : 500,
    rate: 1000,
    inFlight: 64,
    wsPublishers: 10,
    batch: 1000,
    batchInFlight: 3,
    batchAhead: null,
    warmupS: quick ? 0.5 : 2,
    measureS: quick ? 1.5 : 10,
    body: 48,
    out: null,
    pin: null,
    serverCpus: '0',
    waitLoad: null,
    waitMaxS: 600,
    serverNodeArgs: [],
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [name, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`${name} needs a value`);
      return v;
    };
    const num = (min: number): number => {
      const v = Number(value());
      if (!Number.isFinite(v) || v < min) throw new Error(`${name} needs a number ≥ ${min}`);
      return v;
    };
    switch (name) {
      case '--quick':
        break;
      case '--only':
        a.only = value()
          .split(',')
          .map((x) => x.trim())
          .filter(Boolean) as PhaseId[];
        for (const x of a.only) if (!PHASES.includes(x)) throw new Error(`unknown phase ${x} (${PHASES.join(', ')})`);
        break;
      case '--subscribers':
        a.subscribers = Math.floor(num(1));
        break;
      case '--rate':
        a.rate = num(1);
        break;
      case '--in-flight':
        a.inFlight = Math.floor(num(1));
        break;
      case '--ws-publishers':
        a.wsPublishers = Math.floor(num(1));
        break;
      case '--batch':
        a.batch = Math.floor(num(1));
        break;
      case '--batch-in-flight':
        a.batchInFlight = Math.floor(num(1));
        break;
      case '--batch-ahead':
        a.batchAhead = Math.floor(num(1));
        break;
      case '--warmup':
        a.warmupS = num(0);
        break;
      case '--measure':
        a.measureS = num(0.2);
        break;
      case '--body':
        a.body = Math.floor(num(17));
        break;
      case '--out':
        a.out = value();
        break;
      case '--pin':
        a.pin = true;
        break;
      case '--no-pin':
        a.pin = false;
        break;
      case '--server-cpus':
        a.serverCpus = value();
        break;
      case '--server-node-args':
        a.serverNodeArgs = value().split(/\s+/).filter(Boolean);
        break;
      case '--wait-load':
        a.waitLoad = num(0);
        break;
      case '--wait-max':
        a.waitMaxS = num(0);
        break;
      case '-h':
      case '--help':
        process.stdout.write(HELP);
        process.exit(0);
      // eslint-disable-next-line no-fallthrough
      default:
        throw new Error(`unknown option ${arg} (see --help)`);
    }
  }
  if (a.wsPublishers > a.subscribers) a.wsPublishers = a.subscribers;
  return a;
}

const ROOM = 'api-bench';
/** The harness's main thread (HTTP senders, the observer): its event-loop delay during a window. */
const mainLoop = monitorEventLoopDelay({ resolution: 5 });
mainLoop.enable();
const log = (line: string): void => void process.stderr.write(line + '\n');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface LatencyMs {
  p50: number;
  p99: number;
  p999: number;
  max: number;
  samples: number;
}

function latency(h: Histogram): LatencyMs {
  const ms = (us: number): number => (Number.isFinite(us) ? Math.round(us) / 1000 : NaN);
  return { p50: ms(h.quantile(0.5)), p99: ms(h.quantile(0.99)), p999: ms(h.quantile(0.999)), max: ms(h.max), samples: h.count };
}

export interface PhaseOut {
  name: 'single' | 'websocket' | 'batch' | 'batchUnpaced';
  title: string;
  /** Messages per second asked for (batch: none, back to back). */
  targetRate: number | null;
  windowSeconds: number;
  /** Requests (HTTP) or publishes (WebSocket) sent, over warm-up and window. */
  sent: number;
  /** Messages acknowledged (stored: the answer comes after the commit), over warm-up and window. */
  acked: number;
  /** Messages acknowledged per second in the window. */
  messagesPerSec: number;
  /** Messages that reached a subscriber per second in the window (deliveries in the window ÷ subscribers). */
  deliveredMessagesPerSec: number;
  deliveriesPerSec: number;
  /** Every message acknowledged × subscribers, against what the subscribers counted once drained. */
  delivery: { expected: number; received: number; ratio: number; observerExpected: number; observerReceived: number };
  /** Rows the phase added to the store, and the acknowledged messages they should equal. */
  stored: { rows: number; acked: number };
  /** HTTP: request → answer; WebSocket: publish → reply. Of messages (requests) sent in the window. */
  ackLatencyMs: LatencyMs;
  /** Send → arrival at the WebSocket subscribers, of messages sent in the window. */
  deliveryLatencyMs: LatencyMs;
  server: { cpuMs: number; cpuSecondsPer1000Messages: number; cpuUsPerMessage: number; cpuUtil: number; rssMb: number };
  /**
   * maxLagMs: how late a sender went out with nothing holding it back (a timer that fired late), and when (s after
   * sending started); the event-loop delay (ms) of the harness's main thread (the HTTP senders) and of the load
   * workers (p99) during the window.
   */
  generator: { cpuUtil: number; maxLagMs: number; maxLagAtS: number | null; mainLoopDelayMaxMs: number; mainLoopDelayP99Ms: number; loopDelayP99Ms: number; saturated: boolean; reasons: string[] };
  /**
   * HTTP single publish: sends due in the window that found all `inFlight` requests out and waited for an answer
   * (their latency is timed from when they went out, not from when they were due), the longest wait, the sends still
   * waiting when the window ended, and the most requests out at once. rateHeld: the acks in the window reached 98 %
   * of the rate asked.
   */
  pacing: { heldBack: number; maxHeldMs: number; unsent: number; maxInFlight: number; rateHeld: boolean | null };
  /** Not failures: what limited the phase. */
  notes: string[];
  /** CPU (cores) that other processes on the machine used during the window; above ~0.1 the figures are disturbed. */
  otherCpuCores: number;
  loadavg1: number;
  errors: number;
  errorSamples: string[];
  closes: Record<string, number>;
  drainMs: number;
  failures: string[];
  /** Batch only. */
  batch?: {
    size: number;
    inFlight: number;
    /** Paced: most messages sent ahead of what the subscribers had read (null: unpaced), and how many requests waited for them, at most how long. */
    ahead: number | null;
    waitedForSubscribers: number;
    maxWaitMs: number;
    requests: number;
    requestsPerSec: number;
    /** At one subscriber (the observer), during the back-to-back window and drain: frames that carried the room's messages ÷ batches acknowledged. */
    framesPerBatch: number;
    messagesPerFrame: number;
    largestFrame: number;
    /** One batch at a time, each delivered before the next: what the design promises (one frame per member per batch). */
    oneAtATime: { batches: number; frames: number; framesPerBatch: number; messages: number } | null;
  };
}

interface Ctx {
  args: Args;
  pool: LoadPool;
  server: RunningTarget;
  observer: Observer;
  http: HttpTarget;
  genCores: number;
}

/** What one phase's sender reports: the HTTP stats, or null for the WebSocket publishers (the workers count those). */
type Driver = (w: Window) => Promise<HttpStats | null>;

/**
 * One measured phase: the senders run over warm-up and window, the server's and the harness's CPU are sampled at the
 * window's edges, then the harness waits until every acknowledged message reached every subscriber (or nothing more
 * arrives) and counts. `deliveryChecked: false` (the unpaced batch phase): deliveries that did not arrive and
 * subscribers the server closed as slow consumers are reported as notes, not failures — that phase measures what the
 * server takes in, faster than the load generator can read.
 */
async function phase(
  ctx: Ctx,
  name: PhaseOut['name'],
  title: string,
  targetRate: number | null,
  publishers: PublisherSpec[],
  driver: Driver,
  deliveryChecked = true,
  ahead: number | null = null,
): Promise<PhaseOut> {
  const { args, pool, server, observer } = ctx;
  const subs = args.subscribers;
  const rowsBefore = server.storedMessages();
  observer.reset();
  const startUs = nowUs() + 200_000;
  const window: Window = { startUs, warmEndUs: startUs + args.warmupS * 1e6, endUs: startUs + (args.warmupS + args.measureS) * 1e6 };
  const samples: { server: ProcSample; self: ProcSample; machineMs: number }[] = [];
  const take = (): void => {
    samples.push({ server: server.sample(), self: sampleProc('self'), machineMs: machineBusyMs() });
    if (samples.length === 1) mainLoop.reset();
    else mainLoopAtEnd = { max: mainLoop.max / 1e6, p99: mainLoop.percentile(99) / 1e6 };
  };
  let mainLoopAtEnd = { max: NaN, p99: NaN };
  const t0 = setTimeout(take, (window.warmEndUs - nowUs()) / 1000);
  const t1 = setTimeout(take, (window.endUs - nowUs()) / 1000);
  let httpStats: HttpStats | null;
  try {
    // The workers get the window (their latency and counts) and publish if there are WebSocket publishers.
    [, httpStats] = await Promise.all([pool.run({ ...window, bodyChars: args.body }, publishers), driver(window)]);
  } catch (err) {
    clearTimeout(t0);
    clearTimeout(t1);
    throw err;
  }
  while (samples.length < 2) await sleep(5);

  // Drain: until every acknowledged message reached every subscriber, or nothing more arrives.
  const drainStart = performance.now();
  const idleMs = args.quick ? 1500 : 3000;
  const maxMs = args.quick ? 10_000 : 30_000;
  const expectedOf = (st: MergedStats): number => (httpStats ? httpStats.messagesOk * subs : st.expected);
  const ackedOf = (st: MergedStats): number => (httpStats ? httpStats.messagesOk : st.acks);
  let st = await pool.stats();
  let last = st.received + st.acks + observer.messages;
  let lastProgress = performance.now();
  while ((st.received < expectedOf(st) || observer.messages < ackedOf(st) || (!httpStats && st.acks < st.sent)) && !server.exited()) {
    const now = performance.now();
    if (now - lastProgress > idleMs || now - drainStart > maxMs) break;
    await sleep(25);
    st = await pool.stats();
    const progress = st.received + st.acks + observer.messages;
    if (progress !== last) {
      last = progress;
      lastProgress = performance.now();
    }
  }
  const drainMs = performance.now() - drainStart;
  const rows = server.storedMessages() - rowsBefore;

  const [a, b] = samples as [(typeof samples)[0], (typeof samples)[0]];
  const wallMs = b.server.at - a.server.at;
  const secs = args.measureS;
  const cpuMs = b.server.cpuMs - a.server.cpuMs;
  const selfMs = b.self.cpuMs - a.self.cpuMs;
  const genUtil = selfMs / wallMs / ctx.genCores;
  const otherCpuCores = Math.max(0, (b.machineMs - a.machineMs - cpuMs - selfMs) / wallMs);
  const acked = ackedOf(st);
  const inWindow = httpStats ? httpStats.messagesOkInWindow : st.acksInWindow;
  const expected = expectedOf(st);
  // The senders' own delay (a timer that fired late): not a send waiting for a free request slot.
  const lagMs = Math.max(st.maxLagUs, httpStats?.maxLagUs ?? 0) / 1000;
  const reasons: string[] = [];
  if (genUtil >= 0.9) reasons.push(`generator CPU ${(genUtil * 100).toFixed(0)}% of its ${ctx.genCores} core(s)`);
  if (targetRate !== null && lagMs > 50) reasons.push(`senders fell ${lagMs.toFixed(0)} ms behind schedule`);
  if (st.loopDelayP99Ms > 50) reasons.push(`worker event-loop delay p99 ${st.loopDelayP99Ms.toFixed(0)} ms`);

  const failures: string[] = [];
  const notes: string[] = [];
  const deliveryProblems = deliveryChecked ? failures : notes;
  if (st.received < expected) deliveryProblems.push(`delivered ${st.received} of ${expected} (${((st.received / expected) * 100).toFixed(3)}%)`);
  if (st.received > expected) failures.push(`delivered ${st.received - expected} more than expected (duplicates, or a request that failed was stored after all)`);
  if (observer.messages < acked) deliveryProblems.push(`the observing subscriber got ${observer.messages} of ${acked} messages`);
  if (observer.messages > acked) failures.push(`the observing subscriber got ${observer.messages} messages for ${acked} acknowledged`);
  if (rows !== acked) failures.push(`the store gained ${rows} rows for ${acked} acknowledged messages`);
  const errors = (httpStats?.errors ?? 0) + (httpStats?.messagesRefused ?? 0) + st.errors;
  if (errors > 0) failures.push(`${errors} errors, e.g. ${[...(httpStats?.errorSamples ?? []), ...st.errorSamples][0]}`);
  if (!httpStats && st.acks < st.sent) failures.push(`acknowledged ${st.acks} of ${st.sent} publishes`);
  if (st.skipped > 0) failures.push(`${st.skipped} publishes not sent: the publisher's connection was gone`);
  const closed = Object.entries(st.closes);
  if (closed.length > 0) deliveryProblems.push(`subscribers closed by the server: ${closed.map(([k, v]) => `${v}× ${k}`).join(', ')}`);
  if (observer.closed) deliveryProblems.push(`the observing subscriber was closed: ${observer.closed}`);
  if (server.exited()) failures.push('the server exited');

  const out: PhaseOut = {
    name,
    title,
    targetRate,
    windowSeconds: secs,
    sent: httpStats ? httpStats.requests : st.sent,
    acked,
    messagesPerSec: inWindow / secs,
    deliveredMessagesPerSec: st.receivedInWindow / subs / secs,
    deliveriesPerSec: st.receivedInWindow / secs,
    delivery: { expected, received: st.received, ratio: expected > 0 ? st.received / expected : NaN, observerExpected: acked, observerReceived: observer.messages },
    stored: { rows, acked },
    ackLatencyMs: latency(httpStats ? httpStats.latency : st.ackLatency),
    deliveryLatencyMs: latency(st.latency),
    server: {
      cpuMs,
      cpuSecondsPer1000Messages: inWindow > 0 ? cpuMs / inWindow : NaN,
      cpuUsPerMessage: inWindow > 0 ? (cpuMs * 1000) / inWindow : NaN,
      cpuUtil: cpuMs / wallMs,
      rssMb: b.server.rssKb / 1024,
    },
    generator: {
      cpuUtil: genUtil,
      maxLagMs: lagMs,
      maxLagAtS: httpStats && httpStats.maxLagUs > 0 ? httpStats.maxLagAtUs / 1e6 : null,
      mainLoopDelayMaxMs: mainLoopAtEnd.max,
      mainLoopDelayP99Ms: mainLoopAtEnd.p99,
      loopDelayP99Ms: st.loopDelayP99Ms,
      saturated: reasons.length > 0,
      reasons,
    },
    pacing: {
      heldBack: httpStats?.heldBack ?? 0,
      maxHeldMs: (httpStats?.maxHeldUs ?? 0) / 1000,
      unsent: httpStats?.unsent ?? 0,
      maxInFlight: httpStats?.maxInFlight ?? 0,
      rateHeld: targetRate !== null ? inWindow / secs >= 0.98 * targetRate : null,
    },
    notes,
    otherCpuCores,
    loadavg1: os.loadavg()[0]!,
    errors,
    errorSamples: [...(httpStats?.errorSamples ?? []), ...st.errorSamples].slice(0, 5),
    closes: st.closes,
    drainMs,
    failures,
  };
  if (out.pacing.rateHeld === false) out.notes.push(`the rate was not held: ${fmtInt(out.messagesPerSec)} of ${fmtInt(targetRate ?? NaN)} msg/s acknowledged in the window`);
  if (name === 'single' && out.pacing.heldBack > 0)
    out.notes.push(
      `${fmtInt(out.pacing.heldBack)} sends in the window found all ${args.inFlight} requests out and waited for a slot (up to ${fmt(out.pacing.maxHeldMs, 0)} ms; their latency counts from when they went out)` +
        (out.pacing.unsent > 0 ? `; ${fmtInt(out.pacing.unsent)} were still waiting when the window ended` : ''),
    );
  if ((name === 'batch' || name === 'batchUnpaced') && httpStats) {
    out.batch = {
      size: args.batch,
      inFlight: args.batchInFlight,
      ahead,
      waitedForSubscribers: httpStats.heldBack,
      maxWaitMs: httpStats.maxHeldUs / 1000,
      requests: httpStats.requests,
      requestsPerSec: httpStats.requestsOkInWindow / secs,
      framesPerBatch: httpStats.requestsOk > 0 ? observer.frames / httpStats.requestsOk : NaN,
      messagesPerFrame: observer.frames > 0 ? observer.messages / observer.frames : NaN,
      largestFrame: observer.largestFrame,
      oneAtATime: null,
    };
    if (ahead !== null && httpStats.heldBack > 0)
      notes.push(`${fmtInt(httpStats.heldBack)} requests in the window waited for the subscribers to read what was sent (up to ${fmt(httpStats.maxHeldUs / 1000, 0)} ms)`);
  }
  log(`    ${phaseLine(out)}`);
  return out;
}

/** A few batches one at a time, each delivered to the observer before the next: frames per batch as designed. */
async function oneAtATime(ctx: Ctx, n: number): Promise<{ batches: number; frames: number; framesPerBatch: number; messages: number; failures: string[] }> {
  const { observer, args } = ctx;
  observer.reset();
  const failures: string[] = [];
  let batches = 0;
  for (let i = 0; i < n; i++) {
    const want = observer.messages + args.batch;
    const r = await oneBatch(ctx.http, args.batch, args.body, 30_000);
    if (r.error || r.ok !== args.batch) {
      failures.push(`one-at-a-time batch ${i + 1}: ${r.error ?? `${r.ok} of ${args.batch} ok`}`);
      break;
    }
    batches++;
    const until = performance.now() + 10_000;
    while (observer.messages < want && performance.now() < until) await sleep(5);
    if (observer.messages < want) {
      failures.push(`one-at-a-time batch ${i + 1}: the observer got ${observer.messages - (want - args.batch)} of ${args.batch} messages`);
      break;
    }
    await sleep(50);
  }
  return { batches, frames: observer.frames, framesPerBatch: batches > 0 ? observer.frames / batches : NaN, messages: observer.messages, failures };
}

const fmtInt = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '—');
const fmt = (n: number, d = 2): string => (Number.isFinite(n) ? n.toFixed(d) : '—');
const pct = (r: number): string => (!Number.isFinite(r) ? '—' : r === 1 ? '100%' : `${(Math.floor(r * 100_000) / 1000).toFixed(3)}%`);
const ratio = (a: number, b: number, d = 2): string => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(d)}×` : '—');

function phaseLine(p: PhaseOut): string {
  return (
    `${fmtInt(p.messagesPerSec)} msg/s acked, ${fmtInt(p.deliveriesPerSec)} deliveries/s, ${pct(p.delivery.ratio)} delivered, ` +
    `ack p50/p99 ${p.ackLatencyMs.p50}/${p.ackLatencyMs.p99} ms, delivery p50/p99 ${p.deliveryLatencyMs.p50}/${p.deliveryLatencyMs.p99} ms, ` +
    `server CPU ${fmt(p.server.cpuSecondsPer1000Messages, 3)} s per 1,000 msgs (${(p.server.cpuUtil * 100).toFixed(0)}% of a core), ` +
    `gen CPU ${(p.generator.cpuUtil * 100).toFixed(0)}% (main thread loop delay p99/max ${fmt(p.generator.mainLoopDelayP99Ms, 0)}/${fmt(p.generator.mainLoopDelayMaxMs, 0)} ms), other procs ${p.otherCpuCores.toFixed(2)} cores, load ${p.loadavg1.toFixed(2)}` +
    (p.generator.saturated ? ` GENERATOR SATURATED (${p.generator.reasons.join('; ')})` : '') +
    (p.notes.length ? ` — NOTE: ${p.notes.join('; ')}` : '') +
    (p.failures.length ? ` — FAIL: ${p.failures.join('; ')}` : '')
  );
}

export interface ApiBenchResults {
  meta: {
    command: string;
    date: string;
    git: { commit: string; dirty: boolean } | null;
    machine: { cpus: number; cpuModel: string; memoryGiB: number; node: string; os: string };
    /** 1, 5, 15 minutes: when the run started, when it began to measure (after waiting for a quiet machine), at its end. */
    loadavg: { before: number[]; atStart: number[]; after: number[]; waitedSeconds: number };
    options: Record<string, unknown>;
    serverCommand: string;
    serverCpus: string | null;
    generatorCpus: string | null;
    switchboardConfig: Record<string, unknown>;
    subscribers: { connected: number; failed: number; connectSeconds: number };
    durationSeconds: number;
  };
  single: PhaseOut | null;
  websocket: PhaseOut | null;
  batch: PhaseOut | null;
  batchUnpaced: PhaseOut | null;
  ratios: {
    httpVsWebSocket: { ackP99: number; deliveryP99: number; cpuPerMessage: number } | null;
    batchVsSingle: { messagesPerSec: number; cpuPerMessage: number } | null;
    batchUnpacedVsSingle: { messagesPerSec: number; cpuPerMessage: number } | null;
  };
  serverProblems: string[];
  ok: boolean;
  failures: string[];
}

const phasesOf = (r: ApiBenchResults): PhaseOut[] => [r.single, r.websocket, r.batch, r.batchUnpaced].filter((p): p is PhaseOut => p !== null);

export function markdown(r: ApiBenchResults): string {
  const m = r.meta;
  const lines: string[] = [];
  lines.push(
    `Run on ${m.date}${m.git ? ` at commit ${m.git.commit}${m.git.dirty ? ' (src/ or bin/ modified)' : ''}` : ''} with \`${m.command}\` (${fmt(m.durationSeconds / 60, 1)} min).`,
    '',
    `Machine: ${m.machine.cpus} cores (${m.machine.cpuModel}), ${fmt(m.machine.memoryGiB, 1)} GiB memory, Node ${m.machine.node}, ${m.machine.os}. ` +
      `Load average (1 min): ${fmt(m.loadavg.before[0]!)} when the run started, ${fmt(m.loadavg.atStart[0]!)} when it began to measure` +
      (m.loadavg.waitedSeconds > 0 ? ` (after waiting ${fmt(m.loadavg.waitedSeconds, 0)} s)` : '') +
      `, ${fmt(Math.max(...phasesOf(r).map((p) => p.loadavg1)))} at most at the end of a phase (the benchmark's own server and load generator count in it), ${fmt(m.loadavg.after[0]!)} at the end. ` +
      `The last column is the CPU other processes used during each window (from /proc/stat).`,
    `Server ${m.serverCpus ? `pinned to CPU ${m.serverCpus}` : 'not pinned'}, harness and load generator ${m.generatorCpus ? `on CPU ${m.generatorCpus}` : 'not pinned'}; ` +
      `${m.subscribers.connected} WebSocket subscribers in one durable room; every phase ${m.options.warmupSeconds} s warm-up + ${m.options.measureSeconds} s measured.`,
    '',
    '| phase | asked | messages/s acked | messages/s delivered (deliveries/s) | delivered | ack p50 / p99 ms | delivery p50 / p99 ms | server CPU s per 1,000 msgs | server CPU | generator CPU | other procs (cores) |',
    '|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
  );
  const phases = phasesOf(r);
  for (const p of phases) {
    const b = p.batch;
    const asked =
      p.targetRate !== null
        ? `${fmtInt(p.targetRate)} msg/s`
        : b
          ? `${b.inFlight} × ${fmtInt(b.size)} in flight, back to back${b.ahead !== null ? `, ≤ ${fmtInt(b.ahead)} unread` : ''}`
          : '—';
    lines.push(
      `| ${p.title} | ${asked} | ${fmtInt(p.messagesPerSec)} | ${fmtInt(p.deliveredMessagesPerSec)} (${fmtInt(p.deliveriesPerSec)}) | ${pct(p.delivery.ratio)} | ` +
        `${fmt(p.ackLatencyMs.p50)} / ${fmt(p.ackLatencyMs.p99)} | ${fmt(p.deliveryLatencyMs.p50)} / ${fmt(p.deliveryLatencyMs.p99)} | ${fmt(p.server.cpuSecondsPer1000Messages, 3)} | ` +
        `${(p.server.cpuUtil * 100).toFixed(0)}% | ${p.generator.saturated ? '**saturated** ' : ''}${(p.generator.cpuUtil * 100).toFixed(0)}% | ${fmt(p.otherCpuCores)} |`,
    );
  }
  lines.push('');
  for (const p of [r.batch, r.batchUnpaced]) {
    const b = p?.batch;
    if (!p || !b) continue;
    lines.push(
      `${p.title}: ${fmtInt(b.requests)} requests of ${fmtInt(b.size)} messages (${fmt(b.requestsPerSec, 1)}/s in the window), request latency p50 / p99 ${fmt(p.ackLatencyMs.p50)} / ${fmt(p.ackLatencyMs.p99)} ms. ` +
        `The subscribers counted ${fmtInt(p.delivery.received)} of ${fmtInt(p.delivery.expected)} expected deliveries (${pct(p.delivery.ratio)}); the store gained ${fmtInt(p.stored.rows)} rows for ${fmtInt(p.stored.acked)} acknowledged messages. ` +
        `One subscriber got ${fmt(b.framesPerBatch)} frames per batch (${fmt(b.messagesPerFrame, 0)} messages per frame, at most ${fmtInt(b.largestFrame)})` +
        (b.oneAtATime ? `, and ${fmtInt(b.oneAtATime.frames)} frames for ${b.oneAtATime.batches} batches sent one at a time, each read before the next (${fmt(b.oneAtATime.framesPerBatch)} per batch).` : '.'),
      '',
    );
  }
  if (r.ratios.httpVsWebSocket) {
    const x = r.ratios.httpVsWebSocket;
    lines.push(`HTTP single publish ÷ WebSocket at the same rate: ack p99 ${fmt(x.ackP99)}×, delivery p99 ${fmt(x.deliveryP99)}×, server CPU per message ${fmt(x.cpuPerMessage)}×.`);
  }
  if (r.ratios.batchVsSingle) {
    const x = r.ratios.batchVsSingle;
    lines.push(`Batch (paced) ÷ single publish: ${fmt(x.messagesPerSec, 1)}× the messages/s, server CPU per message ${fmt(x.cpuPerMessage, 3)}×.`);
  }
  if (r.ratios.batchUnpacedVsSingle) {
    const x = r.ratios.batchUnpacedVsSingle;
    lines.push(`Batch (unpaced) ÷ single publish: ${fmt(x.messagesPerSec, 1)}× the messages/s, server CPU per message ${fmt(x.cpuPerMessage, 3)}×.`);
  }
  const notes: string[] = [];
  for (const p of phases) {
    for (const n of p.notes) notes.push(`* ${p.title}: ${n}`);
    if (p.generator.saturated) notes.push(`* ${p.title}: load generator saturated (${p.generator.reasons.join('; ')}): the figures are what it could take`);
    if (p.otherCpuCores > 0.1) notes.push(`* ${p.title}: other processes used ${fmt(p.otherCpuCores)} cores during the window: disturbed`);
  }
  if (notes.length) lines.push('', 'Notes:', '', ...notes);
  const failed = phases.filter((p) => p.failures.length > 0);
  if (failed.length || r.failures.length) {
    lines.push('', 'Failures:', '');
    for (const p of failed) for (const f of p.failures) lines.push(`* ${p.title}: ${f}`);
    for (const f of r.failures) lines.push(`* ${f}`);
  }
  return lines.join('\n');
}

function cpuModel(): string {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) return m[1]!.trim();
  } catch {
    // not Linux
  }
  return os.cpus()[0]?.model.trim() ?? 'unknown';
}

/** The temporary folder startTarget made for the server (its config file's folder), from the command line. */
function dataDirOf(server: RunningTarget): string | null {
  const m = /--config (\S+)\/config\.json/.exec(server.command);
  return m ? m[1]! : null;
}

async function main(): Promise<void> {
  const args = parse(process.argv.slice(2));
  const started = performance.now();
  const cpus = os.availableParallelism();
  const taskset = hasTaskset();
  const pin = args.pin ?? (!args.quick && cpus >= 2 && taskset);
  let serverCpus: string | null = null;
  let generatorCpus: string | null = null;
  let genCores = cpus;
  if (pin) {
    if (cpus < 2 || !taskset) throw new Error('pinning needs taskset and at least 2 CPUs (--no-pin)');
    serverCpus = args.serverCpus;
    ({ generatorCpus, genCores } = pinGenerator(cpus));
  }
  const out = args.out ?? (args.quick ? join(os.tmpdir(), `switchboard-bench-api-quick-${process.pid}.json`) : join(REPO_ROOT, 'bench', 'results', 'api.json'));

  // A quiet machine first, if asked (by default for a full run): the 1-minute load average below --wait-load.
  const loadBefore = os.loadavg();
  const waitLoad = args.waitLoad ?? (args.quick ? null : 1.0);
  let waitedSeconds = 0;
  if (waitLoad !== null && os.loadavg()[0]! >= waitLoad) {
    log(`load average ${os.loadavg()[0]!.toFixed(2)} ≥ ${waitLoad}: waiting up to ${args.waitMaxS} s for it to fall`);
    const until = performance.now() + args.waitMaxS * 1000;
    const w0 = performance.now();
    while (os.loadavg()[0]! >= waitLoad && performance.now() < until) await sleep(5000);
    waitedSeconds = (performance.now() - w0) / 1000;
    log(`  load average now ${os.loadavg()[0]!.toFixed(2)} after ${waitedSeconds.toFixed(0)} s${os.loadavg()[0]! >= waitLoad ? ' (still high: measuring anyway)' : ''}`);
  }
  const loadStart = os.loadavg();

  const key = `sbk_${randomBytes(32).toString('base64url')}`;
  const overrides = {
    api: { keys: [{ name: 'bench', hash: createHash('sha256').update(key).digest('hex'), scopes: ['publish'] }] },
    // Stored rooms (the default a chat deployment has): an API answer and a WebSocket reply both mean committed.
    rooms: { presenceEvents: false, rules: [{ match: '*', durable: true }] },
  };
  const maxConnections = args.subscribers + 200;
  const ahead = args.batchAhead ?? 2 * args.batchInFlight * args.batch;

  // The first look at /proc/stat also lists every process to find the ksoftirqd threads (tens of ms on a busy core):
  // done now, not at the start of the first window, where it stalled the HTTP senders.
  machineBusyMs();
  const workers = Math.max(1, pin ? genCores : cpus - 1);
  const pool = new LoadPool(workers);
  const observer = new Observer();
  let server: RunningTarget | null = null;
  let dataDir: string | null = null;
  // Interrupted or failed: no server process and no temporary folder may be left behind (bench/server.ts kills the process on exit).
  const cleanup = (): void => {
    if (dataDir && existsSync(dataDir)) rmSync(dataDir, { recursive: true, force: true });
  };
  process.on('exit', cleanup);
  // A watchdog for the whole run: every loop is bounded, but a stuck one must not hang the run.
  const watchdogS = args.quick ? 120 : 30 * 60 + args.waitMaxS;
  const watchdog = setTimeout(() => {
    log(`bench api: did not finish in ${watchdogS} s`);
    process.exit(1);
  }, watchdogS * 1000);
  watchdog.unref();

  const res: ApiBenchResults = {
    meta: {
      command: process.env.npm_lifecycle_event === 'bench:api' ? `npm run bench:api${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}` : `node dist/bench/api.js${process.argv.length > 2 ? ` ${process.argv.slice(2).join(' ')}` : ''}`,
      date: new Date().toISOString().slice(0, 10),
      git: gitState(),
      machine: { cpus, cpuModel: cpuModel(), memoryGiB: os.totalmem() / 2 ** 30, node: process.version, os: `${os.type()} ${os.release()}` },
      loadavg: { before: loadBefore, atStart: loadStart, after: [], waitedSeconds },
      options: {
        quick: args.quick,
        only: args.only,
        serverNodeArgs: args.serverNodeArgs,
        subscribers: args.subscribers,
        rate: args.rate,
        httpInFlight: args.inFlight,
        wsPublishers: args.wsPublishers,
        batchSize: args.batch,
        batchInFlight: args.batchInFlight,
        batchAhead: ahead,
        warmupSeconds: args.warmupS,
        measureSeconds: args.measureS,
        bodyChars: args.body,
        workers,
      },
      serverCommand: '',
      serverCpus,
      generatorCpus,
      switchboardConfig: mergeConfig(switchboardBenchConfig(maxConnections), {
        ...overrides,
        api: { keys: [{ name: 'bench', hash: '<sha256 of a random key made for the run>', scopes: ['publish'] }] },
      }),
      subscribers: { connected: 0, failed: 0, connectSeconds: NaN },
      durationSeconds: 0,
    },
    single: null,
    websocket: null,
    batch: null,
    batchUnpaced: null,
    ratios: { httpVsWebSocket: null, batchVsSingle: null, batchUnpacedVsSingle: null },
    serverProblems: [],
    ok: false,
    failures: [],
  };

  log(
    `switchboard API bench${args.quick ? ' (quick)' : ''}: ${args.subscribers} subscribers, ${workers} load worker(s)` +
      (pin ? `, server on CPU ${serverCpus}, generator on CPU ${generatorCpus}` : ', no pinning') +
      `, load average ${loadStart.map((l) => l.toFixed(2)).join(' ')}`,
  );
  try {
    server = await startTarget({ target: 'switchboard', maxConnections, cpus: serverCpus, nodeArgs: args.serverNodeArgs, configOverrides: overrides });
    dataDir = dataDirOf(server);
    res.meta.serverCommand = server.command;
    await sleep(300);
    const target = { host: server.host, port: server.port, path: server.path };
    const conns: ConnSpec[] = Array.from({ length: args.subscribers }, (_, i) => ({ user: `sub${String(i).padStart(5, '0')}`, rooms: [ROOM] }));
    const c = await pool.connect(target, conns, 128);
    res.meta.subscribers = { connected: c.connected, failed: c.failed, connectSeconds: c.elapsedUs / 1e6 };
    log(`  ${c.connected} subscribers connected in ${(c.elapsedUs / 1e6).toFixed(2)} s${c.failed ? `, ${c.failed} FAILED (${c.firstErrors[0]})` : ''}`);
    if (c.failed > 0) throw new Error(`${c.failed} of ${args.subscribers} subscribers failed to connect: ${c.firstErrors.join('; ')}`);
    await observer.open(target, 'observer', ROOM, 10_000);
    const ctx: Ctx = { args, pool, server, observer, http: { host: server.host, port: server.port, key, room: ROOM }, genCores };

    if (args.only.includes('single')) {
      log(`[1] single publish over HTTP: ${args.rate} msg/s, at most ${args.inFlight} requests in flight`);
      res.single = await phase(ctx, 'single', 'HTTP single publish', args.rate, [], (w) =>
        singlePublishes(ctx.http, { rate: args.rate, inFlight: args.inFlight, bodyChars: args.body, window: w, timeoutMs: 10_000 }),
      );
    }
    if (args.only.includes('websocket')) {
      log(`[2] WebSocket publish: ${args.rate} msg/s from ${args.wsPublishers} members of the room, each publish answered`);
      const pubs: PublisherSpec[] = Array.from({ length: args.wsPublishers }, (_, k) => ({
        conn: Math.floor((k * args.subscribers) / args.wsPublishers),
        rate: args.rate / args.wsPublishers,
        fanout: args.subscribers,
        room: ROOM,
        ack: true,
      }));
      res.websocket = await phase(ctx, 'websocket', 'WebSocket publish', args.rate, pubs, async () => null);
    }
    if (args.only.includes('batch')) {
      log(`[3] batch publish over HTTP: ${args.batch} messages per request, ${args.batchInFlight} in flight, back to back while the subscribers are at most ${ahead} messages behind`);
      res.batch = await phase(
        ctx,
        'batch',
        'HTTP batch publish',
        null,
        [],
        (w) => {
          // What the subscribers have read, per subscriber, polled while the phase runs. (The workers reset their counts
          // on the run request, which reached them before any of these polls.)
          let delivered = 0;
          let polling = false;
          const poll = setInterval(() => {
            if (polling) return;
            polling = true;
            pool.stats().then(
              (st) => {
                delivered = st.received / args.subscribers;
                polling = false;
              },
              () => (polling = false),
            );
          }, 10);
          return batchPublishes(ctx.http, { batchSize: args.batch, inFlight: args.batchInFlight, bodyChars: args.body, window: w, timeoutMs: 30_000, pacing: { limit: ahead, delivered: () => delivered } }).finally(() =>
            clearInterval(poll),
          );
        },
        true,
        ahead,
      );
      const one = await oneAtATime(ctx, 5);
      if (res.batch.batch) res.batch.batch.oneAtATime = { batches: one.batches, frames: one.frames, framesPerBatch: one.framesPerBatch, messages: one.messages };
      res.batch.failures.push(...one.failures);
      log(`    one batch at a time: ${one.frames} frames for ${one.batches} batches`);
    }
    // Last, because subscribers that cannot keep up are closed: what the server takes in when nothing holds the sender back.
    if (args.only.includes('unpaced')) {
      log(`[4] batch publish over HTTP, unpaced: ${args.batch} messages per request, ${args.batchInFlight} in flight, back to back`);
      res.batchUnpaced = await phase(
        ctx,
        'batchUnpaced',
        'HTTP batch publish, unpaced',
        null,
        [],
        (w) => batchPublishes(ctx.http, { batchSize: args.batch, inFlight: args.batchInFlight, bodyChars: args.body, window: w, timeoutMs: 30_000 }),
        false,
      );
    }
  } catch (err) {
    log(`  FAILED: ${(err as Error).stack ?? String(err)}`);
    res.failures.push(`harness error: ${(err as Error).message}`);
  } finally {
    observer.close();
    await pool.close().catch(() => {});
    await pool.terminate().catch(() => {});
    if (server) {
      res.serverProblems = server.problems().slice(0, 20);
      await server.stop();
    }
    cleanup();
  }

  const { single, websocket, batch, batchUnpaced } = res;
  if (single && websocket)
    res.ratios.httpVsWebSocket = {
      ackP99: single.ackLatencyMs.p99 / websocket.ackLatencyMs.p99,
      deliveryP99: single.deliveryLatencyMs.p99 / websocket.deliveryLatencyMs.p99,
      cpuPerMessage: single.server.cpuUsPerMessage / websocket.server.cpuUsPerMessage,
    };
  if (single && batch)
    res.ratios.batchVsSingle = { messagesPerSec: batch.messagesPerSec / single.messagesPerSec, cpuPerMessage: batch.server.cpuUsPerMessage / single.server.cpuUsPerMessage };
  if (single && batchUnpaced)
    res.ratios.batchUnpacedVsSingle = { messagesPerSec: batchUnpaced.messagesPerSec / single.messagesPerSec, cpuPerMessage: batchUnpaced.server.cpuUsPerMessage / single.server.cpuUsPerMessage };
  res.ok = res.failures.length === 0 && [single, websocket, batch, batchUnpaced].every((p) => p === null || p.failures.length === 0);
  res.meta.loadavg.after = os.loadavg();
  res.meta.durationSeconds = (performance.now() - started) / 1000;
  clearTimeout(watchdog);

  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(res, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n');
  process.stdout.write(markdown(res) + '\n');
  log(`results: ${out}`);
  if (res.failures.length > 0) throw new Error(res.failures.join('; '));
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench api: ${(err as Error).message ?? String(err)}\n`);
    process.exit(1);
  },
);
