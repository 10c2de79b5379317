/**
 * One load-generator worker thread. It owns a share of the connections,
 * publishes from pre-encoded frames on a schedule, and counts what arrives:
 * for each message it finds the send time the publisher wrote into the body
 * (no JSON.parse on that path) and records the latency in a histogram.
 * Anything else the server says (replies, errors, notices) is parsed in full;
 * it is rare once the connections are set up.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parentPort, threadId } from 'node:worker_threads';
import { RawClient, clientFrame, clientFrameHeaderLength, nowUs, type ClientSink } from './client.js';
import { Histogram } from './histogram.js';
import type { ConnSpec, ConnectResult, PublisherSpec, Request, Response, RunPlan, RunResult, StormResult, WireSpec, WorkerStats } from './messages.js';
import { SeqTracker } from './seq-tracker.js';
import { sioCommand, sioCommandFrames, sioPacket } from './socketio.js';
import { SEND_TIME_DIGITS, commandFrame, publishFrame, randomFiller, wireBinary, wireText, type WireHandlers } from './wire.js';

const port = parentPort!;
const READ_BUF = Buffer.allocUnsafe(256 * 1024);
const BODY_MARK_LEN = '"body":"@'.length;
const AT = 0x40;
const QUOTE = 0x22;
const SPACE = 0x20;
/** From a message's "@" to the end of its line: the body, `","ts":`, 13 digits, `}`. */
const tailFor = (bodyChars: number): number => bodyChars + 7 + 13 + 1;
let tailLength = tailFor(48);
const TS_DIGITS = 15;
const M = 0x6d; // 'm' of {"type":"message"
const R = 0x72; // 'r' of {"type":"reply"
const NL = 0x0a;
/** `{"type":"reply","id":`: the id of a reply starts here. */
const REPLY_ID_AT = '{"type":"reply","id":'.length;
/**
 * A publish that asks for an ack carries its send time as its id, offset so
 * that it is a JSON number of fixed width (no leading zeros) and cannot be
 * mistaken for a set-up request's small id.
 */
const ACK_ID_BASE = 1e15;
const ACK_ID_DIGITS = 16;
/**
 * Idempotency keys: "k" and this many digits, a counter that starts at the thread's id × 10^10, so that no two
 * senders share a key (as with the SDK's keys) and each worker's keys grow with time.
 */
const KEY_DIGITS = 12;
let keys = threadId * 1e10;

interface Setup {
  spec: ConnSpec;
  /** The joins' `since`, room by room (a reconnect in a storm); null: plain joins. */
  since: number[] | null;
  phase: 'wait-connected' | 'joining' | 'done';
  left: number;
  timer: NodeJS.Timeout;
  settle: (error: string | null) => void;
}

let clients: RawClient[] = [];
/** What each client was opened with, by its index: a storm reopens them as they were. */
let specs: ConnSpec[] = [];
/** Where and how connect() dialled: a storm dials the same way. */
let dialled: Dial | null = null;
/** Seq checks of a storm (workload g); null: not asked for, and no cost. */
let track: SeqTracker | null = null;
/** A `stop` asked the running plan to end its publishing now. */
let stopUs = Infinity;
/** The connections' encoding and decoding in a wire run (bench/wire.ts); null: the fast path of the other workloads. */
let wire: WireSpec | null = null;
/** The connections speak Socket.IO (bench/load/socketio.ts): every frame's Engine.IO / Socket.IO envelope is stripped first. */
let sio = false;
/** The node of each client (ConnSpec.node), by its index; -1: none. */
let nodeOf: number[] = [];
let live = 0;
const hist = new Histogram();
/** Latency of tagged recipients (see ConnSpec.node): publisher on the same node, or on another. */
const sameHist = new Histogram();
const crossHist = new Histogram();
const ackHist = new Histogram();
let acks = 0;
/** Acks since the connections were opened (not reset by a new run): what the server has acknowledged in all. */
let acksTotal = 0;
let acksInWindow = 0;
let winStart = Infinity;
let winEnd = -Infinity;
let received = 0;
let receivedInWindow = 0;
/** Text frames received during the window: with receivedInWindow, how many messages the server puts in a write. */
let framesInWindow = 0;
const wireStats = { frames: 0, wireBytes: 0, payloadBytes: 0, compressedFrames: 0 };
let sent = 0;
let sentInWindow = 0;
let expected = 0;
let expectedInWindow = 0;
let errors = 0;
let errorSamples: string[] = [];
let otherPushes = 0;
/** Messages a publisher could not send because its connection was gone. */
let skipped = 0;
let closes: Record<string, number> = {};
let maxLagUs = 0;
let loopP99 = 0;
let loopMax = 0;
const loop = monitorEventLoopDelay({ resolution: 5 });

