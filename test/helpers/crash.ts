/**
 * The crash scenario shared by the SQLite and PostgreSQL crash tests: several
 * clients publish to rooms and send DMs with idempotency keys, the server is
 * SIGKILLed mid-stream, restarted on the same store, and the store must hold
 * every acknowledged (and every delivered) message, unchanged, with gap-free
 * sequence numbers that continue after the restart; resending what was never
 * acknowledged must not create duplicates.
 */
import assert from 'node:assert/strict';
import { closeAllClients, connectUser, type Msg, type TestClient } from './client.js';
import { fullHistory, NO_RATE_LIMIT, pump, range, seqs, type Ack, type PumpResult, type Target } from './durable.js';
import { startServer } from './server.js';

interface Ctx {
  after(fn: () => unknown): void;
  diagnostic(msg: string): void;
}

interface Planned {
  user: string;
  index: number;
  target: Target;
  conv: string;
  key: string;
  body: string;
  cmd: Record<string, unknown>;
}

/** Who sends to what: every user publishes to rooms and sends DMs, conversations are shared. */
const PLAN: Record<string, Target[]> = {
  ann: [{ room: 'crash-r1' }, { with: 'ben' }, { room: 'crash-r2' }],
  ben: [{ room: 'crash-r1' }, { with: 'ann' }, { with: 'cat' }],
  cat: [{ room: 'crash-r2' }, { with: 'dan' }, { with: 'ben' }],
  dan: [{ room: 'crash-r1' }, { with: 'ann' }, { room: 'crash-r2' }],
};

function convOf(user: string, target: Target): string {
  if ('room' in target) return `r:${target.room}`;
  const [a, b] = [user, target.with].sort();
  return `d:${a} ${b}`;
}

/** A target a given user can read the conversation through (for DMs: the other party, seen from `user`). */
function readerTarget(conv: string): { user: string; target: Target } {
  if (conv.startsWith('r:')) {
    const room = conv.slice(2);
    const user = Object.keys(PLAN).find((u) => PLAN[u]!.some((t) => 'room' in t && t.room === room))!;
    return { user, target: { room } };
  }
  const [a, b] = conv.slice(2).split(' ') as [string, string];
  return { user: a, target: { with: b } };
}

function commandFor(target: Target, body: string, key: string): Record<string, unknown> {
  return 'room' in target ? { type: 'publish', room: target.room, body, key } : { type: 'send', to: target.with, body, key };
}

export interface CrashOptions {
  /** Store flags (and uploads folder) for both runs of the server. */
  storeFlags: string[];
  /** Messages in all (split evenly between the four users). */
  total?: number;
  /** The server is killed once this many acks have arrived. */
  killAfterAcks?: number;
}

