/**
 * g, reconnect storm (issue #20): what a deploy or a network blip costs.
 * e's shape — sessions in 2 rooms of 10 each — but in stored rooms (the
 * default configuration), with publishers sending into every room. Then the
 * generator cuts every session's socket in the same moment and all dial
 * again with resume=1, each join carrying `since` = the last seq that session
 * saw in that room; the server must replay exactly what each one missed.
 *
 * The publishers are connections of their own that are not cut: they stand
 * for the app's other clients and its backend, which keep talking through
 * the storm, so that messages arrive while sessions are away and while they
 * rejoin. Each publisher joins 50 rooms (under the default limit of 100 per
 * session), so it is one more member of each: 11 deliveries per message.
 *
 * Switchboard only: the baseline and Socket.IO have no resume.
 */
import { nowUs } from './load/client.js';
import type { PublisherSpec } from './load/messages.js';
import type { MergedStats } from './load/pool.js';
import { emptySeqCounts, type SeqCounts } from './load/seq-tracker.js';
import { machineBusyMs, sampleProc } from './proc.js';
import { mergeConfig, type TargetName } from './server.js';
import { STORED_ROOMS } from './stored-rooms.js';
import { OTHER_CPU_LIMIT, bringUp, pad, plan, result, tearDown, type Context, type WorkloadResult } from './workloads.js';

export interface StormInfo {
  /** Sessions cut, and how many were back with every room joined (and replayed) before the timeout. */
  sessions: number;
  reconnected: number;
  failed: number;
  firstErrors: string[];
  /** From the cut to the last reconnected session's last join reply; a join's replay arrives before its reply (s). */
  recoverySeconds: number;
  /** Server CPU from just before the cut until the last session had recovered (ms), and that ÷ sessions. */
  serverCpuMs: number;
  cpuUsPerSession: number;
  /** The same in reference rounds (calibration.serverCpuNs): comparable across machines. */
  cpuRoundsPerSession: number;
  /** Server CPU (share of one core) in the seconds before the cut, when only the publishers ran: the storm's CPU includes this much that is not the storm. */
  steadyCpuUtil: number;
  /** Other processes' CPU (cores) during the storm. */
  otherCpuCores: number;
  /** Messages per second into all rooms, for the whole run. */
  publishRate: number;
  sent: number;
  /** Deliveries the messages sent should make (sent × 11), and what arrived, before the cut, replayed and live. */
  expected: number;
  received: number;
  /** What the seq checks found (bench/load/seq-tracker.ts). */
  seq: SeqCounts;
}

/** Rooms one publisher connection joins and sends into. */
const ROOMS_PER_PUBLISHER = 50;
const MEMBERS = 10;
/**
 * Messages per second into all rooms: modest on purpose — in the full run each room gets one every 6 s, so a
 * storm of a few seconds leaves most sessions a message or two to recover, and publishing costs the server a
 * few % of a core, which the storm's CPU figure includes (see steadyCpuUtil).
 */