function resetCounters(): void {
  hist.reset();
  sameHist.reset();
  crossHist.reset();
  ackHist.reset();
  acks = acksInWindow = 0;
  wireStats.frames = wireStats.wireBytes = wireStats.payloadBytes = wireStats.compressedFrames = 0;
  received = receivedInWindow = framesInWindow = sent = sentInWindow = expected = expectedInWindow = errors = otherPushes = maxLagUs = skipped = 0;
  loopP99 = loopMax = 0;
  errorSamples = [];
  closes = {};
}

function noteError(text: string): void {
  errors++;
  if (errorSamples.length < 5) errorSamples.push(text.length > 300 ? text.slice(0, 300) + '…' : text);
}

/** A message received (its send time read from its body): counted, and timed when sent inside the window. */
function delivered(sentAt: number, now: number): void {
  received++;
  if (now >= winStart && now < winEnd) receivedInWindow++;
  if (sentAt >= winStart && sentAt < winEnd) hist.record(now - sentAt);
}

const wireHandlers: WireHandlers = {
  delivered: (_c, sentAt, now) => delivered(sentAt, now),
  push: (c, push, text) => controlPush(c, push, text),
  strange: (what) => noteError(what),
};

const sink: ClientSink = {
  onOpen() {},
  onFrameBytes(_c, wireBytes, payloadBytes, compressed, now) {
    if (now < winStart || now >= winEnd) return;
    wireStats.frames++;
    wireStats.wireBytes += wireBytes;
    wireStats.payloadBytes += payloadBytes;
    if (compressed) wireStats.compressedFrames++;
  },
  onBinary(c, buf, start, end, now) {
    if (now >= winStart && now < winEnd) framesInWindow++;
    if (wire?.decode === 'proto') wireBinary(wireHandlers, c, buf, start, end, now);
    else noteError('a binary frame on a text connection');
  },
  onText(c, buf, start, end, now) {
    // Searches must stop at the frame's end: bound them by the buffer's end, slicing only when more frames follow.
    if (now >= winStart && now < winEnd) framesInWindow++;
    if (wire) return wireText(wire, wireHandlers, c, buf, start, end, now);
    if (sio) {
      const pk = sioPacket(buf, start, end, (frame) => c.send(frame));
      if (pk.kind === 'other') return noteError(`unexpected Socket.IO packet: ${pk.text}`);
      if (pk.kind === 'handled') return;
      start = pk.start;
      end = pk.end;
    }
    const sliced = end !== buf.length;
    const p = sliced ? buf.subarray(start, end) : buf;
    const len = p.length;
    let pos = sliced ? 0 : start;
    while (pos < len) {
      let nl = p.indexOf(NL, pos);
      if (nl === -1) nl = len;
      if (p[pos + 9] === M) {
        track?.message(c.index, p, pos, nl);
        // {"type":"message",…,"body":"@<send time µs> <filler>","ts":<13 digits>}: the body sits at a fixed
        // distance from the end of the line; if it does not (another field order), look for it.
        let i = nl - tailLength;
        if (p[i] !== AT || p[i - 1] !== QUOTE) {
          i = pos + 24;
          while (i < nl && !(p[i] === AT && p[i - 1] === QUOTE)) i++;
        }
        if (i >= nl) {
          otherPushes++;
        } else {
          i++;
          let v = 0;
          for (;;) {
            const ch = p[i]!;
            if (ch < 48 || ch > 57) break;
            v = v * 10 + (ch - 48);
            i++;
          }
          received++;
          if (now >= winStart && now < winEnd) receivedInWindow++;
          if (v >= winStart && v < winEnd) {
            hist.record(now - v);
            // In a cluster the body goes on `@<send time> <publisher's node>…`: time the two populations apart.
            const mine = nodeOf[c.index]!;
            if (mine >= 0 && p[i] === SPACE) {
              const from = p[i + 1]! - 48;
              if (from >= 0 && from <= 9) (from === mine ? sameHist : crossHist).record(now - v);
            }
          }
        }
      } else if (nl > pos && !(p[pos + 9] === R && c.tag === null && ack(p, pos + REPLY_ID_AT, nl, now))) {
        control(c, p.toString('utf8', pos, nl));
      }
      pos = nl + 1;
    }
  },
  onClose(c, code, reason, error) {
    live--;
    const setup = c.tag as Setup | null;
    if (setup && setup.phase !== 'done') setup.settle(`closed before ready: ${code} ${reason || error || ''}`.trim());
    if (error === 'destroyed') return;
    const key = code ? `${code}${reason ? ' ' + reason : ''}` : (error ?? 'closed');
    closes[key] = (closes[key] ?? 0) + 1;
  },
};

