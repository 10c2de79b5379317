/**
 * `npm run bench`: the same workloads against the naive `ws` baseline and
 * against Switchboard (started through its CLI), and on request against
 * Socket.IO 4 (a–e), one after the other on this machine, with one load
 * generator; results as ratios.
 *
 *   node dist/bench/run.js [--quick] [--only a,b] [--target both|all|switchboard,baseline,socketio]
 *                          [--out FILE] [--docs|--no-docs] [--workers N] [--no-pin]
 *                          [--in-flight N] [--body N] [--server-node-args "--cpu-prof …"]
 *   node dist/bench/run.js --cluster [--only a,b,c] …   one node against two nodes + Redis (bench/cluster.ts)
 *   node dist/bench/run.js --wire [--variants baseline,lean,…] …   what the wire costs a receiver (bench/wire.ts)
 */
import { mkdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { CLUSTER_NODES, CLUSTER_WORKLOADS, DEFAULT_PG_URL, clusterDeployments, clusterInfra, redactUrl, type ClusterInfra, type Deployment } from './cluster.js';
import { clusterComparisons, clusterTargets } from './cluster-report.js';
import { LoadPool } from './load/pool.js';
import { gitState, hasTaskset, pinGenerator } from './machine.js';
import { evaluateTargets, markdown, updateDocs, writeJson, type BenchResults } from './report.js';
import { REPO_ROOT, TARGET_NAMES, mergeConfig, switchboardBenchConfig, type TargetName } from './server.js';
import { WIRE_MEMBERS, WIRE_VARIANT_NAMES, wireComparison, type WireComparison } from './wire.js';
import { wireMarkdown } from './wire-report.js';
import { postgresProblem } from './workload-durable-pg.js';
import { ALL_WORKLOADS as WORKLOADS, WORKLOAD_IDS } from './workload-list.js';
import type { BenchSettings, WorkloadId, WorkloadResult } from './workloads.js';

const HELP = `Usage: npm run bench -- [options]   (node dist/bench/run.js [options])

  --quick                 small smoke run (a few hundred connections, ~1 s per phase; targets are not judged)
  --only a,b,…            workloads to run (default: all, in this order): a fan-out, b saturation, c many rooms,
                          cs c in stored rooms (the default configuration; 60 s window), d DMs, e idle,
                          f durable on SQLite, fp f on PostgreSQL (--pg-url; a database of its own, dropped after),
                          g reconnect storm (e's shape in stored rooms, every socket cut at once, back with resume);
                          cs, f, fp and g run against Switchboard only
  --target T              both (default: baseline and switchboard), all (both and socketio), or a list of
                          switchboard, baseline, socketio (Socket.IO 4 with default settings; a–e only)
  --out FILE              JSON result file (default bench/results/latest.json; --quick: a temp file)
  --docs / --no-docs      update docs/benchmarks.md (default: only for a full run of everything)
  --workers N             load-generator worker threads (default: the generator's cores)
  --no-pin                do not pin the server to CPU 0 and the generator to the other CPUs
  --in-flight N           connection handshakes in flight at once (default 256)
  --body N                message body length in characters (default 48)
  --quiet-wait S          before each measurement, wait up to S seconds for other processes to go quiet
                          (default 120; --quick: 0); a disturbed window is measured again (3 times at most)
  --switchboard-config F  JSON merged over Switchboard's bench config (e.g. {"rooms":{"rules":[…]}})
  --rates R1,R2,…         f, fp: publish rates (msg/s) to step through instead of the standard steps
  --f-cpus LIST           f: CPUs for the server (taskset list, e.g. 0); default: every CPU when pinning
  --f-keys                f: every publish carries an idempotency key (the SDK always sends one)
  --server-node-args S    extra node flags for the server process, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"
  --soak S                a, c, cs, d: measure for S seconds instead of 10 (cs: 60), to see whether memory keeps growing
  --server-cpus LIST      CPUs for the server(s) when pinning (taskset list; default 0)

  --cluster               Switchboard only, deployed two ways for each workload (default a,b,c; only these):
                          one node, then ${CLUSTER_NODES} nodes joined by a Redis the harness starts, both on PostgreSQL;
                          reports CPU per delivery (the cluster's: nodes + Redis) and the cross-node hop's latency.
                          Results to bench/results/cluster.json; docs/benchmarks.md is not rewritten.
  --pg-url URL            fp and --cluster: PostgreSQL to create the databases in (default ${DEFAULT_PG_URL},
                          or SWITCHBOARD_BENCH_PG_URL); --quick skips fp when it is unreachable, unless CI=true
  --redis-server PATH     --cluster: the redis-server binary (default redis-server on PATH)

  --wire                  what the wire costs a receiver (issue #19): one room of ${WIRE_MEMBERS}, the receiving generator decodes
                          every message; the bare-body baseline, then Switchboard's v1 JSON, lean JSON (switchboard.v2.json)
                          and Protobuf (switchboard.v2.proto), each also with permessage-deflate; each climbs a ladder of rates.
                          Results to bench/results/wire.json; docs/benchmarks.md is not rewritten.
  --variants LIST         --wire: which of ${WIRE_VARIANT_NAMES.join(',')} (default all, in that order),
                          measured in the order given (the baseline first)
  --wire-rate R           --wire: compare at R msg/s instead of the baseline's highest (for runs without the baseline)
`;

interface Args {
  quick: boolean;
  only: WorkloadId[];
  targets: TargetName[];
  out: string | null;
  docs: boolean | null;
  workers: number | null;
  pin: boolean | null;
  inFlight: number;
  body: number;
  serverNodeArgs: string[];
  quietWait: number | null;
  switchboardConfig: Record<string, unknown>;
  rates: number[] | null;
  fCpus: string | null;
  fKeys: boolean;
  soak: number | null;
  serverCpus: string | null;
  cluster: boolean;
  wire: boolean;
  variants: string[];
  wireRate: number | null;
  pgUrl: string;
  redisServer: string;
  /** Options given that --cluster does not take. */
  notForCluster: string[];
}

function parse(argv: string[]): Args {
  const a: Args = { quick: false, only: WORKLOAD_IDS, targets: ['baseline', 'switchboard'], out: null, docs: null, workers: null, pin: null, inFlight: 256, body: 48, serverNodeArgs: [], quietWait: null, switchboardConfig: {}, rates: null, fCpus: null, fKeys: false, soak: null, serverCpus: null, cluster: false, wire: false, variants: WIRE_VARIANT_NAMES, wireRate: null, pgUrl: process.env['SWITCHBOARD_BENCH_PG_URL'] ?? DEFAULT_PG_URL, redisServer: 'redis-server', notForCluster: [] };
  let only: WorkloadId[] | null = null;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [name, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`${name} needs a value`);
      return v;
    };
    switch (name) {
      case '--quick':
        a.quick = true;
        break;
      case '--only':
        only = value()
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean) as WorkloadId[];
        for (const w of only) if (!WORKLOAD_IDS.includes(w)) throw new Error(`unknown workload ${w} (${WORKLOAD_IDS.join(', ')})`);
        break;
      case '--cluster':
        a.cluster = true;
        break;
      case '--wire':
        a.wire = true;
        break;
      case '--variants':
        a.variants = value()
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
        for (const v of a.variants) if (!WIRE_VARIANT_NAMES.includes(v)) throw new Error(`unknown variant ${v} (${WIRE_VARIANT_NAMES.join(', ')})`);
        break;
      case '--wire-rate':
        a.wireRate = Math.max(1, Number(value()));
        break;
      case '--pg-url':
        a.pgUrl = value();
        break;
      case '--redis-server':
        a.redisServer = value();
        break;
      case '--server-cpus':
        a.serverCpus = value();
        break;
      case '--target': {
        a.notForCluster.push(name);
        const t = value();
        if (t === 'both') a.targets = ['baseline', 'switchboard'];
        else if (t === 'all') a.targets = [...TARGET_NAMES];
        else {
          const list = t.split(',').map((s) => s.trim()).filter(Boolean);
          for (const x of list) if (!(TARGET_NAMES as string[]).includes(x)) throw new Error(`--target is both, all, or a list of ${TARGET_NAMES.join(', ')}`);
          // Always in the same order (the baseline first), whatever order the list gives.
          a.targets = TARGET_NAMES.filter((x) => list.includes(x));
        }
        break;
      }
      case '--out':
        a.out = value();
        break;
      case '--docs':
        a.notForCluster.push(name);
        a.docs = true;
        break;
      case '--no-docs':
        a.docs = false;
        break;
      case '--workers':
        a.workers = Math.max(1, Number(value()));
        break;
      case '--pin':
        a.pin = true;
        break;
      case '--no-pin':
        a.pin = false;
        break;
      case '--in-flight':
        a.inFlight = Math.max(1, Number(value()));
        break;
      case '--body':
        a.body = Math.max(17, Number(value()));
        break;
      case '--switchboard-config':
        a.switchboardConfig = JSON.parse(readFileSync(value(), 'utf8')) as Record<string, unknown>;
        break;
      case '--rates':
        a.rates = value()
          .split(',')
          .map(Number)
          .filter((r) => r > 0);
        break;
      case '--f-cpus':
        a.fCpus = value();
        break;
      case '--f-keys':
        a.fKeys = true;
        break;
      case '--soak':
        a.soak = Math.max(1, Number(value()));
        break;
      case '--quiet-wait':
        a.quietWait = Math.max(0, Number(value()));
        break;
      case '--server-node-args':
        a.serverNodeArgs = value().split(/\s+/).filter(Boolean);
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
  if (a.cluster) {
    if (a.notForCluster.length) throw new Error(`--cluster does not take ${a.notForCluster.join(', ')}`);
    for (const w of only ?? []) if (!CLUSTER_WORKLOADS.includes(w)) throw new Error(`--cluster runs ${CLUSTER_WORKLOADS.join(', ')} only, not ${w}`);
    a.targets = ['switchboard'];
    a.docs = false;
  }
  if (a.wire) {
    if (a.cluster || only) throw new Error('--wire takes neither --cluster nor --only (see --variants)');
    a.docs = false;
  }
  a.only = only ?? (a.cluster ? CLUSTER_WORKLOADS : WORKLOAD_IDS);
  return a;
}

