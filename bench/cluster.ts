/**
 * `npm run bench -- --cluster`: Switchboard deployed two ways for the same workloads, one after the other —
 *
 *   one node:  one process, as in the main bench but on PostgreSQL (`store.url`);
 *   cluster:   two processes joined by a Redis the harness starts (`broker.url`), on the same PostgreSQL
 *              configuration, the connections split between them so that every room has members on both.
 *
 * Each start gets a fresh PostgreSQL database (created here, dropped at its stop) and, for the cluster, a fresh
 * `redis-server` on a free port (`--save '' --appendonly no`, killed at its stop): nothing carries over from one
 * measurement to the next. The workloads themselves are bench/workloads.ts's, unchanged: they start their target
 * through `Context.deploy`, and connect each connection where `RunningTarget.route` says.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { CLUSTER, ONE_NODE } from './cluster-report.js';
import { freePort } from './free-port.js';
import type { ConnSpec } from './load/messages.js';
import { sumSamples } from './measure.js';
import { sampleProc, type ProcSample } from './proc.js';
import { mergeConfig, startTarget, type RunningTarget, type ServerOptions } from './server.js';
import type { WorkloadId } from './workloads.js';

/** The workloads that run in cluster mode by default, and the only ones it takes (room fan-out, non-durable rooms). */
export const CLUSTER_WORKLOADS: WorkloadId[] = ['a', 'b', 'c'];
export const CLUSTER_NODES = 2;

export const DEFAULT_PG_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

export interface ClusterInfra {
  /** An administrative connection URL: databases are created and dropped through it. */
  pgAdminUrl: string;
  redisServer: string;
  redisVersion: string;
  pgVersion: string;
}

/** A URL without its password, for logs and the report. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(not a URL)';
  }
}

/** Checks that Redis and PostgreSQL are there before anything runs: a clear error instead of a failed workload. */
export async function clusterInfra(pgAdminUrl: string, redisServer: string): Promise<ClusterInfra> {
  const v = spawnSync(redisServer, ['--version'], { encoding: 'utf8' });
  if (v.status !== 0) throw new Error(`--cluster needs redis-server: ${redisServer} did not run (${v.error?.message ?? v.stderr.trim()}); install Redis or pass --redis-server PATH`);
  const c = new pg.Client({ connectionString: pgAdminUrl, connectionTimeoutMillis: 3000 });
  let pgVersion: string;
  try {
    await c.connect();
    pgVersion = ((await c.query('SHOW server_version')).rows[0] as { server_version: string }).server_version;
  } catch (err) {
    throw new Error(`--cluster needs PostgreSQL: not reachable at ${redactUrl(pgAdminUrl)} (${(err as Error).message}); pass --pg-url URL`);
  } finally {
    await c.end().catch(() => {});
  }
  return { pgAdminUrl, redisServer, redisVersion: /v=(\S+)/.exec(v.stdout)?.[1] ?? v.stdout.trim(), pgVersion };
}

/**
 * Which node connection `i` goes to: the parity of its decimal digit sum. Every run of 10 consecutive connections
 * is split 5/5 (c's rooms of 10), and connections at multiples of 10, 50 and 100 — where the workloads put their
 * publishers — alternate between the nodes, so that the publishers are on both; over any 0…10ᵏ−1 the split is even.
 */
export function nodeOfConnection(i: number): number {
  let sum = 0;
  for (let v = i; v > 0; v = Math.floor(v / 10)) sum += v % 10;
  return sum % CLUSTER_NODES;
}

// ── what must not outlive the harness ──────────────────────────────────────

const liveRedis = new Set<ChildProcess>();
const liveDatabases = new Map<string, string>();
process.on('exit', () => {
  for (const p of liveRedis) p.kill('SIGKILL');
  // The harness is going (an error, Ctrl-C): no promise will run now, so dropdb, synchronously.
  for (const [name, admin] of liveDatabases) {
    const u = new URL(admin);
    const env = { ...process.env, ...(u.password ? { PGPASSWORD: decodeURIComponent(u.password) } : {}) };
    spawnSync('dropdb', ['--if-exists', '--force', '-h', u.hostname, '-p', u.port || '5432', '-U', decodeURIComponent(u.username || 'postgres'), name], { env, stdio: 'ignore' });
  }
});

// ── PostgreSQL ─────────────────────────────────────────────────────────────

export interface Database {
  name: string;
  url: string;
  drop(): Promise<void>;
}

/** A fresh database on the server at `adminUrl`, dropped by drop() or, should the harness die first, at its exit. */
export async function createDatabase(adminUrl: string): Promise<Database> {
  const name = `switchboard_bench_${process.pid}_${randomBytes(4).toString('hex')}`;
  const admin = async <T>(f: (c: pg.Client) => Promise<T>): Promise<T> => {
    const c = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5000 });
    await c.connect();
    try {
      return await f(c);
    } finally {
      await c.end();
    }
  };
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  liveDatabases.set(name, adminUrl);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    drop: async () => {
      if (!liveDatabases.has(name)) return;
      await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
      liveDatabases.delete(name);
    },
  };
}

// ── Redis ──────────────────────────────────────────────────────────────────