/** A reply whose id is a send time (see ACK_ID_BASE): count it and time it. False: some other reply. */
function ack(p: Buffer, at: number, end: number, now: number): boolean {
  let v = 0;
  let i = at;
  for (; i < end; i++) {
    const ch = p[i]!;
    if (ch < 48 || ch > 57) break;
    v = v * 10 + (ch - 48);
  }
  if (i - at !== ACK_ID_DIGITS || v < ACK_ID_BASE) return false;
  const sentAt = v - ACK_ID_BASE;
  acks++;
  acksTotal++;
  if (now >= winStart && now < winEnd) acksInWindow++;
  if (sentAt >= winStart && sentAt < winEnd) ackHist.record(now - sentAt);
  return true;
}

function control(c: RawClient, line: string): void {
  let msg: { type?: string };
  try {
    msg = JSON.parse(line) as typeof msg;
  } catch {
    noteError(`unparsable line from server: ${line}`);
    return;
  }
  controlPush(c, msg, line);
}

/** What the handshake answered, when it is not what the wire run asked for; null: as asked. */
function negotiationProblem(c: RawClient): string | null {
  if (!wire) return null;
  if (c.protocol !== (wire.protocol ?? '')) return `subprotocol ${wire.protocol ?? '(none)'} asked, ${c.protocol || '(none)'} answered`;
  if (c.deflate !== wire.deflate) return `permessage-deflate ${wire.deflate ? 'offered and not accepted' : 'on without an offer'}`;
  return null;
}

interface JoinReply {
  type?: string;
  id?: unknown;
  data?: { seq?: unknown; recovered?: unknown };
}

function controlPush(c: RawClient, msg: JoinReply, line: string): void {
  const setup = c.tag as Setup | null;
  switch (msg.type) {
    case 'connected':
      if (setup && setup.phase === 'wait-connected') {
        const problem = negotiationProblem(c);
        if (problem) return setup.settle(problem);
        if (setup.spec.rooms.length === 0) return setup.settle(null);
        setup.phase = 'joining';
        const since = setup.since;
        const joins = setup.spec.rooms.map((room, i) => (since ? { type: 'join', id: i + 1, room, since: since[i] } : { type: 'join', id: i + 1, room }));
        c.send(sio ? sioCommandFrames(joins) : commandFrame(wire, joins));
      }
      return;
    case 'reply':
      if (track && setup && setup.phase === 'joining' && typeof msg.id === 'number' && typeof msg.data?.seq === 'number')
        track.joined(c.index, msg.id - 1, msg.data.seq, typeof msg.data.recovered === 'boolean' ? msg.data.recovered : undefined);
      if (setup && setup.phase === 'joining' && --setup.left === 0) setup.settle(null);
      else otherPushes++;
      return;
    case 'error':
      noteError(line);
      if (setup && setup.phase !== 'done') setup.settle(`error during setup: ${line}`);
      return;
    default:
      otherPushes++;
  }
}

