/**
 * fp: f against PostgreSQL (issue #20) — the same connections, rooms and rate
 * steps as f, with Switchboard's store on a PostgreSQL database of its own
 * (created for the run on the server at --pg-url, dropped after it).
 *
 * PostgreSQL does in its own processes what the SQLite store does in a thread
 * of the server: its CPU is part of what a persisted message costs, and left
 * out it would also count as "other processes" and mark every step disturbed.
 * So the target's CPU is Switchboard's plus that of the PostgreSQL processes
 * that work for it: the backends connected to its database, and the WAL
 * writer, checkpointer, background writer and autovacuum workers (shared by
 * the whole PostgreSQL server: whatever else uses it at the time is counted
 * too). PostgreSQL's memory is not counted (its shared buffers would be
 * counted once per process). Only a PostgreSQL on this machine can be
 * counted; a remote one's CPU is missing from the figures.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { createDatabase, redactUrl } from './cluster.js';
import { sumSamples } from './measure.js';
import { sampleProc, type ProcSample } from './proc.js';
import { mergeConfig, startTarget, type PartRole, type RunningTarget, type ServerOptions, type TargetName } from './server.js';
import { durable, type Context, type DurableVariant, type WorkloadResult } from './workloads.js';

/** The PostgreSQL target: this many persisted messages per second at ack p99 ≤ 20 ms. */
export const FP_TARGET_RATE = 5_000;

const FP: DurableVariant = { id: 'fp', store: 'PostgreSQL', rates: [1_000, 2_500, FP_TARGET_RATE, 10_000, 15_000, 20_000], targetRate: FP_TARGET_RATE };

/** Null when PostgreSQL answers at `adminUrl`; otherwise why not. */
export async function postgresProblem(adminUrl: string): Promise<string | null> {
  const c = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 3000 });
  try {
    await c.connect();
    await c.query('SELECT 1');
    return null;
  } catch (err) {
    return `PostgreSQL not reachable at ${redactUrl(adminUrl)}: ${(err as Error).message}`;
  } finally {
    await c.end().catch(() => {});
  }
}

export async function durableOnPostgres(ctx: Context, target: TargetName): Promise<WorkloadResult> {
  const problem = await postgresProblem(ctx.settings.pgUrl);
  if (problem) throw new Error(`${problem} (pass --pg-url URL)`);
  return durable({ ...ctx, deploy: (opts) => onPostgres(ctx.settings.pgUrl, opts) }, target, FP);
}

/** Switchboard on a fresh database; its CPU counted with PostgreSQL's (see above). */
async function onPostgres(adminUrl: string, opts: ServerOptions): Promise<RunningTarget> {
  const db = await createDatabase(adminUrl);
  let cpu: PostgresCpu | null = null;
  try {
    const t = await startTarget({ ...opts, configOverrides: mergeConfig(opts.configOverrides ?? {}, { store: { url: db.url } }) });
    cpu = await PostgresCpu.watch(adminUrl, db.name);
    const pgCpu = cpu;
    const parts = (): { name: string; role: PartRole; sample: ProcSample }[] => [
      { name: 'switchboard', role: 'server', sample: t.sample() },
      { name: 'postgresql', role: 'store', sample: pgCpu.sample() },
    ];
    return {
      ...t,
      command: `${t.command} (store.url: a fresh PostgreSQL database)`,
      sample: () => sumSamples(parts().map((p) => p.sample)),
      sampleParts: parts,
      storedMessages: () => countMessages(db.url),
      stop: async () => {
        pgCpu.stop();
        await t.stop();
        await db.drop();
      },
    };
  } catch (err) {
    cpu?.stop();
    await db.drop();
    throw err;
  }
}

/** Rows in the messages table, by psql (storedMessages() is synchronous); NaN without psql. */
function countMessages(url: string): number {
  const r = spawnSync('psql', ['-tAc', 'SELECT count(*) FROM messages', url], { encoding: 'utf8', timeout: 30_000 });
  return r.status === 0 ? Number(r.stdout.trim()) : NaN;
}

/**
 * The pid is a PostgreSQL process on this machine. A server elsewhere (another host, a container with its own
 * pids) reports pids that here are nobody's, or someone else's: those are not counted.
 */
function isLocalPostgres(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'latin1').startsWith('postgres');
  } catch {
    return false;
  }
}

/** PostgreSQL's own background processes that work for every database. */
const SHARED_BACKENDS = ['walwriter', 'checkpointer', 'background writer', 'autovacuum worker'];

/**
 * CPU of the PostgreSQL processes that serve one database. Which processes those are is looked up every
 * second (a pool may open a connection later, an autovacuum worker comes and goes); a process that is gone
 * keeps the CPU it had, so that the sum never goes back. Needs PostgreSQL on this machine (its /proc).
 */
class PostgresCpu {
  private readonly cpuMs = new Map<number, number>();
  private timer: NodeJS.Timeout | null = null;

  private constructor(
    private readonly client: pg.Client,
    private readonly dbName: string,
  ) {}

  static async watch(adminUrl: string, dbName: string): Promise<PostgresCpu> {
    const c = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5000 });
    await c.connect();
    const w = new PostgresCpu(c, dbName);
    await w.refresh();
    w.timer = setInterval(() => void w.refresh().catch(() => {}), 1000);
    w.timer.unref();
    return w;
  }

  private async refresh(): Promise<void> {
    const res = await this.client.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1 OR backend_type = ANY($2)', [this.dbName, SHARED_BACKENDS]);
    for (const { pid } of res.rows) if (!this.cpuMs.has(pid) && isLocalPostgres(pid)) this.cpuMs.set(pid, this.read(pid) ?? 0);
  }

  private read(pid: number): number | null {
    try {
      return sampleProc(pid).cpuMs;
    } catch {
      return null;
    }
  }

  sample(): ProcSample {
    let cpuMs = 0;
    for (const [pid, last] of this.cpuMs) {
      const now = this.read(pid) ?? last;
      this.cpuMs.set(pid, now);
      cpuMs += now;
    }
    return { cpuMs, rssKb: 0, hwmKb: 0, at: performance.now() };
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    void this.client.end().catch(() => {});
  }
}