interface RedisProcess {
  pid: number;
  url: string;
  command: string;
  sample(): ProcSample;
  problems(): string[];
  exited(): boolean;
  stop(): Promise<void>;
}

async function startRedis(bin: string, cpus: string | null): Promise<RedisProcess> {
  const port = await freePort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  const proc = cpus ? spawn('taskset', ['-c', cpus, bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] }) : spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  liveRedis.add(proc);
  let output = '';
  let exited = false;
  let stopping = false;
  const problems: string[] = [];
  const exit = new Promise<void>((resolve) =>
    proc.once('exit', (code, signal) => {
      exited = true;
      liveRedis.delete(proc);
      // Redis handles SIGTERM itself and exits with 0: only an exit nobody asked for is a problem.
      if (!stopping) problems.push(`redis exited with ${code ?? signal}: ${output.trim().split('\n').slice(-5).join(' / ')}`);
      resolve();
    }),
  );
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString('utf8')).slice(-4000);
  };
  proc.stderr!.on('data', keep);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server did not start in 10 s:\n${output}`)), 10_000);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited with ${code} before it was ready:\n${output}`));
    });
    proc.stdout!.on('data', (chunk: Buffer) => {
      keep(chunk);
      if (/Ready to accept connections/.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    });
  }).catch(async (err: unknown) => {
    stopping = true;
    proc.kill('SIGKILL');
    await exit;
    throw err;
  });
  const pid = proc.pid!;
  return {
    pid,
    url: `redis://127.0.0.1:${port}`,
    command: [cpus ? `taskset -c ${cpus}` : '', 'redis-server', ...args.map((a) => (a === '' ? "''" : a))].filter(Boolean).join(' '),
    sample: () => sampleProc(pid),
    problems: () => problems.slice(),
    exited: () => exited,
    stop: async () => {
      stopping = true;
      if (!exited) {
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 5_000);
        await exit;
        clearTimeout(t);
      }
    },
  };
}

// ── the two deployments ────────────────────────────────────────────────────

export interface Deployment {
  label: string;
  deploy(opts: ServerOptions): Promise<RunningTarget>;
}

/** One Switchboard on a fresh PostgreSQL database; its connections are tagged node 0 (the generator's work is the cluster's). */
async function oneNode(infra: ClusterInfra, opts: ServerOptions): Promise<RunningTarget> {
  const db = await createDatabase(infra.pgAdminUrl);
  try {
    const t = await startTarget({ ...opts, configOverrides: mergeConfig(opts.configOverrides ?? {}, { store: { url: db.url } }) });
    return {
      ...t,
      route: (conns: ConnSpec[]) => conns.map((c) => ({ ...c, node: 0 })),
      stop: async () => {
        await t.stop();
        await db.drop();
      },
    };
  } catch (err) {
    await db.drop();
    throw err;
  }
}

/** Two Switchboard nodes on one fresh PostgreSQL database and a fresh Redis, all on the server's CPUs. */
async function twoNodes(infra: ClusterInfra, opts: ServerOptions): Promise<RunningTarget> {
  const db = await createDatabase(infra.pgAdminUrl);
  let redis: RedisProcess | null = null;
  const nodes: RunningTarget[] = [];
  const stopAll = async (): Promise<void> => {
    await Promise.all(nodes.map((n) => n.stop()));
    await redis?.stop();
    await db.drop();
  };
  try {
    redis = await startRedis(infra.redisServer, opts.cpus);
    const configOverrides = mergeConfig(opts.configOverrides ?? {}, { store: { url: db.url }, broker: { url: redis.url, prefix: 'bench' } });
    for (let k = 0; k < CLUSTER_NODES; k++) nodes.push(await startTarget({ ...opts, configOverrides }));
  } catch (err) {
    await stopAll();
    throw err;
  }
  const r = redis;
  const parts = (): { name: string; role: 'server' | 'broker'; sample: ProcSample }[] => [
    ...nodes.map((n, k) => ({ name: `node ${k}`, role: 'server' as const, sample: n.sample() })),
    { name: 'redis', role: 'broker', sample: r.sample() },
  ];
  const first = nodes[0]!;
  return {
    name: 'switchboard',
    pid: first.pid,
    host: first.host,
    port: first.port,
    path: first.path,
    command: `${CLUSTER_NODES} × \`${first.command}\` (a config file each, with store.url and broker.url); \`${r.command}\``,
    sample: () => sumSamples(parts().map((p) => p.sample)),
    sampleParts: parts,
    route: (conns: ConnSpec[]) =>
      conns.map((c, i) => {
        const k = nodeOfConnection(i);
        return { ...c, port: nodes[k]!.port, node: k };
      }),
    problems: () => [...nodes.flatMap((n, k) => n.problems().map((p) => `node ${k}: ${p}`)), ...r.problems()],
    exited: () => nodes.some((n) => n.exited()) || r.exited(),
    storedMessages: () => NaN,
    stop: stopAll,
  };
}

/** One node, then the cluster: the order every workload runs them in. */
export function clusterDeployments(infra: ClusterInfra): Deployment[] {
  return [
    { label: ONE_NODE, deploy: (opts) => oneNode(infra, opts) },
    { label: CLUSTER, deploy: (opts) => twoNodes(infra, opts) },
  ];
}
