// test-encodings: json proto lean
/**
 * Broker failures under a cluster of real processes: two `switchboard` nodes joined through a real Redis or NATS
 * (test/helpers/broker-process.ts, started on a free port, SIGKILLed and restarted on the same port), sharing a
 * PostgreSQL database of the test's own. Each test runs once per broker (the BROKERS table).
 *
 * - The broker crashes mid-traffic: publishes keep being acknowledged (the store works), /readyz says 503 naming
 *   the broker while it is down and 200 once the nodes are back; every member on both nodes receives every
 *   stored message exactly once, in seq order (what the broker lost is read from the store), and resends with the
 *   same keys are duplicates, not new messages.
 * - One node is cut from the broker (a TCP proxy the test controls): that node alone says 503, its local
 *   sessions go on among themselves, after the lease each side stops listing the other's users, and once the
 *   cut heals the cut node's members catch up on what was sent elsewhere meanwhile and presence converges.
 *   What the cut node's own sessions sent meanwhile reaches the other node's members too, with nothing
 *   published after it: the returning node's hello makes the others read what they missed.
 * - A broker down when a node starts: the node refuses to start, naming the broker.
 *
 * Skipped outside CI when PostgreSQL or a broker binary is missing (under CI=true they fail instead).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { brokerUrl, startBroker, type BrokerKind, type BrokerProcess } from '../helpers/broker-process.js';
import { closeAllClients, connectUser, roomMessages, type Msg, type TestClient } from '../helpers/client.js';
import { fullHistory, NO_RATE_LIMIT, range, seqs, type Ack } from '../helpers/durable.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { readyz, until } from '../helpers/readiness.js';
import { runCli, startServer, type TestServer } from '../helpers/server.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

const BROKERS: readonly { kind: BrokerKind }[] = [{ kind: 'redis' }, { kind: 'nats' }];

const HEARTBEAT_MS = 200;
const LEASE_MS = 2_000;

/** One folder for the whole file (the nodes' uploads folders), removed when the process exits. */
let root: string | null = null;
function tempDir(res: Resources): string {
  if (root === null) {
    const made = (root = mkdtempSync(join(tmpdir(), 'switchboard-outage-')));
    process.on('exit', () => rmSync(made, { recursive: true, force: true }));
  }
  const dir = join(root, randomBytes(4).toString('hex'));
  mkdirSync(dir);
  res.add(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

interface Ctx {
  after(fn: () => unknown): void;
  skip(message?: string): void;
  diagnostic(message: string): void;
}

/** What a test started: undone in reverse order after it, whatever happened (clients, nodes, proxy, broker, database). */
class Resources {
  private readonly undo: (() => unknown)[] = [];
  constructor(t: Ctx) {
    t.after(async () => {
      closeAllClients();
      for (const fn of this.undo.reverse()) {
        try {
          await fn();
        } catch {
          // cleanup goes on
        }
      }
    });
  }
  add(fn: () => unknown): void {
    this.undo.push(fn);
  }
}

interface Env {
  res: Resources;
  broker: BrokerProcess;
  db: TestDatabase;
  prefix: string;
  /** Starts a node of the cluster reaching the broker at `url` (default: the broker itself). */
  node(url?: string): Promise<TestServer>;
}

/** A broker, a database and a prefix of the test's own; null (the test skipped) when one is missing outside CI. */
async function environment(t: Ctx, kind: BrokerKind): Promise<Env | null> {
  const res = new Resources(t);
  const db = await createTestDatabase();
  if (!db) {
    t.skip('PostgreSQL is not reachable');
    return null;
  }
  res.add(() => db.drop());
  const broker = await startBroker(kind);
  if (!broker) {
    t.skip(`${kind} is not installed`);
    return null;
  }
  res.add(() => broker.kill());
  const dir = tempDir(res);
  const prefix = `outage-${randomBytes(4).toString('hex')}`;
  let n = 0;
  const node = async (url = broker.url): Promise<TestServer> => {
    const srv = await startServer(
      [
        '--auth.dev', 'true',
        '--welcome.enabled', 'false',
        ...NO_RATE_LIMIT,
        '--broker.url', url,
        '--broker.prefix', prefix,
        '--broker.heartbeatMs', String(HEARTBEAT_MS),
        '--broker.leaseMs', String(LEASE_MS),
        '--store.url', db.url,
        '--uploads.dir', join(dir, `uploads-${n++}`),
      ],
      { timeoutMs: 20_000 },
    );
    res.add(() => srv.kill());
    return srv;
  };
  return { res, broker, db, prefix, node };
}

/** Node A on the broker, node B on it through a TCP proxy the test can cut. */
async function cuttableCluster(env: Env): Promise<{ proxy: TcpProxy; a: TestServer; b: TestServer }> {
  const proxy = await startTcpProxy({ host: '127.0.0.1', port: env.broker.port });
  env.res.add(() => proxy.close());
  const a = await env.node();
  const b = await env.node(brokerUrl(env.broker.kind, proxy.port));
  return { proxy, a, b };
}

/** The users in `room` as the node of `c` sees the cluster, sorted. */
async function presence(c: TestClient, room: string): Promise<string[]> {
  const data = await c.call<{ users: { user: string }[] }>({ type: 'presence', room });
  return data.users.map((u) => u.user).sort();
}

/** Polls until every client's node lists exactly `users` in `room`. */
async function presenceIs(clients: readonly TestClient[], room: string, users: readonly string[], what: string, timeoutMs = 8_000): Promise<void> {
  const want = [...users].sort();
  let seen: string[][] = [];
  await until(
    async () => {
      seen = await Promise.all(clients.map((c) => presence(c, room)));
      return seen.every((s) => s.length === want.length && s.every((u, i) => u === want[i]));
    },
    `${what} (want ${JSON.stringify(want)}, last seen ${JSON.stringify(seen)})`,
    timeoutMs,
  );
}

/** Polls /readyz of `srv` until its status is `status`; resolves with the last body. */
async function readyzIs(srv: TestServer, status: number, what: string, timeoutMs = 8_000): Promise<unknown> {
  let last: { status: number; body: unknown } = { status: 0, body: null };
  await until(async () => (last = await readyz(srv.url)).status === status, `${what} (last: ${JSON.stringify(last)})`, timeoutMs);
  return last.body;
}

/** The fields a member sees of a message, for comparing what was received with what was stored. */
function shape(m: Msg): Record<string, unknown> {
  return { id: m.id, room: m.room, seq: m.seq, from: m.from, body: m.body, key: m.key, ts: m.ts };
}

type Phase = 'before' | 'down' | 'after';

interface Sent {
  key: string;
  body: string;
  sentIn: Phase;
  ack?: Ack;
  ackIn?: Phase;
  error?: Msg;
  /** No answer at all (the socket closed, or the answer never came). */
  lost?: string;
}

/** One client publishing to a room at a steady rate, each message with its own key, every answer recorded. */
class Publisher {
  readonly sent: Sent[] = [];
  acks = 0;
  private timer: NodeJS.Timeout | null = null;
  private readonly inflight = new Set<Promise<void>>();
  private waiters: { n: number; resolve(): void }[] = [];

  constructor(
    readonly c: TestClient,
    readonly user: string,
    readonly room: string,
    private readonly phase: () => Phase,
  ) {}

  start(everyMs: number): void {
    this.timer = setInterval(() => this.publishOne(), everyMs);
  }

  cmd(s: Sent): Record<string, unknown> {
    return { type: 'publish', room: this.room, body: s.body, key: s.key };
  }

  private publishOne(): void {
    if (!this.c.isOpen) return;
    const i = this.sent.length;
    const s: Sent = { key: `${this.user}-${i}`, body: `${this.user} #${i}`, sentIn: this.phase() };
    this.sent.push(s);
    const p = this.c.request(this.cmd(s), 15_000).then(
      (r) => {
        if (r.type !== 'reply') return void (s.error = r);
        s.ack = r.data as Ack;
        s.ackIn = this.phase();
        this.acks++;
        this.waiters = this.waiters.filter((w) => (this.acks >= w.n ? (w.resolve(), false) : true));
      },
      (err: unknown) => void (s.lost = (err as Error).message.split('\n')[0]),
    );
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p));
  }

  /** Resolves once `n` publishes in all have been acknowledged. */
  acked(n: number, timeoutMs = 10_000): Promise<void> {
    if (this.acks >= n) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`${this.user}: ${this.acks} of ${n} publishes acknowledged within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter = {
        n,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      this.waiters.push(waiter);
    });
  }

  /** Stops publishing and waits for the answers still due. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await Promise.all([...this.inflight]);
  }
}

/**
 * The room's stored history, checked against what the publishers sent: seqs 1..n with no gap, every key once,
 * every acknowledged message stored as acknowledged, nothing stored that was not sent.
 */
async function checkStored(reader: TestClient, room: string, publishers: readonly Publisher[], extra: ReadonlyMap<string, string> = new Map()): Promise<Msg[]> {
  const { messages, lastSeq } = await fullHistory(reader, { room });
  assert.deepEqual(seqs(messages), range(1, lastSeq), `${room}: stored seqs are exactly 1..${lastSeq}`);
  const byKey = new Map<string, Msg>();
  for (const m of messages) {
    assert.ok(!byKey.has(String(m.key)), `${room}: key ${m.key} stored twice`);
    byKey.set(String(m.key), m);
  }
  const bodies = new Map(extra);
  for (const p of publishers)
    for (const s of p.sent) {
      bodies.set(s.key, s.body);
      const m = byKey.get(s.key);
      assert.ok(m, `${room}: ${s.key} (${s.ack ? `acknowledged as seq ${s.ack.seq}` : 'resent'}) is not stored`);
      assert.equal(m.body, s.body, `${s.key}: stored body`);
      assert.equal(m.from, p.user, `${s.key}: stored sender`);
      if (s.ack) assert.deepEqual({ id: m.id, seq: m.seq, ts: m.ts }, { id: s.ack.id, seq: s.ack.seq, ts: s.ack.ts }, `${s.key}: stored as acknowledged`);
    }
  for (const m of messages) assert.equal(m.body, bodies.get(String(m.key)), `${room}: stored ${JSON.stringify(m)} was sent`);
  return messages;
}

/** Waits until `c` has received `room`'s message `lastSeq`, then checks it received `stored` exactly, in order. */
async function receivedExactly(c: TestClient, who: string, room: string, stored: readonly Msg[], timeoutMs = 10_000): Promise<void> {
  const last = stored.length;
  await c.waitFor((m) => m.type === 'message' && m.room === room && m.seq === last, timeoutMs).catch((err: Error) => {
    const got = seqs(roomMessages(c, room));
    const missing = range(1, last).filter((s) => !got.includes(s));
    throw new Error(`${who} never received ${room} seq ${last}: received ${got.length} messages, missing seqs ${JSON.stringify(missing.slice(0, 50))}\n${err.message.slice(0, 500)}`);
  });
  // Anything queued for the session behind that message (a duplicate, say) has arrived once the pong is here.
  await c.barrier();
  const got = roomMessages(c, room);
  assert.deepEqual(seqs(got), range(1, last), `${who}: every message of ${room} exactly once, in seq order, no gap`);
  // History carries every message's id and key; a version 2 push leaves both out.
  assert.deepEqual(got.map(shape), stored.map((m) => shape(c.asReceived(m) as Msg)), `${who}: the messages received are the ones stored`);
}

function brokerReason(body: unknown, kind: BrokerKind, who: string): void {
  const { status, reason } = body as { status?: unknown; reason?: unknown };
  assert.equal(status, 'unavailable', `${who}: /readyz status`);
  assert.match(String(reason), /broker/, `${who}: the reason names the broker`);
  assert.match(String(reason), new RegExp(kind), `${who}: the reason names the broker's kind`);
}

for (const { kind } of BROKERS) {
  describe(`cluster outage (${kind})`, () => {
    it(`the ${kind} broker crashes mid-traffic: acks go on, /readyz says why, every member gets every message exactly once after recovery`, async (t) => {
      const env = await environment(t, kind);
      if (!env) return;
      const { broker } = env;
      const a = await env.node();
      const b = await env.node();
      const room = 'outage-restart';
      // A second room gets its last messages while the broker is down: nothing published after the restart
      // points at them, the nodes must read them from the store when they are back.
      const quiet = 'outage-quiet';
      const [ann, amy, ben, bob] = await Promise.all([connectUser(a.wsUrl, 'ann'), connectUser(a.wsUrl, 'amy'), connectUser(b.wsUrl, 'ben'), connectUser(b.wsUrl, 'bob')]);
      for (const c of [ann, amy, ben, bob]) for (const r of [room, quiet]) assert.equal((await c.call<{ seq: number }>({ type: 'join', room: r })).seq, 0);
      // The nodes see each other: every member is listed on both.
      await presenceIs([ann, ben], room, ['amy', 'ann', 'ben', 'bob'], 'both nodes to list all four members');
      assert.deepEqual(await readyz(a.url), { status: 200, body: { status: 'ready' } });
      assert.deepEqual(await readyz(b.url), { status: 200, body: { status: 'ready' } });

      let phase: Phase = 'before';
      const publishers = [new Publisher(ann, 'ann', room, () => phase), new Publisher(ben, 'ben', room, () => phase)];
      // 50 a second each.
      for (const p of publishers) p.start(20);
      await Promise.all(publishers.map((p) => p.acked(25)));

      // ── the broker dies ─────────────────────────────────────────────────────
      await broker.kill();
      phase = 'down';
      const ackedAtKill = publishers.map((p) => p.acks);
      const downA = await readyzIs(a, 503, 'node A /readyz to answer 503 with the broker down');
      const downB = await readyzIs(b, 503, 'node B /readyz to answer 503 with the broker down');
      brokerReason(downA, kind, 'node A');
      brokerReason(downB, kind, 'node B');
      // About a second of traffic with the broker down: acknowledged all the same (the store works).
      await Promise.all(publishers.map((p, i) => p.acked(ackedAtKill[i]! + 50)));
      for (const [who, srv] of [['A', a], ['B', b]] as const) assert.equal((await readyz(srv.url)).status, 503, `node ${who} still unready while the broker is down`);
      const quietSent = new Map<string, string>();
      for (const [c, user] of [[amy, 'amy'], [bob, 'bob']] as const) {
        const body = `${user} while the broker is down`;
        await c.call({ type: 'publish', room: quiet, body, key: `${user}-quiet` });
        quietSent.set(`${user}-quiet`, body);
      }

      // ── back, on the same port ──────────────────────────────────────────────
      await broker.restart();
      phase = 'after';
      await readyzIs(a, 200, 'node A /readyz to answer 200 once the broker is back');
      await readyzIs(b, 200, 'node B /readyz to answer 200 once the broker is back');
      const ackedAtBack = publishers.map((p) => p.acks);
      await Promise.all(publishers.map((p, i) => p.acked(ackedAtBack[i]! + 25)));
      await Promise.all(publishers.map((p) => p.stop()));

      // Publishes that failed (none are expected: the store worked throughout) are resent with their keys.
      let resent = 0;
      for (const p of publishers)
        for (const s of p.sent)
          if (!s.ack) {
            resent++;
            const ack = await p.c.call<Ack>(p.cmd(s));
            s.ack = ack;
          }
      const downAcks = publishers.flatMap((p) => p.sent.filter((s) => s.ackIn === 'down'));
      assert.ok(downAcks.length >= 100, `publishes acknowledged while the broker was down: ${downAcks.length}`);
      // Resending what was acknowledged while the broker was down: the original's answer, nothing stored or delivered again.
      for (const p of publishers)
        for (const s of p.sent.filter((x) => x.ackIn === 'down').slice(0, 3)) {
          const again = await p.c.call<Ack>(p.cmd(s));
          assert.deepEqual(again, { ...s.ack, duplicate: true }, `${s.key} resent`);
        }

      const stored = await checkStored(amy, room, publishers);
      for (const [who, c] of [['ann (A)', ann], ['amy (A)', amy], ['ben (B)', ben], ['bob (B)', bob]] as const) await receivedExactly(c, who, room, stored);
      const quietStored = await checkStored(amy, quiet, [], quietSent);
      assert.equal(quietStored.length, 2);
      for (const [who, c] of [['ann (A)', ann], ['amy (A)', amy], ['ben (B)', ben], ['bob (B)', bob]] as const) await receivedExactly(c, who, quiet, quietStored);
      await presenceIs([ann, ben], room, ['amy', 'ann', 'ben', 'bob'], 'both nodes to list all four members again');
      t.diagnostic(
        `${stored.length} messages stored; ${downAcks.length} acknowledged with the broker down; ${resent} resent; ` +
          `readyz while down: ${JSON.stringify(downA)}`,
      );

      closeAllClients();
      assert.equal(await a.stop(), 0, `node A exit code\n${a.stderr()}`);
      assert.equal(await b.stop(), 0, `node B exit code\n${b.stderr()}`);
    });

    it(`a cut between one node and ${kind}: that node says 503, keeps its sessions, and catches up when the cut heals`, async (t) => {
      const env = await environment(t, kind);
      if (!env) return;
      const { proxy, a, b } = await cuttableCluster(env);
      const room = 'outage-cut';
      const ann = await connectUser(a.wsUrl, 'ann');
      const [ben, bea] = await Promise.all([connectUser(b.wsUrl, 'ben'), connectUser(b.wsUrl, 'bea')]);
      for (const c of [ann, ben, bea]) await c.call({ type: 'join', room });
      await presenceIs([ann, ben], room, ['ann', 'bea', 'ben'], 'both nodes to list all three members');
      await ann.call({ type: 'publish', room, body: 'before the cut', key: 'ann-before' });
      for (const c of [ben, bea]) await c.waitFor((m) => m.type === 'message' && m.room === room && m.seq === 1, 5_000);

      // ── the cut ─────────────────────────────────────────────────────────────
      proxy.cut();
      const cutAt = Date.now();
      brokerReason(await readyzIs(b, 503, 'node B /readyz to answer 503 once cut from the broker'), kind, 'node B');
      assert.deepEqual(await readyz(a.url), { status: 200, body: { status: 'ready' } }, 'node A still reaches the broker');

      // B's sessions go on among themselves.
      const local: Sent[] = [];
      for (const [c, user] of [[ben, 'ben'], [bea, 'bea'], [ben, 'ben']] as const) {
        const s: Sent = { key: `${user}-cut-${local.length}`, body: `${user} during the cut #${local.length}`, sentIn: 'down' };
        s.ack = await c.call<Ack>({ type: 'publish', room, body: s.body, key: s.key });
        local.push(s);
        for (const member of [ben, bea]) await member.waitFor((m) => m.type === 'message' && m.room === room && m.seq === s.ack!.seq, 5_000);
      }
      // A goes on too, its messages stored for B to read later.
      const annSent: Sent[] = [];
      for (let i = 0; i < 5; i++) {
        const s: Sent = { key: `ann-cut-${i}`, body: `ann during the cut #${i}`, sentIn: 'down' };
        s.ack = await ann.call<Ack>({ type: 'publish', room, body: s.body, key: s.key });
        annSent.push(s);
      }

      // Longer than the lease: each side stops listing the other's users.
      await presenceIs([ann], room, ['ann'], "node A to stop listing B's users after the lease", LEASE_MS + 5_000);
      await presenceIs([ben, bea], room, ['bea', 'ben'], "node B to stop listing A's users after the lease", LEASE_MS + 5_000);
      const expiredAfter = Date.now() - cutAt;
      assert.equal((await readyz(b.url)).status, 503, 'node B still unready while cut');
      assert.ok(ben.isOpen && bea.isOpen, "B's sessions stay open while B is cut");

      // ── the cut heals ───────────────────────────────────────────────────────
      // (Whether B's members already have A's messages is not the point: a later message of B's own would have
      // made B read them from the store; here none came, so they arrive through the catch-up after the cut.)
      const beforeRestore = roomMessages(ben, room).length;
      proxy.restore();
      await readyzIs(b, 200, 'node B /readyz to answer 200 once the cut heals');
      const restoredIn = Date.now() - cutAt;

      const extra = new Map<string, string>([['ann-before', 'before the cut'], ...[...local, ...annSent].map((s) => [s.key, s.body] as [string, string])]);
      const stored = await checkStored(ann, room, [], extra);
      assert.equal(stored.length, 1 + local.length + annSent.length, 'everything sent is stored');
      for (const s of [...local, ...annSent]) assert.equal(stored[s.ack!.seq - 1]?.key, s.key, `${s.key} stored as acknowledged`);
      for (const [who, c] of [['ben (B)', ben], ['bea (B)', bea], ['ann (A)', ann]] as const) await receivedExactly(c, who, room, stored);
      await presenceIs([ann, ben, bea], room, ['ann', 'bea', 'ben'], 'presence to converge again after the cut heals');
      t.diagnostic(
        `users expired after ${expiredAfter} ms of cut (lease ${LEASE_MS} ms); B ready again ${restoredIn} ms after the cut; ` +
          `ben had ${beforeRestore} of ${stored.length} messages when the cut healed`,
      );

      closeAllClients();
      assert.equal(await a.stop(), 0, `node A exit code\n${a.stderr()}`);
      assert.equal(await b.stop(), 0, `node B exit code\n${b.stderr()}`);
    });

    it(
      `messages sent on a node while it is cut from ${kind} reach the other node's members once the cut heals`,
      async (t) => {
        const env = await environment(t, kind);
        if (!env) return;
        const { proxy, a, b } = await cuttableCluster(env);
        const room = 'outage-cut-from-b';
        const ann = await connectUser(a.wsUrl, 'ann');
        const ben = await connectUser(b.wsUrl, 'ben');
        for (const c of [ann, ben]) await c.call({ type: 'join', room });
        await presenceIs([ann, ben], room, ['ann', 'ben'], 'both nodes to list both members');
        await ann.call({ type: 'publish', room, body: 'before the cut', key: 'ann-before' });
        await ben.waitFor((m) => m.type === 'message' && m.room === room && m.seq === 1, 5_000);

        proxy.cut();
        await readyzIs(b, 503, 'node B /readyz to answer 503 once cut from the broker');
        const extra = new Map<string, string>([['ann-before', 'before the cut']]);
        for (let i = 0; i < 3; i++) {
          const body = `ben during the cut #${i}`;
          await ben.call({ type: 'publish', room, body, key: `ben-cut-${i}` });
          extra.set(`ben-cut-${i}`, body);
        }
        proxy.restore();
        await readyzIs(b, 200, 'node B /readyz to answer 200 once the cut heals');

        const stored = await checkStored(ben, room, [], extra);
        assert.equal(stored.length, 4);
        await receivedExactly(ben, 'ben (B)', room, stored);
        // Nothing else is published: ann can learn of ben's messages only from B's return itself.
        await receivedExactly(ann, 'ann (A)', room, stored, 3_000);

        closeAllClients();
        assert.equal(await a.stop(), 0, `node A exit code\n${a.stderr()}`);
        assert.equal(await b.stop(), 0, `node B exit code\n${b.stderr()}`);
      },
    );

    it(`a node refuses to start while ${kind} is down, naming the broker`, async (t) => {
      const env = await environment(t, kind);
      if (!env) return;
      await env.broker.kill();
      const dir = tempDir(env.res);
      const started = Date.now();
      const r = await runCli(
        [
          '--port', '0',
          '--auth.dev', 'true',
          '--broker.url', env.broker.url,
          '--broker.prefix', env.prefix,
          '--store.url', env.db.url,
          '--uploads.dir', join(dir, 'uploads'),
        ],
        { timeoutMs: 20_000 },
      );
      const took = Date.now() - started;
      assert.ok(!r.stdout.includes('switchboard listening'), `the node must not serve:\n${r.stdout}`);
      assert.equal(r.signal, null, 'exited by itself');
      assert.notEqual(r.code, 0, `exit code\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
      assert.match(r.stderr, new RegExp(kind === 'redis' ? 'Redis' : 'NATS'), `stderr names the broker:\n${r.stderr}`);
      assert.ok(r.stderr.includes(`127.0.0.1:${env.broker.port}`), `stderr names the broker's address:\n${r.stderr}`);
      t.diagnostic(`exit code ${r.code} after ${took} ms: ${r.stderr.trim()}`);
    });
  });
}
