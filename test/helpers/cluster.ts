/**
 * Several real server processes ("nodes") run as one: the same PostgreSQL database of the test's own
 * (createTestDatabase) and the same Redis, under a broker prefix no other test uses, so that concurrent test
 * files never hear each other. Under CI=true a missing Redis or PostgreSQL fails the test; elsewhere it is
 * skipped with a message saying why (the convention of test/helpers/postgres.ts).
 *
 * Everything a cluster started — its processes, the clients still open, its database — goes in the test's
 * `after`, in that order (the database is dropped once no node holds a connection to it).
 */
import { createHash, randomBytes } from 'node:crypto';
import { connect as tcpConnect, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { closeAllClients } from './client.js';
import { tempDir } from './durable.js';
import { createTestDatabase, type TestDatabase } from './postgres.js';
import { startServer, type TestServer } from './server.js';

export const REDIS_URL = process.env['SWITCHBOARD_TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';

/** The server API key every cluster node accepts (scope admin: every endpoint). */
export const API_KEY = 'sbk_cluster-tests-admin-key';
const API_KEYS = JSON.stringify([{ name: 'tests', hash: createHash('sha256').update(API_KEY).digest('hex'), scopes: ['admin'] }]);

type Ctx = { after(fn: () => unknown): void };

/** Answers PING with +PONG within 3 s, or throws. */
function ping(url: string): Promise<void> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = tcpConnect({ host: u.hostname, port: Number(u.port || 6379) });
    let got = '';
    const done = (err?: Error): void => {
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve();
    };
    const timer = setTimeout(() => done(new Error('no answer to PING within 3 s')), 3_000);
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (d) => {
      got += d.toString('latin1');
      if (got.includes('\r\n')) done(got.startsWith('+PONG') ? undefined : new Error(`PING answered ${JSON.stringify(got.trim())}`));
    });
    socket.once('error', done);
  });
}

/** Whether Redis answers; false (after explaining) outside CI, a thrown error under CI=true. */
export async function redisReachable(): Promise<boolean> {
  try {
    await ping(REDIS_URL);
    return true;
  } catch (e) {
    const msg = `Redis not reachable at ${REDIS_URL}: ${(e as Error).message}`;
    if (process.env['CI'] === 'true') throw new Error(`${msg} (CI=true: the cluster tests must run)`);
    console.warn(`skipping the cluster tests: ${msg}`);
    return false;
  }
}

/** A broker prefix of this test's own (1–32 characters of A-Z a-z 0-9 _ -). */
export function uniquePrefix(): string {
  return `t${process.pid}_${randomBytes(5).toString('hex')}`;
}

export interface ClusterOptions {
  /** How many nodes (at most 3: the suite runs two files at a time on two cores). */
  nodes: number;
  /** Flags every node gets (after the cluster's own: store, broker, API key). */
  flags?: readonly string[];
  /** The broker URL node `i` is given (default: REDIS_URL for all), e.g. a `HoldingProxy` in front of Redis. */
  brokerUrl?: (i: number) => string;
}

export interface TestCluster {
  readonly nodes: TestServer[];
  readonly db: TestDatabase;
  readonly prefix: string;
  /** A server API call on node `i` (0-based), with the cluster's key. */
  api(i: number, method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }>;
}

/**
 * Starts `nodes` nodes on one fresh database and one broker prefix, together (their migrations take turns
 * under the store's lock). Null when Redis or PostgreSQL is missing outside CI: the caller skips.
 */
export async function startCluster(t: Ctx, opts: ClusterOptions): Promise<TestCluster | null> {
  if (!(await redisReachable())) return null;
  const db = await createTestDatabase();
  if (!db) return null;
  const nodes: TestServer[] = [];
  t.after(async () => {
    closeAllClients();
    for (const n of nodes) n.kill();
    await Promise.all(nodes.map((n) => n.exited));
    await db.drop();
  });
  const prefix = uniquePrefix();
  const dir = tempDir(t, 'switchboard-cluster-');
  const flags = ['--store.url', db.url, '--broker.prefix', prefix, '--api.keys', API_KEYS, ...(opts.flags ?? [])];
  const brokerUrl = opts.brokerUrl ?? (() => REDIS_URL);
  const started = await Promise.allSettled(
    Array.from({ length: opts.nodes }, (_, i) => startServer(['--broker.url', brokerUrl(i), ...flags, '--uploads.dir', join(dir, `uploads-${i}`)], { t })),
  );
  for (const r of started) if (r.status === 'fulfilled') nodes.push(r.value);
  const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return {
    nodes,
    db,
    prefix,
    async api(i, method, path, body) {
      const res = await fetch(`${nodes[i]!.url}/api/v1${path}`, {
        method,
        headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: res.status, json: (await res.json()) as Record<string, unknown> };
    },
  };
}

/**
 * A TCP proxy in front of Redis for one node that can hold back what the node sends (its publishes, and every
 * other command) while letting Redis's answers and messages through: a slow hop between that node and the
 * broker. `release()` sends what was held, in order. Closed after the test.
 */
export interface HoldingProxy {
  readonly url: string;
  hold(): void;
  release(): void;
}

export async function startHoldingProxy(t: Ctx, target = REDIS_URL): Promise<HoldingProxy> {
  const to = new URL(target);
  const sockets = new Set<Socket>();
  const held: { upstream: Socket; data: Buffer }[] = [];
  let holding = false;
  const server = createServer((client) => {
    const upstream = tcpConnect({ host: to.hostname, port: Number(to.port || 6379) });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.once('close', () => sockets.delete(s));
      s.on('error', () => s.destroy());
    }
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
    client.on('data', (data: Buffer) => (holding ? held.push({ upstream, data }) : upstream.write(data)));
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  t.after(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  const { port } = server.address() as { port: number };
  return {
    url: `redis://127.0.0.1:${port}`,
    hold: () => {
      holding = true;
    },
    release: () => {
      holding = false;
      for (const { upstream, data } of held.splice(0)) upstream.write(data);
    },
  };
}