interface Dial {
  host: string;
  port: number;
  path: string;
  inFlight: number;
  timeoutMs: number;
}

function connect(req: Extract<Request, { op: 'connect' }>): Promise<ConnectResult> {
  wire = req.wire ?? null;
  sio = req.socketio === true;
  specs = req.conns;
  track = req.track ? new SeqTracker() : null;
  specs.forEach((spec, i) => track?.add(i, spec.rooms));
  dialled = { host: req.host, port: req.port, path: req.path, inFlight: req.inFlight, timeoutMs: req.timeoutMs };
  return dial(dialled, specs.map((_, i) => i), false).then(({ lastUs: _, ...r }) => r);
}

/**
 * Destroys every connection not marked `keep` in one synchronous loop — the moment a network blip or a
 * deploy cuts them all — then dials them again as they were, with resume=1 and each join's `since` the last
 * seq the connection saw in that room.
 */
async function storm(req: Extract<Request, { op: 'storm' }>): Promise<StormResult> {
  if (!dialled) throw new Error('storm before connect');
  const victims: number[] = [];
  for (let i = 0; i < specs.length; i++) if (!specs[i]!.keep) victims.push(i);
  const cutUs = nowUs();
  for (const i of victims) clients[i]!.destroy();
  const { lastUs, ...r } = await dial({ ...dialled, inFlight: req.inFlight, timeoutMs: req.timeoutMs }, victims, true);
  return { ...r, cutUs, lastUs, cut: victims.length };
}

/** Opens the connections `indexes` (of specs) and joins their rooms; at most `inFlight` handshakes at a time. elapsedUs: from the call to the last join reply (lastUs). */
async function dial(d: Dial, indexes: number[], resume: boolean): Promise<ConnectResult & { lastUs: number }> {
  const t0 = nowUs();
  let last = t0;
  let next = 0;
  let inFlight = 0;
  let connected = 0;
  let failed = 0;
  const firstErrors: string[] = [];
  await new Promise<void>((resolve) => {
    const launch = (): void => {
      while (inFlight < d.inFlight && next < indexes.length) {
        const index = indexes[next++]!;
        const spec = specs[index]!;
        inFlight++;
        const target = {
          host: d.host,
          port: spec.port ?? d.port,
          path: `${d.path}${d.path.includes('?') ? '&' : '?'}user=${encodeURIComponent(spec.user)}${resume ? '&resume=1' : ''}`,
          localAddress: spec.local,
          ...(wire?.protocol ? { protocol: wire.protocol } : {}),
          ...(wire?.deflate ? { deflate: true } : {}),
        };
        const c = new RawClient(index, target, READ_BUF, sink);
        clients[index] = c;
        nodeOf[index] = spec.node ?? -1;
        live++;
        const setup: Setup = {
          spec,
          since: resume && track ? track.since(index) : null,
          phase: 'wait-connected',
          left: spec.rooms.length,
          timer: setTimeout(() => setup.settle(`not ready after ${d.timeoutMs} ms`), d.timeoutMs),
          settle: (error) => {
            if (setup.phase === 'done') return;
            setup.phase = 'done';
            clearTimeout(setup.timer);
            c.tag = null;
            inFlight--;
            if (error === null) {
              connected++;
              last = nowUs();
            } else {
              failed++;
              if (firstErrors.length < 5) firstErrors.push(`${spec.user}: ${error}`);
              c.destroy();
            }
            if (next < indexes.length) launch();
            else if (inFlight === 0) resolve();
          },
        };
        c.tag = setup;
      }
      if (next >= indexes.length && inFlight === 0) resolve();
    };
    launch();
  });
  return { connected, failed, elapsedUs: last - t0, lastUs: last, firstErrors };
}

