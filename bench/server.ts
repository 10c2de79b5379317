/**
 * Starts the server under test in its own process, the way a user would:
 * Switchboard through its CLI (`bin/switchboard.js --config FILE`), the
 * baseline through `node dist/bench/baseline-server.js`. Both log a JSON line
 * with "listening" and a "ws" URL once they accept connections.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import type { ConnSpec } from './load/messages.js';
import { sampleProc, type ProcSample } from './proc.js';

export type TargetName = 'baseline' | 'switchboard' | 'socketio';
/** What a process of a target is: a server node, a cluster's broker (Redis), or a store of its own (PostgreSQL, fp). */
export type PartRole = 'server' | 'broker' | 'store';
/** Every target, in the order a run measures them. */
export const TARGET_NAMES: TargetName[] = ['baseline', 'switchboard', 'socketio'];

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SWITCHBOARD_BIN = join(REPO_ROOT, 'bin', 'switchboard.js');
const BASELINE = fileURLToPath(new URL('./baseline-server.js', import.meta.url));
const SOCKETIO = fileURLToPath(new URL('./socketio-server.js', import.meta.url));

/**
 * Switchboard's config for the benchmark: the defaults a user gets (durable
 * conversations in the embedded SQLite store, welcome on), with what an
 * operator of a big-room deployment would change. Limits are raised so that
 * the benchmark's load is not refused (one machine plays 15,000 users), and
 * presence events are off because in a room of 2,000 every join would
 * otherwise fan out to every member (N² pushes while the room fills). The
 * store and uploads live in a fresh temporary folder for every server start.
 */
export function switchboardBenchConfig(maxConnections: number | string, dataDir = '<fresh temporary folder>'): Record<string, unknown> {
  return {
    server: { host: '127.0.0.1', port: 0, webRoot: '' },
    auth: { dev: true },
    // Fan-out as a pub/sub operator runs it: rooms not stored (the baseline stores nothing either). Durable
    // rooms go through the store first; see docs/benchmarks.md.
    limits: { maxConnections, messagesPerSecond: 100_000, burst: 100_000 },
    rooms: { presenceEvents: false, rules: [{ match: '*', durable: false }] },
    store: { file: join(dataDir, 'switchboard.db') },
    uploads: { dir: join(dataDir, 'uploads') },
    log: { level: 'info' },
  };
}

/** Deep merge of plain objects (arrays and scalars in `over` replace). */
export function mergeConfig(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] =
      v && typeof v === 'object' && !Array.isArray(v) && b && typeof b === 'object' && !Array.isArray(b)
        ? mergeConfig(b as Record<string, unknown>, v as Record<string, unknown>)
        : v;
  }
  return out;
}

export interface ServerOptions {
  target: TargetName;
  maxConnections: number;
  /** CPU list for taskset (e.g. "0"), or null to leave the scheduler alone. */
  cpus: string | null;
  /** Extra node flags (e.g. --cpu-prof). */
  nodeArgs: string[];
  /** Merged over Switchboard's bench config (--switchboard-config FILE). */
  configOverrides?: Record<string, unknown>;
  /** Options for the baseline's command line (e.g. --bare). */
  baselineArgs?: string[];
}

export interface RunningTarget {
  readonly name: TargetName;
  readonly pid: number;
  readonly host: string;
  readonly port: number;
  /** Request path, with the query the target needs (Socket.IO's `?EIO=4&transport=websocket`). */
  readonly path: string;
  /** The command line, for the report. */
  readonly command: string;
  sample(): ProcSample;
  /**
   * A target of several processes (bench/cluster.ts: nodes and a broker): each one's sample, taken together;
   * `sample()` is their sum. Absent: one process.
   */
  sampleParts?(): { name: string; role: PartRole; sample: ProcSample }[];
  /** Which of the target's listeners each connection goes to (ConnSpec.port, .node); absent: all to `port`. */
  route?(conns: ConnSpec[]): ConnSpec[];
  /** Log lines at warn level or above (Switchboard), or anything on stderr. */
  problems(): string[];
  exited(): boolean;
  /** Messages in Switchboard's SQLite store right now (a read-only look at its file; NaN for the baseline or PostgreSQL). */
  storedMessages(): number;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of live) p.kill('SIGKILL');
});
// Interrupted (Ctrl-C, timeout): no server under test may outlive the harness.
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const)
  process.once(sig, () => {
    for (const p of live) p.kill('SIGKILL');
    process.exit(128 + (sig === 'SIGINT' ? 2 : sig === 'SIGTERM' ? 15 : 1));
  });

