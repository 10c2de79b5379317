/**
 * The main thread's handle on the load-generator workers: spreads
 * connections over them round-robin, starts a publishing plan on all of them
 * at once, and merges what they counted.
 */
import { Worker } from 'node:worker_threads';
import { Histogram } from './histogram.js';
import type { ConnSpec, ConnectResult, PublisherSpec, Request, Response, RunPlan, RunResult, StormResult, WireSpec, WorkerStats } from './messages.js';
import { addSeqCounts, emptySeqCounts } from './seq-tracker.js';

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

export interface MergedStats extends Omit<WorkerStats, 'latency' | 'latencySame' | 'latencyCross' | 'ackLatency' | 'loopDelayP99Ms' | 'loopDelayMaxMs'> {
  latency: Histogram;
  latencySame: Histogram;
  latencyCross: Histogram;
  ackLatency: Histogram;
  /** Worst worker's event-loop delay p99 and max during the window (ms). */
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
}

export interface PoolConnectResult extends ConnectResult {
  /** Wall time for all workers (ms). */
  ms: number;
}

export class LoadPool {
  private readonly workers: Worker[] = [];
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  /** Connections per worker, in the order given to connect(): global index g lives on worker g % n at index ⌊g / n⌋. */
  private connCount = 0;
  /** Set once a worker has died: every call fails from then on instead of waiting forever. */
  private dead: Error | null = null;

  constructor(readonly size: number) {
    for (let i = 0; i < size; i++) {
      // Flags such as --cpu-prof are inherited (to profile the generator); --input-type would stop a worker from loading.
      const w = new Worker(new URL('./worker.js', import.meta.url), { execArgv: process.execArgv.filter((a) => !a.startsWith('--input-type')) });
      w.on('message', (r: Response) => {
        const p = this.pending.get(r.id);
        if (!p) return;
        this.pending.delete(r.id);
        if (r.ok) p.resolve(r.result);
        else p.reject(new Error(`load worker: ${r.error}`));
      });
      const die = (err: Error): void => {
        this.dead ??= err;
        for (const p of this.pending.values()) p.reject(err);
        this.pending.clear();
      };
      w.on('error', (err) => die(new Error(`load worker failed: ${err.stack ?? err.message}`)));
      w.on('exit', (code) => die(new Error(`load worker exited (${code})`)));
      this.workers.push(w);
    }
  }