interface Publisher {
  c: RawClient;
  frame: Buffer;
  tsAt: number;
  dmAt: number;
  /** Where the id's digits start (-1: no ack asked). */
  idAt: number;
  /** Where the key's digits start (-1: no key). */
  keyAt: number;
  /** Where the body's filler starts and how long it is, when it is fresh random letters on every send (a wire run); -1: fixed. */
  fillAt: number;
  fillLen: number;
  spec: PublisherSpec;
}

function writeDigits(buf: Buffer, at: number, width: number, value: number): void {
  let v = value;
  for (let i = at + width - 1; i >= at; i--) {
    const q = Math.floor(v / 10);
    buf[i] = 48 + (v - q * 10);
    v = q;
  }
}

function publisherFrame(spec: PublisherSpec, bodyChars: number): Publisher {
  let filler = 'x'.repeat(Math.max(0, bodyChars - TS_DIGITS - 2));
  // The publisher's node (cluster runs) right after the send time, where the receivers look for it.
  const node = nodeOf[spec.conn] ?? -1;
  if (node >= 0 && filler.length > 0) filler = String(node % 10) + filler.slice(1);
  const body = `@${'0'.repeat(TS_DIGITS)} ${filler}`;
  if (wire && spec.room && !spec.dm && !spec.ack) {
    const { frame, bodyAt } = publishFrame(wire, spec.room, body);
    const tsAt = bodyAt + 1;
    return { c: clients[spec.conn]!, frame, tsAt, dmAt: -1, idAt: -1, keyAt: -1, fillAt: tsAt + SEND_TIME_DIGITS + 1, fillLen: filler.length, spec };
  }
  let payload: string;
  if (spec.dm) payload = JSON.stringify({ type: 'send', to: spec.dm.prefix + '0'.repeat(spec.dm.width), body });
  else if (spec.ack && spec.key) payload = JSON.stringify({ type: 'publish', id: ACK_ID_BASE, room: spec.room, body, key: `k${'0'.repeat(KEY_DIGITS)}` });
  else if (spec.ack) payload = JSON.stringify({ type: 'publish', id: ACK_ID_BASE, room: spec.room, body });
  else payload = JSON.stringify({ type: 'publish', room: spec.room, body });
  const bytes = Buffer.from(sio ? sioCommand(payload) : payload);
  const frame = clientFrame(bytes);
  const hdr = clientFrameHeaderLength(bytes.length);
  const tsAt = hdr + bytes.indexOf('"body":"@') + BODY_MARK_LEN;
  const dmAt = spec.dm ? hdr + bytes.indexOf('"to":"') + 6 + spec.dm.prefix.length : -1;
  const idAt = spec.ack ? hdr + bytes.indexOf('"id":') + 5 : -1;
  const keyAt = spec.ack && spec.key ? hdr + bytes.indexOf('"key":"k') + 8 : -1;
  return { c: clients[spec.conn]!, frame, tsAt, dmAt, idAt, keyAt, fillAt: -1, fillLen: 0, spec };
}

/**
 * Publishers share one schedule: the worker's messages are evenly spaced at
 * the sum of the publishers' rates and handed out round-robin, so each
 * publisher keeps its own rate (the workloads give every publisher the same
 * one) and a tick costs O(messages due), not O(publishers).
 */