export async function crashScenario(t: Ctx, opts: CrashOptions): Promise<void> {
  const total = opts.total ?? 2000;
  const killAfter = opts.killAfterAcks ?? Math.floor(total * 0.45);
  const users = Object.keys(PLAN);
  const perUser = Math.ceil(total / users.length);
  const flags = ['--auth.dev', 'true', '--welcome.enabled', 'false', ...NO_RATE_LIMIT, ...opts.storeFlags];
  t.after(closeAllClients);

  const planned = new Map<string, Planned[]>();
  for (const user of users) {
    const list: Planned[] = [];
    for (let i = 0; i < perUser; i++) {
      const target = PLAN[user]![i % PLAN[user]!.length]!;
      const key = `${user}-${i}`;
      const body = `${user} says #${i} ${'.'.repeat(i % 40)}`;
      list.push({ user, index: i, target, conv: convOf(user, target), key, body, cmd: commandFor(target, body, key) });
    }
    planned.set(user, list);
  }

  // ── first run: publish until killed ──────────────────────────────────────
  const srv1 = await startServer(flags, { t });
  const clients = new Map<string, TestClient>();
  for (const user of users) {
    const c = await connectUser(srv1.wsUrl, user);
    for (const target of PLAN[user]!) if ('room' in target) await c.call({ type: 'join', room: target.room });
    clients.set(user, c);
  }
  let acked = 0;
  let killedAt = -1;
  const kill = (): void => {
    if (killedAt >= 0) return;
    killedAt = acked;
    srv1.proc.kill('SIGKILL');
  };
  const results = await Promise.all(
    users.map((user) =>
      pump(
        clients.get(user)!,
        planned.get(user)!.map((p) => p.cmd),
        {
          window: 16,
          onAck: () => {
            if (++acked >= killAfter) kill();
          },
        },
      ),
    ),
  );
  // If the publishers were faster than the kill threshold (they should not be), the kill still happens.
  kill();
  await srv1.exited;
  assert.equal(srv1.proc.signalCode, 'SIGKILL', 'the first server was killed');
  const pumped = new Map<string, PumpResult>(users.map((u, i) => [u, results[i]!]));
  for (const [user, r] of pumped) assert.equal(r.errors.size, 0, `${user} got errors: ${JSON.stringify([...r.errors.values()].slice(0, 3))}`);
  const ackCount = [...pumped.values()].reduce((n, r) => n + r.acks.filter(Boolean).length, 0);
  const sentCount = [...pumped.values()].reduce((n, r) => n + r.sent, 0);
  assert.ok(ackCount >= killAfter && ackCount < total, `killed mid-stream: ${ackCount} acks of ${total} messages`);
  // Everything a client received live before the crash was delivered only after being stored.
  const delivered = new Map<string, Msg>();
  for (const c of clients.values()) for (const m of c.all('message')) delivered.set(`${convOf(String(m.from), m.room !== undefined ? { room: String(m.room) } : { with: String(m.to) })}#${m.seq}`, m);
  t.diagnostic(`killed after ${killedAt} acks; ${ackCount} acked, ${sentCount} sent, ${delivered.size} distinct messages delivered live`);
  for (const c of clients.values()) await c.closed;

  // ── second run, same store ───────────────────────────────────────────────
  const srv2 = await startServer(flags, { t });
  const readers = new Map<string, TestClient>();
  const reader = async (user: string): Promise<TestClient> => {
    let c = readers.get(user);
    if (!c) readers.set(user, (c = await connectUser(srv2.wsUrl, user)));
    return c;
  };

  const convs = new Set<string>();
  for (const list of planned.values()) for (const p of list) convs.add(p.conv);
  const stored = new Map<string, Msg[]>();
  for (const conv of convs) {
    const { user, target } = readerTarget(conv);
    // A room's history is readable without joining again: the membership survived the crash.
    const h = await fullHistory(await reader(user), target);
    stored.set(conv, h.messages);
    assert.deepEqual(seqs(h.messages), range(1, h.lastSeq), `${conv}: stored seqs are exactly 1..${h.lastSeq}`);
  }

  const byKey = (conv: string): Map<string, Msg> => {
    const m = new Map<string, Msg>();
    for (const msg of stored.get(conv)!) {
      const k = `${msg.from}\n${msg.key}`;
      assert.ok(!m.has(k), `${conv}: key ${msg.key} of ${msg.from} stored twice`);
      m.set(k, msg);
    }
    return m;
  };
  const keyIndex = new Map([...convs].map((c) => [c, byKey(c)]));

  // Every acknowledged message is stored with the seq, id, ts and body of its ack.
  let unacked: Planned[] = [];
  for (const user of users) {
    const r = pumped.get(user)!;
    planned.get(user)!.forEach((p, i) => {
      const ack = r.acks[i];
      if (i >= r.sent) return;
      if (!ack) {
        unacked.push(p);
        return;
      }
      assert.notEqual(ack.duplicate, true, `${p.key} was not a resend`);
      const m = stored.get(p.conv)![ack.seq - 1];
      assert.ok(m, `${p.key} (acked seq ${ack.seq} in ${p.conv}) is missing after the crash`);
      assert.deepEqual(
        { id: m.id, seq: m.seq, ts: m.ts, from: m.from, body: m.body, key: m.key },
        { id: ack.id, seq: ack.seq, ts: ack.ts, from: p.user, body: p.body, key: p.key },
        `${p.key} in ${p.conv}`,
      );
    });
  }
  // Every stored message is one that was sent, unchanged.
  const plannedByKey = new Map<string, Planned>();
  for (const list of planned.values()) for (const p of list) plannedByKey.set(p.key, p);
  for (const [conv, msgs] of stored)
    for (const m of msgs) {
      const p = plannedByKey.get(String(m.key));
      assert.ok(p && p.conv === conv && p.user === m.from && p.body === m.body, `${conv}: unexpected stored message ${JSON.stringify(m)}`);
    }
  // Everything delivered live before the crash is stored, unchanged.
  for (const [k, m] of delivered) {
    const [conv] = k.split('#') as [string];
    const s = stored.get(conv)?.[Number(m.seq) - 1];
    assert.deepEqual(s, m, `delivered before the crash but not stored as delivered: ${k}`);
  }

  // A new message continues each conversation's sequence.
  const sessions = new Map<string, { c: TestClient; joined: Map<string, number> }>();
  const session = async (user: string, room?: string): Promise<{ c: TestClient; joined: Map<string, number> }> => {
    let s = sessions.get(user);
    if (!s) sessions.set(user, (s = { c: await connectUser(srv2.wsUrl, user), joined: new Map() }));
    if (room !== undefined && !s.joined.has(room)) s.joined.set(room, (await s.c.call<{ seq: number }>({ type: 'join', room })).seq);
    return s;
  };
  for (const conv of convs) {
    const lastSeq = stored.get(conv)!.length;
    const sender = conv.startsWith('r:') ? readerTarget(conv).user : (conv.slice(2).split(' ')[0] as string);
    const target: Target = conv.startsWith('r:') ? { room: conv.slice(2) } : { with: conv.slice(2).split(' ')[1]! };
    const { c, joined } = await session(sender, 'room' in target ? target.room : undefined);
    if ('room' in target) assert.equal(joined.get(target.room), lastSeq, `${conv}: join after restart reports the last stored seq`);
    const body = `after restart in ${conv}`;
    const ack = await c.call<Ack>(commandFor(target, body, `after-${conv}`));
    assert.equal(ack.seq, lastSeq + 1, `${conv}: the first message after the restart`);
    stored.get(conv)!.push({ type: 'message', seq: ack.seq, key: `after-${conv}`, from: sender, body } as Msg);
  }

  // Resending what was never acknowledged, with the same key: stored once, whether or not the crash kept it.
  let kept = 0;
  unacked = unacked.sort((a, b) => a.index - b.index);
  for (const p of unacked) {
    const { c } = await session(p.user, 'room' in p.target ? p.target.room : undefined);
    const ack = await c.call<Ack>(p.cmd);
    const was = keyIndex.get(p.conv)!.get(`${p.user}\n${p.key}`);
    if (was) {
      kept++;
      assert.deepEqual(ack, { id: was.id, seq: was.seq, ts: was.ts, duplicate: true }, `${p.key} survived the crash unacknowledged: resend is a duplicate`);
    } else {
      assert.notEqual(ack.duplicate, true, `${p.key} was not stored: the resend stores it`);
      assert.equal(ack.seq, stored.get(p.conv)!.length + 1, `${p.key}: resend continues ${p.conv}`);
      stored.get(p.conv)!.push({ type: 'message', seq: ack.seq } as Msg);
    }
  }
  // An acknowledged message resent is a duplicate too.
  for (const user of users) {
    const r = pumped.get(user)!;
    const i = r.acks.findIndex(Boolean);
    const ack = r.acks[i]!;
    const p = planned.get(user)![i]!;
    const { c } = await session(user, 'room' in p.target ? p.target.room : undefined);
    const again = await c.call<Ack>(p.cmd);
    assert.deepEqual(again, { ...ack, duplicate: true }, `${user}: resending acked ${p.key}`);
  }
  t.diagnostic(`${unacked.length} sent but unacknowledged; ${kept} of them had been stored anyway`);

  // Final state: gap-free, each key once, every unacknowledged key exactly once.
  for (const conv of convs) {
    const { user, target } = readerTarget(conv);
    const h = await fullHistory(await reader(user), target);
    assert.deepEqual(seqs(h.messages), range(1, stored.get(conv)!.length), `${conv}: final seqs`);
    const keys = h.messages.map((m) => `${m.from}\n${m.key}`);
    assert.equal(new Set(keys).size, keys.length, `${conv}: no key stored twice`);
    for (const p of unacked) if (p.conv === conv) assert.ok(keys.includes(`${p.user}\n${p.key}`), `${p.key} stored after the resend`);
  }

  const code = await srv2.stop();
  assert.equal(code, 0, `second server exit code\nstderr:\n${srv2.stderr()}`);
}