  private call<T>(w: Worker, req: DistributiveOmit<Request, 'id'>): Promise<T> {
    const id = this.nextId++;
    if (this.dead) return Promise.reject(this.dead);
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      w.postMessage({ ...req, id });
    });
  }

  /** Where global connection `g` lives. */
  locate(g: number): { worker: number; conn: number } {
    return { worker: g % this.size, conn: Math.floor(g / this.size) };
  }

  /** Opens every connection (identified, rooms joined); at most `inFlight` handshakes at a time in all. */
  async connect(
    /** `socketio`: the connections speak Engine.IO 4 / Socket.IO 5 over the WebSocket (bench/load/socketio.ts). */
    target: { host: string; port: number; path: string; socketio?: boolean },
    conns: ConnSpec[],
    inFlight: number,
    timeoutMs = 30_000,
    wire: WireSpec | null = null,
    /** Check every room message's seq per connection and room (a reconnect storm, bench/workload-storm.ts). */
    track = false,
  ): Promise<PoolConnectResult> {
    if (this.connCount !== 0) throw new Error('connect() twice without close()');
    const shares: ConnSpec[][] = this.workers.map(() => []);
    conns.forEach((c, g) => shares[g % this.size]!.push(c));
    this.connCount = conns.length;
    const t0 = performance.now();
    const per = Math.max(1, Math.floor(inFlight / this.size));
    const results = await Promise.all(
      this.workers.map((w, i) =>
        this.call<ConnectResult>(w, { op: 'connect', ...target, conns: shares[i]!, inFlight: per, timeoutMs, ...(wire ? { wire } : {}), ...(track ? { track } : {}) }),
      ),
    );
    const ms = performance.now() - t0;
    return {
      connected: results.reduce((n, r) => n + r.connected, 0),
      failed: results.reduce((n, r) => n + r.failed, 0),
      elapsedUs: Math.max(...results.map((r) => r.elapsedUs)),
      firstErrors: results.flatMap((r) => r.firstErrors).slice(0, 5),
      ms,
    };
  }

  /** Runs a publishing plan; `publishers[].conn` is a global connection index here. Resolves when publishing has stopped. */
  async run(plan: Omit<RunPlan, 'publishers'>, publishers: PublisherSpec[]): Promise<RunResult> {
    const shares: PublisherSpec[][] = this.workers.map(() => []);
    for (const p of publishers) {
      const { worker, conn } = this.locate(p.conn);
      shares[worker]!.push({ ...p, conn });
    }
    const results = await Promise.all(this.workers.map((w, i) => this.call<RunResult>(w, { op: 'run', plan: { ...plan, publishers: shares[i]! } })));
    return { sent: results.reduce((n, r) => n + r.sent, 0), maxLagUs: Math.max(...results.map((r) => r.maxLagUs)) };
  }

  /**
   * Every worker cuts its connections not marked `keep` and dials them again with resume (see the worker's
   * storm()). The workers hear of it within a few hundred µs of each other; cutUs is the first cut, lastUs the
   * last join reply anywhere.
   */
  async storm(inFlight: number, timeoutMs = 60_000): Promise<StormResult> {
    const per = Math.max(1, Math.floor(inFlight / this.size));
    const results = await Promise.all(this.workers.map((w) => this.call<StormResult>(w, { op: 'storm', inFlight: per, timeoutMs })));
    return {
      connected: results.reduce((n, r) => n + r.connected, 0),
      failed: results.reduce((n, r) => n + r.failed, 0),
      cut: results.reduce((n, r) => n + r.cut, 0),
      cutUs: Math.min(...results.map((r) => r.cutUs)),
      lastUs: Math.max(...results.map((r) => r.lastUs)),
      elapsedUs: Math.max(...results.map((r) => r.lastUs)) - Math.min(...results.map((r) => r.cutUs)),
      firstErrors: results.flatMap((r) => r.firstErrors).slice(0, 5),
    };
  }

  /** Ends the running plan's publishing now (its run() then resolves). */
  async stopPublishing(): Promise<void> {
    await Promise.all(this.workers.map((w) => this.call(w, { op: 'stop' })));
  }

  async stats(): Promise<MergedStats> {
    const all = await Promise.all(this.workers.map((w) => this.call<WorkerStats>(w, { op: 'stats' })));
    const latency = new Histogram();
    const latencySame = new Histogram();
    const latencyCross = new Histogram();
    const ackLatency = new Histogram();
    const closes: Record<string, number> = {};
    const sum = (k: keyof WorkerStats): number => all.reduce((n, s) => n + (s[k] as number), 0);
    for (const s of all) {
      latency.merge(s.latency);
      latencySame.merge(s.latencySame);
      latencyCross.merge(s.latencyCross);
      ackLatency.merge(s.ackLatency);
      for (const [k, v] of Object.entries(s.closes)) closes[k] = (closes[k] ?? 0) + v;
    }
    return {
      received: sum('received'),
      receivedInWindow: sum('receivedInWindow'),
      framesInWindow: sum('framesInWindow'),
      wire: {
        frames: all.reduce((n, s) => n + s.wire.frames, 0),
        wireBytes: all.reduce((n, s) => n + s.wire.wireBytes, 0),
        payloadBytes: all.reduce((n, s) => n + s.wire.payloadBytes, 0),
        compressedFrames: all.reduce((n, s) => n + s.wire.compressedFrames, 0),
      },
      sent: sum('sent'),
      sentInWindow: sum('sentInWindow'),
      expected: sum('expected'),
      expectedInWindow: sum('expectedInWindow'),
      latency,
      latencySame,
      latencyCross,
      acks: sum('acks'),
      acksInWindow: sum('acksInWindow'),
      acksTotal: sum('acksTotal'),
      ackLatency,
      errors: sum('errors'),
      errorSamples: all.flatMap((s) => s.errorSamples).slice(0, 5),
      otherPushes: sum('otherPushes'),
      skipped: sum('skipped'),
      closes,
      loopDelayP99Ms: Math.max(...all.map((s) => s.loopDelayP99Ms)),
      loopDelayMaxMs: Math.max(...all.map((s) => s.loopDelayMaxMs)),
      maxLagUs: Math.max(...all.map((s) => s.maxLagUs)),
      open: sum('open'),
      ...(all.some((s) => s.seq) ? { seq: all.reduce((n, s) => (s.seq ? addSeqCounts(n, s.seq) : n), emptySeqCounts()) } : {}),
    };
  }

  /** Drops every connection; resolves once the sockets are gone. */
  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => this.call(w, { op: 'close' })));
    this.connCount = 0;
  }

  async terminate(): Promise<void> {
    this.dead ??= new Error('load pool terminated');
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