export const G_RATE = { full: 500, quick: 100 };
export const G_SESSIONS = { full: 15_000, quick: 300 };
/** The publishers' connections for `n` sessions: one per ROOMS_PER_PUBLISHER of the 2n/10 rooms. */
export const publishersFor = (n: number): number => Math.ceil((2 * n) / MEMBERS / ROOMS_PER_PUBLISHER);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function reconnectStorm(ctx: Context, target: TargetName): Promise<WorkloadResult> {
  const t0 = performance.now();
  const quick = ctx.settings.quick;
  const n = quick ? G_SESSIONS.quick : G_SESSIONS.full;
  const rate = quick ? G_RATE.quick : G_RATE.full;
  const groups = n / MEMBERS;
  const rooms = [...Array.from({ length: groups }, (_, k) => `group-${k}`), ...Array.from({ length: groups }, (_, k) => `team-${k}`)];
  const publishers = publishersFor(n);
  const sessions = plan(n, (i) => `g${pad(i, 5)}`, (i) => [`group-${Math.floor(i / MEMBERS)}`, `team-${i % groups}`]);
  const pubConns = plan(publishers, (k) => `gpub${pad(k, 3)}`, (k) => rooms.slice(k * ROOMS_PER_PUBLISHER, (k + 1) * ROOMS_PER_PUBLISHER)).map((c) => ({ ...c, keep: true }));
  // Room for every session twice: new connections may arrive before the server has seen all the old ones close,
  // as they would after a real blip; the storm must not be refused at a limit sized for one set.
  const config = mergeConfig(STORED_ROOMS, { limits: { maxConnections: 2 * (n + publishers) + 100 } });
  const s = await bringUp(ctx, target, [...sessions, ...pubConns], config, ctx.settings.serverCpus, null, true);
  try {
    const pubs: PublisherSpec[] = rooms.map((room, r) => ({ conn: n + Math.floor(r / ROOMS_PER_PUBLISHER), rate: rate / rooms.length, fanout: MEMBERS + 1, room }));
    const warmMs = quick ? 1000 : 6000;
    // Publishing runs until stopped, or this long after the warm-up should the storm never end.
    const budgetMs = quick ? 60_000 : 180_000;
    const startUs = nowUs() + 100_000;
    const running = ctx.pool.run({ startUs, warmEndUs: startUs, endUs: startUs + (warmMs + budgetMs) * 1000, bodyChars: ctx.settings.bodyChars }, pubs);
    running.catch(() => {});
    await sleep(100 + warmMs / 2);
    const steady0 = s.server.sample();
    await sleep(warmMs / 2);
    const before = s.server.sample();
    const self0 = sampleProc('self');
    const machine0 = machineBusyMs();
    const storm = await ctx.pool.storm(ctx.settings.inFlight, quick ? 30_000 : 90_000);
    const after = s.server.sample();
    const self1 = sampleProc('self');
    const serverCpuMs = after.cpuMs - before.cpuMs;
    const otherCpuCores = Math.max(0, (machineBusyMs() - machine0 - serverCpuMs - (self1.cpuMs - self0.cpuMs)) / (self1.at - self0.at));
    // Some live traffic after everyone is back, so that a gap right after a replay would show.
    await sleep(quick ? 500 : 2000);
    await ctx.pool.stopPublishing();
    await running;
    const st = await drained(ctx);
    const seq = st.seq ?? emptySeqCounts();
    const cpuUsPerSession = (serverCpuMs * 1000) / Math.max(1, storm.connected);
    const info: StormInfo = {
      sessions: storm.cut,
      reconnected: storm.connected,
      failed: storm.failed,
      firstErrors: storm.firstErrors,
      recoverySeconds: storm.elapsedUs / 1e6,
      serverCpuMs,
      cpuUsPerSession,
      cpuRoundsPerSession: (cpuUsPerSession * 1000) / s.calibration.serverCpuNs,
      steadyCpuUtil: (before.cpuMs - steady0.cpuMs) / (before.at - steady0.at),
      otherCpuCores,
      publishRate: rate,
      sent: st.sent,
      expected: st.expected,
      received: st.received,
      seq,
    };
    const failures = stormFailures(info, st.closes, st.errors, st.errorSamples, st.skipped);
    const r = result('g', `reconnect storm: ${n} sessions in 2 stored rooms each, all cut at once, back with resume`, target, s, n + publishers, null, s.server.sample().rssKb / 1024, failures, t0);
    r.storm = info;
    r.disturbed = otherCpuCores > OTHER_CPU_LIMIT;
    ctx.log(`    ${stormLine(info)}` + (failures.length ? ` — FAIL: ${failures.join('; ')}` : ''));
    return r;
  } finally {
    await tearDown(ctx, s);
  }
}

/** Waits until every delivery the publishers' messages should make has arrived, or nothing has for a while. */
async function drained(ctx: Context): Promise<MergedStats> {
  const idleMs = ctx.settings.quick ? 1000 : 3000;
  const t0 = performance.now();
  let st = await ctx.pool.stats();
  let last = st.received;
  let progress = performance.now();
  while (st.received < st.expected && performance.now() - progress < idleMs && performance.now() - t0 < 30_000) {
    await sleep(50);
    st = await ctx.pool.stats();
    if (st.received !== last) {
      last = st.received;
      progress = performance.now();
    }
  }
  return st;
}

function stormFailures(g: StormInfo, closes: Record<string, number>, errors: number, errorSamples: string[], skipped: number): string[] {
  const out: string[] = [];
  if (g.failed > 0) out.push(`${g.failed} of ${g.sessions} sessions did not reconnect: ${g.firstErrors.join('; ')}`);
  const q = g.seq;
  if (q.badSessions > 0)
    out.push(`${q.badSessions} sessions did not recover exactly what they missed: ${q.gaps} gaps (${q.missing} messages missing), ${q.duplicates} duplicates, ${q.unrecovered} joins answered recovered:false, ${q.short} replays short of the join's seq`);
  if (g.received !== g.expected) out.push(`delivered ${g.received} of ${g.expected}`);
  const closed = Object.entries(closes);
  if (closed.length > 0) out.push(`connections closed by the server: ${closed.map(([k, v]) => `${v}× ${k}`).join(', ')}`);
  if (errors > 0) out.push(`${errors} error pushes, e.g. ${errorSamples[0]}`);
  if (skipped > 0) out.push(`${skipped} messages not sent: a publisher's connection was gone`);
  return out;
}

export function stormLine(g: StormInfo): string {
  return (
    `cut ${g.sessions} sessions; ${g.reconnected} back with every room recovered in ${g.recoverySeconds.toFixed(2)} s ` +
    `(server CPU ${(g.serverCpuMs / 1000).toFixed(2)} s = ${g.cpuUsPerSession.toFixed(0)} µs = ${g.cpuRoundsPerSession.toFixed(0)} reference rounds per session; ` +
    `${(g.steadyCpuUtil * 100).toFixed(1)}% of a core before the cut)` +
    `; ${g.seq.replayed} messages replayed in ${g.seq.resumedJoins} joins; gaps ${g.seq.gaps}, duplicates ${g.seq.duplicates}, recovered:false ${g.seq.unrecovered}; ` +
    `delivered ${g.received} of ${g.expected}` +
    (g.otherCpuCores > OTHER_CPU_LIMIT ? `; MACHINE BUSY (other processes used ${g.otherCpuCores.toFixed(2)} cores)` : '')
  );
}
