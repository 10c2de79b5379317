/**
 * The load generator's side of bench/api.ts: publishers that call the server
 * API over HTTP/1.1 keep-alive (node:http, an Agent with a bounded number of
 * sockets), and one observing WebSocket member of the room that counts the
 * frames its messages arrive in. Both run in the harness's main thread; the
 * subscribers that count deliveries and time them are the load workers of
 * bench/load/ (they read the send time this side writes into each body).
 */
import http from 'node:http';
import { RawClient, clientFrame, nowUs, type ClientSink } from './load/client.js';
import { Histogram } from './load/histogram.js';

const TS_DIGITS = 15;

/** The window a phase measures, in nowUs() µs: sending starts at startUs, counts cover [warmEndUs, endUs), sending stops at endUs. */
export interface Window {
  startUs: number;
  warmEndUs: number;
  endUs: number;
}

export interface HttpTarget {
  host: string;
  port: number;
  key: string;
  room: string;
}

export interface HttpStats {
  /** Requests sent, and answered 200. */
  requests: number;
  requestsOk: number;
  /** Requests answered 200 with a receive time in the window. */
  requestsOkInWindow: number;
  /** Messages acknowledged as stored (a single publish: 1 per 200; a batch: its results with ok), in all and in the window. */
  messagesOk: number;
  messagesOkInWindow: number;
  /** Batch entries answered ok:false. */
  messagesRefused: number;
  /** Requests that failed (status other than 200, socket error, timeout), and the first few reasons. */
  errors: number;
  errorSamples: string[];
  /** Request → full answer (µs) of requests sent inside the window. */
  latency: Histogram;
  /**
   * Sends due in the window that had to wait — single publish: for a free slot (all `inFlight` requests were out);
   * paced batches: for the subscribers — and the longest such wait (µs). (In the warm-up the server's first API calls
   * and the new connections make waits that say nothing about a steady load.)
   */
  heldBack: number;
  maxHeldUs: number;
  /** Single publish: how late a send due in the window went out although a slot was free (µs): the generator's own delay. */
  maxLagUs: number;
  /** When that was, µs after the window's start (startUs). */
  maxLagAtUs: number;
  /** Sends still owed when the window ended (the bound on requests in flight held them back). */
  unsent: number;
  maxInFlight: number;
}

function emptyStats(): HttpStats {
  return {
    requests: 0,
    requestsOk: 0,
    requestsOkInWindow: 0,
    messagesOk: 0,
    messagesOkInWindow: 0,
    messagesRefused: 0,
    errors: 0,
    errorSamples: [],
    latency: new Histogram(),
    heldBack: 0,
    maxHeldUs: 0,
    maxLagUs: 0,
    maxLagAtUs: 0,
    unsent: 0,
    maxInFlight: 0,
  };
}

function noteError(s: HttpStats, what: string): void {
  s.errors++;
  if (s.errorSamples.length < 5) s.errorSamples.push(what.length > 300 ? what.slice(0, 300) + '…' : what);
}

/** Writes `value` as `width` decimal digits at `at` (no allocation). */
export function writeDigits(buf: Buffer, at: number, width: number, value: number): void {
  let v = value;
  for (let i = at + width - 1; i >= at; i--) {
    const q = Math.floor(v / 10);
    buf[i] = 48 + (v - q * 10);
    v = q;
  }
}

/** A message body as the load workers read it: "@" + 15-digit send time (µs) + " " + filler, `bodyChars` long. */
export function benchBody(sendUs: number, bodyChars: number): string {
  return `@${String(Math.floor(sendUs)).padStart(TS_DIGITS, '0')} ${'x'.repeat(Math.max(0, bodyChars - TS_DIGITS - 2))}`;
}

interface Answer {
  status: number;
  body: string;
}

