// test-encodings: json proto lean
/**
 * Several processes: `--workers N` (a supervisor and N workers on one port, through a broker and PostgreSQL),
 * the deployments that are refused before anything opens (exit code 2, saying why and what to use), and one
 * SQLite file, one process. The two-worker test needs Redis (127.0.0.1:6379, or SWITCHBOARD_TEST_REDIS_URL) and
 * PostgreSQL: under CI=true they must be there, elsewhere it is skipped with a message. It does not depend on
 * messages crossing from one worker to another (the cluster tests cover that).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { closeAllClients, connectUser } from '../helpers/client.js';
import { createTestDatabase } from '../helpers/postgres.js';
import { runCli, startServer, tempDataDir, type TestServer } from '../helpers/server.js';

const REDIS_URL = process.env['SWITCHBOARD_TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';
/** A PostgreSQL URL nothing listens on: the refusals come before the store is opened, so it is never dialled. */
const NO_PG = 'postgres://postgres@127.0.0.1:1/none';

/** One folder for the file's tests (removed when the test process exits), a fresh one inside it for each store. */
const BASE = tempDataDir();

/** Fresh store and uploads paths, and the flags for them. */
function sqliteIn(): { db: string; flags: string[] } {
  const dir = mkdtempSync(join(BASE, 'store-'));
  const db = join(dir, 'switchboard.db');
  return { db, flags: ['--store.file', db, '--uploads.dir', join(dir, 'uploads')] };
}

/** Whether a process with this pid still exists. */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/** Why Redis cannot be used (null: it answers PING). Under CI=true its absence is an error. */
async function redisMissing(): Promise<string | null> {
  const u = new URL(REDIS_URL);
  const why = await new Promise<string | null>((resolve) => {
    const socket = connect({ host: u.hostname, port: Number(u.port || 6379) });
    const done = (reason: string | null): void => {
      socket.destroy();
      resolve(reason);
    };
    socket.setTimeout(2_000, () => done('no answer within 2 s'));
    socket.once('error', (err) => done(err.message));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (d) => done(/^\+PONG|^-NOAUTH/.test(d.toString()) ? null : `unexpected answer ${JSON.stringify(d.toString())}`));
  });
  if (why === null) return null;
  const msg = `Redis not reachable at ${REDIS_URL}: ${why}`;
  if (process.env['CI'] === 'true') throw new Error(`${msg} (CI=true: the workers test must run)`);
  console.warn(`skipping the workers test: ${msg}`);
  return msg;
}