export async function startTarget(opts: ServerOptions): Promise<RunningTarget> {
  let args: string[];
  let dataDir: string | null = null;
  let storeFile: string | null = null;
  if (opts.target === 'switchboard') {
    dataDir = mkdtempSync(join(tmpdir(), 'switchboard-bench-'));
    const file = join(dataDir, 'config.json');
    const config = mergeConfig(switchboardBenchConfig(opts.maxConnections, dataDir), opts.configOverrides ?? {});
    const store = config.store as { file?: string; url?: string };
    storeFile = store.url ? null : (store.file ?? null);
    writeFileSync(file, JSON.stringify(config, null, 2));
    args = [...opts.nodeArgs, SWITCHBOARD_BIN, '--config', file, '--port', '0'];
  } else if (opts.target === 'socketio') {
    args = [...opts.nodeArgs, SOCKETIO, '--port', '0'];
  } else {
    args = [...opts.nodeArgs, BASELINE, '--port', '0', ...(opts.baselineArgs ?? [])];
  }
  const cmd = opts.cpus ? 'taskset' : process.execPath;
  const argv = opts.cpus ? ['-c', opts.cpus, process.execPath, ...args] : args;
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('SWITCHBOARD_') && !k.startsWith('NODE_')) env[k] = v;
  const proc: ChildProcess = spawn(cmd, argv, { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(proc);
  const problems: string[] = [];
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    proc.once('exit', (code, signal) => {
      exited = true;
      live.delete(proc);
      if (code !== 0 && signal !== 'SIGTERM' && signal !== 'SIGKILL') problems.push(`exited with ${code ?? signal}`);
      resolve();
    }),
  );
  let stdout = '';
  const listening = new Promise<{ host: string; port: number; path: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${opts.target} did not start in 15 s:\n${stdout}`)), 15_000);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${opts.target} exited with ${code} before listening:\n${stdout}`));
    });
    proc.stdout!.setEncoding('utf8');
    proc.stdout!.on('data', (chunk: string) => {
      stdout += chunk;
      let nl: number;
      while ((nl = stdout.indexOf('\n')) !== -1) {
        const line = stdout.slice(0, nl);
        stdout = stdout.slice(nl + 1);
        let rec: { msg?: string; ws?: string; level?: number };
        try {
          rec = JSON.parse(line) as typeof rec;
        } catch {
          problems.push(`stdout: ${line}`);
          continue;
        }
        if (typeof rec.level === 'number' && rec.level >= 40 && !/DEV AUTH IS ON/.test(rec.msg ?? '')) problems.push(line.slice(0, 500));
        if (rec.ws && /listening/.test(rec.msg ?? '')) {
          clearTimeout(timer);
          const u = new URL(rec.ws);
          resolve({ host: u.hostname, port: Number(u.port), path: u.pathname + u.search });
        }
      }
    });
    proc.stderr!.setEncoding('utf8');
    proc.stderr!.on('data', (chunk: string) => {
      for (const line of chunk.split('\n')) if (line.trim() && problems.length < 50) problems.push(`stderr: ${line.slice(0, 500)}`);
    });
  });
  const where = await listening;
  const pid = proc.pid!;
  return {
    name: opts.target,
    pid,
    ...where,
    command: [opts.cpus ? `taskset -c ${opts.cpus}` : '', 'node', ...args.map((a) => (a.startsWith(REPO_ROOT) ? a.slice(REPO_ROOT.length) : a))]
      .filter(Boolean)
      .join(' '),
    sample: () => sampleProc(pid),
    problems: () => problems.slice(),
    exited: () => exited,
    storedMessages: () => {
      if (!storeFile) return NaN;
      const db = new Database(storeFile, { readonly: true, fileMustExist: true });
      try {
        return (db.prepare('SELECT COUNT(*) AS n FROM messages').get() as { n: number }).n;
      } finally {
        db.close();
      }
    },
    stop: async () => {
      if (!exited) {
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 10_000);
        await exit;
        clearTimeout(t);
      }
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