/** One POST; resolves with the status and body (never rejects: a failure is status 0 and the reason as body). */
function post(agent: http.Agent, t: HttpTarget, path: string, body: Buffer, timeoutMs: number): Promise<Answer> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (a: Answer): void => {
      if (settled) return;
      settled = true;
      resolve(a);
    };
    const req = http.request({
      agent,
      host: t.host,
      port: t.port,
      method: 'POST',
      path,
      headers: { authorization: `Bearer ${t.key}`, 'content-type': 'application/json', 'content-length': body.length },
    });
    req.setTimeout(timeoutMs, () => {
      req.destroy(new Error(`no answer in ${timeoutMs} ms`));
    });
    req.on('error', (err) => done({ status: 0, body: err.message }));
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', (err) => done({ status: 0, body: err.message }));
      res.on('end', () => done({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.end(body);
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Single publishes (`POST /api/v1/rooms/{room}/publish`) at a fixed rate,
 * evenly spaced, with at most `inFlight` requests out at once over keep-alive
 * connections. A send that finds every slot taken waits for the next answer
 * (counted in heldBack, the wait in maxHeldUs); the send time in its body is
 * when it actually went out.
 */
export async function singlePublishes(t: HttpTarget, o: { rate: number; inFlight: number; bodyChars: number; window: Window; timeoutMs: number }): Promise<HttpStats> {
  const s = emptyStats();
  const agent = new http.Agent({ keepAlive: true, maxSockets: o.inFlight, maxFreeSockets: o.inFlight });
  const path = `/api/v1/rooms/${encodeURIComponent(t.room)}/publish`;
  const template = Buffer.from(JSON.stringify({ body: benchBody(0, o.bodyChars) }));
  const tsAt = template.indexOf('"body":"@') + '"body":"@'.length;
  const { startUs, warmEndUs, endUs } = o.window;
  let issued = 0;
  let owed = 0;
  /** When the oldest owed send was due (µs). */
  const owedSince: number[] = [];
  let out = 0;
  const pending = new Set<Promise<void>>();

  const fire = (): void => {
    out++;
    if (out > s.maxInFlight) s.maxInFlight = out;
    const body = Buffer.from(template);
    const sent = nowUs();
    writeDigits(body, tsAt, TS_DIGITS, sent);
    s.requests++;
    const p = post(agent, t, path, body, o.timeoutMs).then((a) => {
      const now = nowUs();
      out--;
      if (a.status === 200) {
        s.requestsOk++;
        s.messagesOk++;
        if (now >= warmEndUs && now < endUs) {
          s.requestsOkInWindow++;
          s.messagesOkInWindow++;
        }
        if (sent >= warmEndUs && sent < endUs) s.latency.record(now - sent);
      } else noteError(s, `${a.status || 'no answer'}: ${a.body}`);
      // A freed slot goes to a send that was held back, if it is not too late for the window.
      if (owed > 0 && now < endUs) {
        owed--;
        const due = owedSince.shift()!;
        if (due >= warmEndUs && now - due > s.maxHeldUs) s.maxHeldUs = now - due;
        fire();
      }
    });
    pending.add(p);
    void p.then(() => pending.delete(p));
  };

  while (nowUs() < startUs) await sleep(Math.max(0, Math.min(50, (startUs - nowUs()) / 1000)));
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = nowUs();
      const elapsed = Math.min(now, endUs) - startUs;
      const due = Math.floor((elapsed * o.rate) / 1e6) - issued;
      for (let k = 0; k < due; k++) {
        const dueAt = startUs + ((issued + k + 1) * 1e6) / o.rate;
        if (out < o.inFlight) {
          if (dueAt >= warmEndUs && now - dueAt > s.maxLagUs) {
            s.maxLagUs = now - dueAt;
            s.maxLagAtUs = dueAt - startUs;
          }
          fire();
        } else {
          owed++;
          if (dueAt >= warmEndUs) s.heldBack++;
          owedSince.push(dueAt);
        }
      }
      if (due > 0) issued += due;
      if (now >= endUs) resolve();
      else setTimeout(tick, 1);
    };
    tick();
  });
  s.unsent = owed;
  owed = 0;
  // Every request is bounded by its timeout.
  while (pending.size > 0) await Promise.all([...pending]);
  agent.destroy();
  return s;
}

/**
 * Delivery pacing for batches: a request goes out only while the messages
 * sent so far, its own included, are at most `limit` ahead of what the
 * subscribers have read (`delivered()`: messages per subscriber, as last
 * counted). Without it the server, which answers after the commit and does
 * not wait for slow readers, outruns a load generator that must read every
 * message at every subscriber, and closes them as slow consumers.
 */
export interface DeliveryPacing {
  limit: number;
  delivered(): number;
}

/**
 * Batch publishes (`POST /api/v1/publish/batch`) of `batchSize` messages to
 * the room, back to back with `inFlight` requests out at once, from startUs
 * until endUs (paced by delivery, if asked). Every message of a request
 * carries the request's send time.
 */