describe('deployments refused before anything opens (exit code 2)', () => {
  const refused = async (args: string[], env: Record<string, string>, patterns: RegExp[]): Promise<void> => {
    const { db, flags } = sqliteIn();
    const r = await runCli(['--port', '0', ...flags, ...args], { env, timeoutMs: 30_000 });
    const what = `${args.join(' ')} ${JSON.stringify(env)}: exit ${r.code}\nstderr:\n${r.stderr}`;
    assert.equal(r.code, 2, what);
    for (const re of patterns) assert.match(r.stderr, re, what);
    assert.equal(r.stdout.includes('listening'), false, what);
    assert.equal(existsSync(db), false, `nothing opened: ${db}`);
    assert.equal(existsSync(`${db}.lock`), false, 'nothing locked');
  };

  it('workers without a broker: they would share nothing', async () => {
    const why = [/server\.workers is 2 but broker\.url is not set/, /would not share messages, sessions or presence/, /redis:\/\/host:6379.*nats:\/\/host:4222/];
    await Promise.all([
      refused(['--workers', '2', '--store.url', NO_PG], {}, why),
      refused(['--server.workers', '2', '--store.url', NO_PG], {}, why),
      refused(['--store.url', NO_PG], { SWITCHBOARD_SERVER_WORKERS: '2' }, why),
    ]);
  });

  it('workers: auto is one per core, refused without a broker where that is more than one', async (t) => {
    if (availableParallelism() < 2) return t.skip('one core here: auto is one process, which needs no broker');
    await refused(['--workers', 'auto', '--store.url', NO_PG], {}, [new RegExp(`server\\.workers is auto \\(${availableParallelism()} on this machine`), /broker\.url is not set/]);
  });

  it('workers or a broker with the embedded SQLite store: each node would keep its own file', async () => {
    const why = [/embedded SQLite file \(store\.file: .*switchboard\.db\)/, /each node would number and keep messages on its own file/, /Use PostgreSQL \(store\.url postgres:\/\//];
    await Promise.all([
      refused(['--workers', '2', '--broker.url', REDIS_URL], {}, [/server\.workers is 2/, ...why]),
      refused(['--broker.url', 'nats://127.0.0.1:4222'], {}, [/broker\.url is set/, ...why]),
      refused([], { SWITCHBOARD_BROKER_URL: REDIS_URL }, [/broker\.url is set/, ...why]),
    ]);
  });

  it('both at once are both said', async () => {
    await refused(['--workers', '3'], {}, [/cannot run as configured/, /broker\.url is not set/, /Use PostgreSQL \(store\.url/]);
  });

  it('memory:// joins the nodes of one process, not workers', async () => {
    await refused(['--workers', '2', '--broker.url', 'memory://', '--store.url', NO_PG], {}, [/broker\.url is memory:\/\//, /separate processes/, /Redis|NATS/]);
  });

  it('a worker count that is neither a number from 1 to 256 nor auto, from a flag, the environment or the file', async () => {
    const file = join(mkdtempSync(join(BASE, 'config-')), 'switchboard.json');
    writeFileSync(file, JSON.stringify({ server: { workers: 'many' } }));
    const expected = /server\.workers: expected "auto" or a whole number from 1 to 256/;
    await Promise.all([
      refused(['--workers', 'lots'], {}, [expected, /not "lots"/, /flag --server\.workers/]),
      refused(['--workers', '0'], {}, [expected, /not 0/]),
      refused(['--workers', '2.5'], {}, [expected, /not 2\.5/]),
      refused(['--workers', '1000'], {}, [expected, /not 1000/]),
      refused([], { SWITCHBOARD_SERVER_WORKERS: 'two' }, [expected, /SWITCHBOARD_SERVER_WORKERS/]),
      refused(['--config', file], {}, [expected, /not "many"/, /config file/]),
    ]);
  });

  it('--print-config shows auto, a number, and the broker URL without its password', async () => {
    const print = async (args: string[], env: Record<string, string> = {}) => {
      const r = await runCli(['--print-config', ...args], { env, timeoutMs: 30_000 });
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout) as { server: { workers: unknown }; broker: { url?: string } };
    };
    const [auto, four, fromEnv, masked] = await Promise.all([
      print(['--workers', 'auto']),
      print(['--workers', '4']),
      print([], { SWITCHBOARD_SERVER_WORKERS: 'auto' }),
      print(['--broker.url', 'redis://:hunter2@redis.internal:6379']),
    ]);
    assert.equal(auto.server.workers, 'auto');
    assert.equal(four.server.workers, 4);
    assert.equal(fromEnv.server.workers, 'auto');
    assert.equal(masked.broker.url, 'redis://:***@redis.internal:6379');
  });

  it('--help lists --workers', async () => {
    const r = await runCli(['--help'], { timeoutMs: 30_000 });
    assert.match(r.stdout, /--workers N\|auto/);
    assert.match(r.stdout, /--server\.workers +SWITCHBOARD_SERVER_WORKERS +1/);
  });
});

describe('a supervisor whose workers cannot start', () => {
  it('stops with code 2 at once when a worker refuses the configuration', async () => {
    const { flags } = sqliteIn();
    // Passes the command's checks; the key file is read by each worker's server at its start.
    const r = await runCli(['--port', '0', ...flags, '--workers', '2', '--broker.url', REDIS_URL, '--store.url', NO_PG, '--auth.jwt.publicKey', '/nonexistent/key.pem'], {
      timeoutMs: 30_000,
    });
    assert.equal(r.code, 2, `exit ${r.code}\n${r.stderr}`);
    assert.match(r.stderr, /auth\.jwt\.publicKey/);
    assert.match(r.stdout, /a worker refused the configuration/);
    assert.doesNotMatch(r.stdout, /worker exited unexpectedly/);
  });

  it('gives up with code 1 when workers keep dying as they start (5 in a row), restarting them meanwhile after 1 s, then 2 s', async () => {
    const { flags } = sqliteIn();
    // Nothing listens there: every worker's start fails at its store (exit code 1).
    const r = await runCli(['--port', '0', ...flags, '--workers', '2', '--broker.url', REDIS_URL, '--store.url', NO_PG], { timeoutMs: 60_000 });
    assert.equal(r.code, 1, `exit ${r.code}\n${r.stderr}`);
    const lines = r.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const restarts = lines.filter((l) => l.msg === 'worker exited unexpectedly: starting another');
    assert.equal(restarts.length, 4, JSON.stringify(restarts));
    assert.deepEqual(
      restarts.map((l) => l.restartInMs).sort(),
      [1000, 1000, 2000, 2000],
      'each slot waits 1 s, then 2 s',
    );
    assert.ok(lines.some((l) => l.level === 60 && /keep dying within 10 s of starting \(5 in a row\)/.test(String(l.msg))));
    assert.match(r.stderr, /cannot start: cannot open the store/);
  });
});

describe('workers on one port (Redis, PostgreSQL)', () => {
  it('two workers share the port and take connections; a killed worker is replaced; SIGTERM stops them all, exit 0', async (t) => {
    if (await redisMissing()) return t.skip('Redis is not reachable');
    const db = await createTestDatabase();
    if (!db) return t.skip('PostgreSQL is not reachable');
    // After-hooks run in registration order: on success the processes have stopped by then; after a failure
    // DROP … WITH (FORCE) cuts a worker off (the helper's after-hook then kills the supervisor, and its workers go with it).
    t.after(() => db.drop());
    t.after(closeAllClients);
    const dir = mkdtempSync(join(BASE, 'workers-'));
    const prefix = `sbtest-${process.pid}-${randomBytes(3).toString('hex')}`;
    const srv: TestServer = await startServer(
      ['--workers', '2', '--broker.url', REDIS_URL, '--broker.prefix', prefix, '--store.url', db.url, '--uploads.dir', join(dir, 'uploads'), '--auth.dev', 'true', '--log.level', 'debug'],
      { t, timeoutMs: 30_000 },
    );
    const supervisor = srv.proc.pid!;
    // ── both workers listen, on the one port ───────────────────────────────────
    const first = await srv.waitForLog((l) => l.msg === 'switchboard listening');
    const second = await srv.waitForLog((l) => l.msg === 'switchboard listening' && l.pid !== first.pid, { timeoutMs: 30_000 });
    const pids = [first.pid as number, second.pid as number];
    assert.notEqual(pids[0], pids[1]);
    assert.ok(!pids.includes(supervisor), 'the supervisor serves nothing itself');
    assert.deepEqual(new Set([first.worker, second.worker]), new Set([1, 2]), 'each worker says which it is in its lines');
    assert.equal(second.url, first.url, 'port 0: every worker on the same port');
    const announced = await srv.waitForLog((l) => l.msg === 'workers listening');
    assert.equal(announced.pid, supervisor);
    assert.equal(announced.url, first.url);
    assert.equal(announced.workers, 2);
    for (const pid of pids) assert.ok(srv.logs().some((l) => l.msg === 'worker started' && l.workerPid === pid && l.pid === supervisor));

    /** Connects users until one of them has a session on each of `want`; returns the pid each user landed on. */
    const spread = async (tag: string, want: number[]): Promise<Map<string, number>> => {
      const where = new Map<string, number>();
      for (let i = 0; i < 12 && !want.every((p) => [...where.values()].includes(p)); i++) {
        const user = `${tag}${i}`;
        await connectUser(srv.wsUrl, user);
        const line = await srv.waitForLog((l) => l.msg === 'session open' && l.user === user);
        where.set(user, line.pid as number);
      }
      return where;
    };
    const landed = await spread('u', pids);
    assert.deepEqual(new Set(landed.values()), new Set(pids), `sessions on both workers: ${JSON.stringify([...landed])}`);

    // ── SIGHUP is passed on, and kills no worker ──────────────────────────────
    srv.proc.kill('SIGHUP');
    const hup = await srv.waitForLog((l) => l.msg === 'SIGHUP passed on to the workers');
    assert.deepEqual(hup.workers, [1, 2]);
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(pids.every(running), 'both workers still run after SIGHUP');

    // ── a worker killed with SIGKILL is replaced ─────────────────────────────
    const victim = second;
    process.kill(victim.pid as number, 'SIGKILL');
    const death = await srv.waitForLog((l) => l.msg === 'worker exited unexpectedly: starting another' && l.workerPid === victim.pid);
    assert.equal(death.signal, 'SIGKILL');
    assert.equal(death.worker, victim.worker);
    assert.equal(death.restartInMs, 1000);
    const restarted = await srv.waitForLog((l) => l.msg === 'worker started' && l.worker === victim.worker && l.workerPid !== victim.pid, { timeoutMs: 10_000 });
    const newPid = restarted.workerPid as number;
    const back = await srv.waitForLog((l) => l.msg === 'switchboard listening' && l.pid === newPid, { timeoutMs: 30_000 });
    assert.equal(back.url, first.url, 'the new worker listens on the same port');
    assert.equal(back.worker, victim.worker);
    const after = await spread('v', [newPid]);
    assert.ok([...after.values()].includes(newPid), `the new worker takes sessions: ${JSON.stringify([...after])}`);
    assert.equal(running(pids[0]!), true, 'the other worker was left alone');

    // ── SIGTERM to the supervisor stops every worker, exit 0 ───────────────────
    closeAllClients();
    const code = await srv.stop(40_000);
    assert.equal(code, 0, `exit code\nstderr:\n${srv.stderr()}\nstdout:\n${srv.stdout().slice(-3000)}`);
    const live = [pids[0]!, newPid];
    for (const pid of live) assert.ok(srv.logs().some((l) => l.msg === 'worker stopped' && l.workerPid === pid && l.code === 0), `worker ${pid} stopped cleanly`);
    for (const pid of live) assert.ok(srv.logs().some((l) => l.msg === 'stopped' && l.pid === pid), `worker ${pid} ran its graceful stop`);
    assert.ok(srv.logs().some((l) => l.msg === 'all workers stopped' && l.code === 0));
    for (const pid of [...pids, newPid]) assert.equal(running(pid), false, `no worker left behind (pid ${pid})`);
  });
});

describe('one SQLite file, one process', { concurrency: true }, () => {
  it('a second process on the same file is refused, naming the file and the pid that holds it; the lock goes with the first', async (t) => {
    const { db, flags } = sqliteIn();
    const first = await startServer(['--auth.dev', 'true', ...flags], { t });
    assert.equal(JSON.parse(readFileSync(`${db}.lock`, 'utf8')).pid, first.proc.pid);
    const second = await runCli(['--port', '0', '--auth.dev', 'true', '--store.file', db, '--uploads.dir', join(db, '..', 'uploads2')]);
    assert.equal(second.code, 2, `exit ${second.code}\n${second.stderr}`);
    assert.ok(second.stderr.includes(db), second.stderr);
    assert.match(second.stderr, new RegExp(`in use by another Switchboard process \\(pid ${first.proc.pid}\\b`));
    assert.match(second.stderr, /One SQLite file serves one process/);
    assert.match(second.stderr, /PostgreSQL \(store\.url\)/);
    assert.equal((await fetch(`${first.url}/healthz`)).status, 200, 'the first one serves on');
    assert.equal(await first.stop(), 0);
    assert.equal(existsSync(`${db}.lock`), false, 'a graceful stop removes the lock');
    const again = await startServer(['--auth.dev', 'true', ...flags], { t });
    assert.equal(await again.stop(), 0);
  });

  it('a lock left by a process that died (SIGKILL, or any pid no longer running) does not block a restart', async (t) => {
    const { db, flags } = sqliteIn();
    const killed = await startServer(['--auth.dev', 'true', ...flags], { t });
    killed.kill();
    await killed.exited;
    assert.equal(JSON.parse(readFileSync(`${db}.lock`, 'utf8')).pid, killed.proc.pid, 'SIGKILL left the lock behind');
    const next = await startServer(['--auth.dev', 'true', ...flags], { t });
    assert.equal(JSON.parse(readFileSync(`${db}.lock`, 'utf8')).pid, next.proc.pid, 'taken over');
    assert.equal(await next.stop(), 0);

    // A pid that has ended, and a lock file left empty (a process killed as it wrote it).
    const gone = spawn(process.execPath, ['-e', '']);
    const deadPid = gone.pid!;
    await new Promise((r) => gone.once('exit', r));
    writeFileSync(`${db}.lock`, JSON.stringify({ pid: deadPid, since: new Date().toISOString() }) + '\n');
    const third = await startServer(['--auth.dev', 'true', ...flags], { t });
    assert.equal(await third.stop(), 0);
    writeFileSync(`${db}.lock`, '');
    const old = new Date(Date.now() - 60_000);
    utimesSync(`${db}.lock`, old, old);
    const fourth = await startServer(['--auth.dev', 'true', ...flags], { t });
    assert.equal(await fourth.stop(), 0);
  });
});