function run(plan: RunPlan): Promise<RunResult> {
  resetCounters();
  stopUs = Infinity;
  winStart = plan.warmEndUs;
  winEnd = plan.endUs;
  tailLength = tailFor(plan.bodyChars);
  const pubs = plan.publishers.map((s) => publisherFrame(s, plan.bodyChars));
  const total = plan.publishers.reduce((n, s) => n + s.rate, 0);
  // Workers start their schedules at different phases so that they do not fire together.
  const phase = Math.random();
  let issued = 0;
  let next = Math.floor(Math.random() * Math.max(1, pubs.length));
  loop.reset();
  loop.enable();
  const warmTimer = setTimeout(() => loop.reset(), Math.max(0, (plan.warmEndUs - nowUs()) / 1000));
  return new Promise((resolve) => {
    const tick = (): void => {
      const now = nowUs();
      const endUs = Math.min(plan.endUs, stopUs);
      const elapsed = Math.min(now, endUs) - plan.startUs;
      if (elapsed >= 0 && pubs.length > 0) {
        const due = Math.floor((elapsed * total) / 1e6 + phase) - issued;
        if (due > 1) {
          const scheduled = plan.startUs + ((issued + 1 - phase) * 1e6) / total;
          if (now - scheduled > maxLagUs) maxLagUs = now - scheduled;
        }
        for (let k = 0; k < due; k++) {
          send(pubs[next]!);
          if (++next === pubs.length) next = 0;
        }
        if (due > 0) issued += due;
      }
      if (now >= endUs) {
        loopP99 = loop.percentile(99) / 1e6;
        loopMax = loop.max / 1e6;
        loop.disable();
        clearTimeout(warmTimer);
        resolve({ sent, maxLagUs });
      } else setTimeout(tick, 1);
    };
    setTimeout(tick, Math.max(0, (plan.startUs - nowUs()) / 1000));
  });
}

function send(p: Publisher): void {
  if (!p.c.open) {
    skipped++;
    return;
  }
  const f = Buffer.allocUnsafe(p.frame.length);
  p.frame.copy(f, 0);
  const dm = p.spec.dm;
  if (dm) {
    let to = Math.floor(Math.random() * (dm.count - 1));
    if (to >= dm.self) to++;
    writeDigits(f, p.dmAt, dm.width, to);
  }
  const t = nowUs();
  writeDigits(f, p.tsAt, TS_DIGITS, t);
  if (p.idAt >= 0) writeDigits(f, p.idAt, ACK_ID_DIGITS, ACK_ID_BASE + t);
  if (p.keyAt >= 0) writeDigits(f, p.keyAt, KEY_DIGITS, ++keys);
  if (p.fillAt >= 0) randomFiller(f, p.fillAt, p.fillLen);
  p.c.send(f);
  sent++;
  expected += p.spec.fanout;
  if (t >= winStart && t < winEnd) {
    sentInWindow++;
    expectedInWindow += p.spec.fanout;
  }
}

function stats(): WorkerStats {
  return {
    received,
    receivedInWindow,
    framesInWindow,
    wire: { ...wireStats },
    sent,
    sentInWindow,
    expected,
    expectedInWindow,
    latency: hist.snapshot(),
    latencySame: sameHist.snapshot(),
    latencyCross: crossHist.snapshot(),
    acks,
    acksInWindow,
    acksTotal,
    ackLatency: ackHist.snapshot(),
    errors,
    errorSamples,
    otherPushes,
    skipped,
    closes,
    loopDelayP99Ms: loopP99,
    loopDelayMaxMs: loopMax,
    maxLagUs,
    open: live,
    ...(track ? { seq: track.stats() } : {}),
  };
}

async function closeAll(): Promise<{ open: number }> {
  for (const c of clients) c.destroy();
  clients = [];
  specs = [];
  dialled = null;
  track = null;
  nodeOf = [];
  wire = null;
  sio = false;
  const deadline = Date.now() + 5000;
  while (live > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  winStart = Infinity;
  winEnd = -Infinity;
  resetCounters();
  acksTotal = 0;
  return { open: live };
}

port.on('message', (req: Request) => {
  const done = (p: Promise<unknown> | unknown): void => {
    Promise.resolve(p).then(
      (result) => port.postMessage({ id: req.id, ok: true, result } satisfies Response),
      (err: unknown) => port.postMessage({ id: req.id, ok: false, error: String((err as Error)?.stack ?? err) } satisfies Response),
    );
  };
  switch (req.op) {
    case 'connect':
      return done(connect(req));
    case 'run':
      return done(run(req.plan));
    case 'stats':
      return done(stats());
    case 'close':
      return done(closeAll());
    case 'storm':
      return done(storm(req));
    case 'stop':
      stopUs = nowUs();
      return done(null);
  }
});