export async function batchPublishes(
  t: HttpTarget,
  o: { batchSize: number; inFlight: number; bodyChars: number; window: Window; timeoutMs: number; pacing?: DeliveryPacing },
): Promise<HttpStats> {
  const s = emptyStats();
  const agent = new http.Agent({ keepAlive: true, maxSockets: o.inFlight, maxFreeSockets: o.inFlight });
  const { startUs, warmEndUs, endUs } = o.window;
  const room = JSON.stringify(t.room);
  let out = 0;

  const one = async (): Promise<void> => {
    const sent = nowUs();
    const entry = `{"room":${room},"body":"${benchBody(sent, o.bodyChars)}"}`;
    const body = Buffer.from(`{"messages":[${new Array<string>(o.batchSize).fill(entry).join(',')}]}`);
    s.requests++;
    out++;
    if (out > s.maxInFlight) s.maxInFlight = out;
    const a = await post(agent, t, '/api/v1/publish/batch', body, o.timeoutMs);
    out--;
    const now = nowUs();
    if (a.status !== 200) return noteError(s, `${a.status || 'no answer'}: ${a.body}`);
    let results: { ok?: boolean; code?: string; message?: string }[];
    try {
      results = (JSON.parse(a.body) as { results: typeof results }).results;
    } catch (err) {
      return noteError(s, `unparsable answer: ${(err as Error).message}`);
    }
    let ok = 0;
    for (const r of results) {
      if (r.ok === true) ok++;
      else {
        s.messagesRefused++;
        if (s.errorSamples.length < 5) s.errorSamples.push(`entry refused: ${r.code}: ${r.message}`);
      }
    }
    if (results.length !== o.batchSize) noteError(s, `${results.length} results for ${o.batchSize} messages`);
    s.requestsOk++;
    s.messagesOk += ok;
    if (now >= warmEndUs && now < endUs) {
      s.requestsOkInWindow++;
      s.messagesOkInWindow += ok;
    }
    if (sent >= warmEndUs && sent < endUs) s.latency.record(now - sent);
  };

  while (nowUs() < startUs) await sleep(Math.max(0, Math.min(50, (startUs - nowUs()) / 1000)));
  const pacing = o.pacing;
  let sentMessages = 0;
  const lane = async (): Promise<void> => {
    // Bounded by the window (each request by its timeout).
    while (nowUs() < endUs) {
      if (pacing && sentMessages + o.batchSize - pacing.delivered() > pacing.limit) {
        const t0 = nowUs();
        while (sentMessages + o.batchSize - pacing.delivered() > pacing.limit && nowUs() < endUs) await sleep(1);
        if (t0 >= warmEndUs) {
          s.heldBack++;
          if (nowUs() - t0 > s.maxHeldUs) s.maxHeldUs = nowUs() - t0;
        }
        if (nowUs() >= endUs) break;
      }
      sentMessages += o.batchSize;
      await one();
    }
  };
  await Promise.all(Array.from({ length: o.inFlight }, lane));
  agent.destroy();
  return s;
}

/** Sends one batch and resolves when it is answered (for the frame count with one batch at a time). */
export async function oneBatch(t: HttpTarget, batchSize: number, bodyChars: number, timeoutMs: number): Promise<{ ok: number; error: string | null }> {
  const agent = new http.Agent({ keepAlive: false });
  try {
    const entry = `{"room":${JSON.stringify(t.room)},"body":"${benchBody(nowUs(), bodyChars)}"}`;
    const body = Buffer.from(`{"messages":[${new Array<string>(batchSize).fill(entry).join(',')}]}`);
    const a = await post(agent, t, '/api/v1/publish/batch', body, timeoutMs);
    if (a.status !== 200) return { ok: 0, error: `${a.status || 'no answer'}: ${a.body.slice(0, 300)}` };
    const results = (JSON.parse(a.body) as { results: { ok: boolean }[] }).results;
    return { ok: results.filter((r) => r.ok).length, error: null };
  } finally {
    agent.destroy();
  }
}

/**
 * A member of the room in the harness's main thread that counts, for the
 * figures "frames per batch" and "messages per frame", the WebSocket frames
 * its room's messages arrive in (a frame may hold several, one per line).
 */
export class Observer {
  frames = 0;
  messages = 0;
  /** Most messages seen in one frame. */
  largestFrame = 0;
  closed: string | null = null;
  private client: RawClient | null = null;
  private readonly readBuf = Buffer.allocUnsafe(256 * 1024);

  reset(): void {
    this.frames = this.messages = this.largestFrame = 0;
  }

  /** Connects as `user` (dev identity), joins `room`, resolves once the join is answered. */
  open(target: { host: string; port: number; path: string }, user: string, room: string, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      let ready = false;
      const timer = setTimeout(() => fail(`observer not ready after ${timeoutMs} ms`), timeoutMs);
      const fail = (why: string): void => {
        clearTimeout(timer);
        this.client?.destroy();
        reject(new Error(why));
      };
      const sink: ClientSink = {
        onOpen: () => {},
        onText: (c, buf, start, end) => {
          let pos = start;
          let inFrame = 0;
          while (pos < end) {
            let nl = buf.indexOf(0x0a, pos);
            if (nl === -1 || nl > end) nl = end;
            // {"type":"message",…: 'm' at offset 9.
            if (buf[pos + 9] === 0x6d && buf.toString('latin1', pos, pos + 17) === '{"type":"message"') inFrame++;
            else if (!ready) {
              const line = buf.toString('utf8', pos, nl);
              const msg = JSON.parse(line) as { type?: string; id?: number };
              if (msg.type === 'connected') c.send(clientFrame(Buffer.from(JSON.stringify({ type: 'join', id: 1, room }))));
              else if (msg.type === 'reply' && msg.id === 1) {
                ready = true;
                clearTimeout(timer);
                resolve();
              } else if (msg.type === 'error') fail(`observer: ${line}`);
            }
            pos = nl + 1;
          }
          if (inFrame > 0) {
            this.frames++;
            this.messages += inFrame;
            if (inFrame > this.largestFrame) this.largestFrame = inFrame;
          }
        },
        onClose: (_c, code, reason, error) => {
          if (error === 'destroyed') return;
          this.closed = `${code || ''} ${reason || error || ''}`.trim();
          if (!ready) fail(`observer closed before ready: ${this.closed}`);
        },
      };
      this.client = new RawClient(0, { host: target.host, port: target.port, path: `${target.path}?user=${encodeURIComponent(user)}` }, this.readBuf, sink);
    });
  }

  close(): void {
    this.client?.destroy();
    this.client = null;
  }
}