function openFilesLimit(): number | null {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return m ? (m[1] === 'unlimited' ? Infinity : Number(m[1])) : null;
  } catch {
    return null;
  }
}

async function main(): Promise<void> {
  const args = parse(process.argv.slice(2));
  const started = performance.now();
  const log = (line: string): void => void process.stderr.write(line + '\n');

  // The server and the generator each hold one socket per connection; both inherit this limit.
  const limit = openFilesLimit();
  const needed = (args.wire ? WIRE_MEMBERS : Math.max(...args.only.map((w) => WORKLOADS[w].connections(args.quick)))) + 200;
  if (limit !== null && limit < needed) throw new Error(`open files limit is ${limit}, the workloads need ${needed}: raise it (ulimit -n ${needed}) or run fewer (--only)`);

  const cpus = os.availableParallelism();
  const pin = args.pin ?? (!args.quick && cpus >= 2 && hasTaskset());
  let serverCpus: string | null = null;
  let generatorCpus: string | null = null;
  let genCores = cpus;
  if (pin) {
    if (cpus < 2 || !hasTaskset()) throw new Error('--pin needs taskset and at least 2 CPUs');
    serverCpus = args.serverCpus ?? '0';
    ({ generatorCpus, genCores } = pinGenerator(cpus));
  }
  const workers = args.workers ?? Math.max(1, pin ? genCores : cpus - 1);
  const out =
    args.out ??
    (args.quick
      ? join(os.tmpdir(), `switchboard-bench-${args.cluster ? 'cluster-' : args.wire ? 'wire-' : ''}quick.json`)
      : join(REPO_ROOT, 'bench', 'results', args.cluster ? 'cluster.json' : args.wire ? 'wire.json' : 'latest.json'));
  const fullRun = !args.quick && args.soak === null && args.only.length === WORKLOAD_IDS.length && args.targets.includes('baseline') && args.targets.includes('switchboard');
  const docs = args.docs ?? fullRun;

  const settings: BenchSettings = {
    quick: args.quick,
    bodyChars: args.body,
    inFlight: args.inFlight,
    serverCpus,
    generatorCpus,
    durableServerCpus: args.fCpus ?? (pin ? `0-${cpus - 1}` : null),
    nodeArgs: args.serverNodeArgs,
    switchboardConfig: args.switchboardConfig,
    genCores,
    quietWaitMs: (args.quietWait ?? (args.quick ? 0 : 120)) * 1000,
    // A soak is about memory: a CPU stall somewhere in minutes of window is no reason to measure it all again.
    retries: args.quick || args.soak !== null ? 0 : 3,
    durableRates: args.rates,
    durableKeys: args.fKeys,
    soakMs: args.soak === null ? null : args.soak * 1000,
    pgUrl: args.pgUrl,
  };
  // A smoke run on a machine without PostgreSQL still runs the rest; CI and a full run must have it (fp then fails).
  if (args.quick && args.only.includes('fp') && process.env['CI'] !== 'true') {
    const problem = await postgresProblem(args.pgUrl);
    if (problem) {
      log(`skipping fp: ${problem}`);
      args.only = args.only.filter((w) => w !== 'fp');
    }
  }
  // --cluster: Redis and PostgreSQL must be there before anything starts.
  const infra: ClusterInfra | null = args.cluster ? await clusterInfra(args.pgUrl, args.redisServer) : null;
  const pool = new LoadPool(workers);
  const results: WorkloadResult[] = [];
  let wire: WireComparison | null = null;
  log(
    `switchboard bench${args.quick ? ' (quick)' : ''}: ${args.wire ? '' : `workloads ${args.only.join(',')}, `}` +
      (args.wire ? `wire: ${args.variants.join(',')}` : infra ? `Switchboard on 1 node, then ${CLUSTER_NODES} nodes + Redis ${infra.redisVersion}, on PostgreSQL ${infra.pgVersion} (${redactUrl(infra.pgAdminUrl)})` : `targets ${args.targets.join(',')}`) +
      `, ${workers} load worker(s)` +
      (pin ? `, server${infra ? 's and Redis' : ''} on CPU ${serverCpus}, generator on CPU ${generatorCpus}` : ', no pinning'),
  );
  try {
    if (args.wire) wire = await wireComparison({ settings, pool, log }, { variants: args.variants, compareRate: args.wireRate });
    for (const w of args.wire ? [] : args.only) {
      // What runs, in order: each target as one process; or (--cluster) Switchboard one node, then the cluster.
      const runs: { target: TargetName; deployment?: Deployment }[] = infra
        ? clusterDeployments(infra).map((deployment) => ({ target: 'switchboard' as const, deployment }))
        : args.targets.filter((t) => WORKLOADS[w].targets?.includes(t) ?? true).map((target) => ({ target }));
      for (const { target, deployment } of runs) {
        const label = deployment ? `${target} (${deployment.label})` : target;
        const ctx = { settings, pool, log, ...(deployment ? { deploy: deployment.deploy } : {}) };
        log(`[${w}] ${WORKLOADS[w].title(args.quick)} — ${label}`);
        const t0 = performance.now();
        try {
          // A watchdog: a stuck workload fails the run's entry for it instead of hanging the run.
          const limitMs = args.quick ? 90_000 : 15 * 60_000;
          let timer: NodeJS.Timeout | undefined;
          const watchdog = new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`workload did not finish in ${limitMs / 1000} s`)), limitMs);
          });
          try {
            const r = await Promise.race([WORKLOADS[w].run(ctx, target), watchdog]);
            if (deployment) r.deployment = deployment.label;
            results.push(r);
          } finally {
            clearTimeout(timer);
          }
        } catch (err) {
          log(`    FAILED: ${(err as Error).stack ?? String(err)}`);
          results.push({
            workload: w,
            title: WORKLOADS[w].title(args.quick),
            target,
            ...(deployment ? { deployment: deployment.label } : {}),
            serverCommand: '',
            connections: WORKLOADS[w].connections(args.quick),
            connect: { connections: 0, failed: 0, seconds: NaN, firstErrors: [], serverCpuMs: NaN, generatorCpuMs: NaN, otherCpuCores: NaN },
            rssEmptyMb: NaN,
            rssMb: NaN,
            rssPerConnKb: NaN,
            phase: null,
            generatorLimited: false,
            disturbed: false,
            calibration: { serverCpuNs: NaN, generatorCpuNs: NaN },
            ok: false,
            failures: [`harness error: ${(err as Error).message}`],
            serverProblems: [],
            seconds: (performance.now() - t0) / 1000,
          });
          await pool.close().catch(() => {});
        }
      }
    }
  } finally {
    await pool.terminate();
  }

  const extra = process.argv.slice(2).join(' ');
  const viaNpm = process.env.npm_lifecycle_event === 'bench';
  const res: BenchResults = {
    meta: {
      command: viaNpm ? `npm run bench${extra ? ` -- ${extra}` : ''}` : `node dist/bench/run.js${extra ? ` ${extra}` : ''}`,
      date: new Date().toISOString().slice(0, 10),
      git: gitState(),
      machine: {
        cpus,
        cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
        memoryGiB: os.totalmem() / 2 ** 30,
        node: process.version,
        os: `${os.type()} ${os.release()}`,
        openFilesLimit: limit === Infinity ? null : limit,
      },
      options: {
        ...(infra ? { cluster: { nodes: CLUSTER_NODES, redisVersion: infra.redisVersion, postgresVersion: infra.pgVersion, postgres: redactUrl(infra.pgAdminUrl) } } : {}),
        ...(args.wire ? { wire: { variants: args.variants, compareRate: args.wireRate } } : {}),
        quietWaitSeconds: settings.quietWaitMs / 1000, quick: args.quick, only: args.only, targets: args.targets, workers, serverCpus, generatorCpus, bodyChars: args.body, inFlight: args.inFlight, serverNodeArgs: args.serverNodeArgs, durableKeys: args.fKeys, soakSeconds: args.soak },
      switchboardConfig: mergeConfig(switchboardBenchConfig('<connections + 100>'), args.switchboardConfig),
      durationSeconds: (performance.now() - started) / 1000,
    },
    results,
    // A --quick run is a smoke test, far too small and short for the goals: they are judged on full runs only.
    targets: args.quick || wire ? [] : infra ? clusterTargets(clusterComparisons(results)) : evaluateTargets(results),
    ...(infra ? { cluster: clusterComparisons(results) } : {}),
    ...(wire ? { wire } : {}),
  };
  mkdirSync(dirname(out), { recursive: true });
  writeJson(out, res);
  const md = wire ? wireMarkdown(res.meta, wire) : markdown(res);
  process.stdout.write(md + '\n');
  log(`results: ${out}`);
  if (docs) {
    updateDocs(join(REPO_ROOT, 'docs', 'benchmarks.md'), md);
    log('updated docs/benchmarks.md');
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench: ${(err as Error).message ?? String(err)}\n`);
    process.exit(1);
  },
);
