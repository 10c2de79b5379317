/**
 * Several hubs in one process, each with its ClusterNode over one in-memory bus (the broker's guarantees and no
 * more: asynchronous, ordered per publisher, lossy when cut). Fake sessions, no sockets: what a member on one
 * node sees of what happens on another — messages, presence counted once per user, per-user limits, a node cut
 * off and back, a gap the bus lost filled from the (fake, shared) store.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import { MemoryBroker, MemoryBus } from '../../src/broker/memory-broker.js';
import { ClusterNode } from '../../src/cluster/cluster-node.js';
import { Hub, type HubOptions } from '../../src/hub/hub.js';
import type { AppendDone, HistoryPage, HistoryQuery, MemberRef, NewMessage, Persistence, StoredMessage } from '../../src/hub/persistence.js';
import type { HubSession } from '../../src/hub/session.js';
import type { Tick } from '../../src/outbound/shared-batch.js';
import { CloseCode } from '../../src/protocol/codes.js';
import { FakeQueue } from '../helpers/fake-queue.js';

let ids = 0;

class Member extends FakeQueue implements HubSession {
  readonly id = `s${++ids}`;
  readonly grants: readonly string[] = [];
  readonly rooms = new Set<string>();
  constructor(readonly user: string) {
    super();
  }
  msgs(type?: string): Record<string, unknown>[] {
    const all = this.received.map((b) => JSON.parse(b.toString('utf8')) as Record<string, unknown>);
    return type === undefined ? all : all.filter((m) => m['type'] === type);
  }
}

/** A store every node shares: numbers each conversation's messages in append order, answers history. */
class SharedStore implements Persistence {
  readonly messages = new Map<string, StoredMessage[]>();
  append(msg: NewMessage, _joins: readonly MemberRef[] | null, done: AppendDone): boolean {
    const list = this.messages.get(msg.conv) ?? [];
    this.messages.set(msg.conv, list);
    const seq = list.length + 1;
    list.push({ ...msg, seq });
    setImmediate(() => done(null, { seq, id: msg.id, ts: msg.ts, duplicate: false }));
    return true;
  }
  join(): void {}
  leave(): void {}
  async read(): Promise<void> {}
  async history(q: HistoryQuery): Promise<HistoryPage> {
    const list = this.messages.get(q.conv) ?? [];
    const messages = list.filter((m) => m.seq > (q.after ?? 0)).slice(0, q.limit);
    return { messages, oldestSeq: list.length > 0 ? 1 : 0, lastSeq: list.length };
  }
  async memberships(): Promise<never[]> {
    return [];
  }
  async isMember(): Promise<boolean> {
    return true;
  }
}

interface Node {
  hub: Hub;
  cluster: ClusterNode;
  broker: MemoryBroker;
  tick: Tick;
  sessions: Member[];
  connect(user: string): Member;
}

const silent = pino({ level: 'silent' });
const running: Node[] = [];
after(async () => {
  for (const n of running) await n.cluster.stop();
});

/** `clusterNow`: the node's clock for heartbeats and leases (a test moves it to make another node's lease run out). */
async function startNode(bus: MemoryBus, name: string, opts: Partial<HubOptions> = {}, clusterNow: () => number = Date.now): Promise<Node> {
  const tick: Tick = { epoch: 1 };
  const broker = new MemoryBroker(bus, 'test');
  const cluster = new ClusterNode({ broker, heartbeatMs: 40, leaseMs: 300, log: silent, now: clusterNow, nodeId: name });
  let n = 0;
  const hub = new Hub({
    tick,
    now: Date.now,
    nextId: () => `${name}-${++n}`,
    roomRules: [{ match: 'live:*', kind: 'public', durable: false }],
    presenceEvents: true,
    roomsPerSession: 100,
    sessionPolicy: 'multiple',
    maxSessionsPerUser: 10,
    cluster,
    gapWaitMs: 5,
    ...opts,
  });
  cluster.attach(hub.inbound!);
  await cluster.start();
  const sessions: Member[] = [];
  const node: Node = {
    hub,
    cluster,
    broker,
    tick,
    sessions,
    connect(user) {
      const s = new Member(user);
      const r = hub.connect(s);
      assert.ok(r.ok, 'connected');
      sessions.push(s);
      return s;
    },
  };
  running.push(node);
  return node;
}

/** Turns of the event loop, each ending with every node's flush, until `done` holds (or 2 s pass). */
async function until(nodes: readonly Node[], done: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 2000;
  for (;;) {
    for (const n of nodes) {
      n.tick.epoch++;
      for (const s of n.sessions) s.drain();
    }
    if (done()) return;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

const bodies = (s: Member, room: string): unknown[] => s.msgs('message').filter((m) => m['room'] === room).map((m) => m['body']);

describe('hubs joined through a broker', () => {
  it('members on different nodes get every durable message once, in seq order, and the same presence', async () => {
    const bus = new MemoryBus();
    const store = new SharedStore();
    const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((n) => startNode(bus, n, { persistence: store })));
    const nodes = [a!, b!, c!];
    const ann = a!.connect('ann');
    const ben = b!.connect('ben');
    const cat = c!.connect('cat');
    for (const [node, s] of [
      [a!, ann],
      [b!, ben],
      [c!, cat],
    ] as const)
      await node.hub.join(s, 'lobby');
    await until(nodes, () => nodes.every((n) => n.hub.presence({ user: 'x', grants: [] }, 'lobby').users.length === 3), 'presence on every node');
    const acks = [];
    for (let i = 0; i < 20; i++) {
      acks.push(a!.hub.publish(ann, 'lobby', 'text', `a${i}`), b!.hub.publish(ben, 'lobby', 'text', `b${i}`), c!.hub.publish(cat, 'lobby', 'text', `c${i}`));
    }
    await Promise.all(acks);
    await until(nodes, () => [ann, ben, cat].every((s) => bodies(s, 'lobby').length === 60), '60 messages each');
    for (const s of [ann, ben, cat]) {
      const seqs = s.msgs('message').map((m) => m['seq']);
      assert.deepEqual(seqs, Array.from({ length: 60 }, (_, i) => i + 1), `${s.user} in seq order, each once`);
    }
    // Each member saw each other user join once (its own join too).
    for (const s of [ann, ben, cat]) assert.equal(s.msgs('presence').filter((p) => p['event'] === 'join').length, 3, `${s.user}: one join per user`);
  });

  it('a second session of a user on another node is no second join, and its leave is no leave', async () => {
    const bus = new MemoryBus();
    const [a, b] = await Promise.all([startNode(bus, 'a'), startNode(bus, 'b')]);
    const nodes = [a!, b!];
    const watcher = a!.connect('wes');
    await a!.hub.join(watcher, 'live:x');
    const dan1 = a!.connect('dan');
    await a!.hub.join(dan1, 'live:x');
    const dan2 = b!.connect('dan');
    await b!.hub.join(dan2, 'live:x');
    await until(nodes, () => b!.hub.presence({ user: 'x', grants: [] }, 'live:x').users.some((u) => u.user === 'dan' && u.sessions === 2), 'two sessions counted');
    a!.hub.disconnect(dan1, CloseCode.Normal);
    await until(nodes, () => b!.hub.presence({ user: 'x', grants: [] }, 'live:x').users.some((u) => u.user === 'dan' && u.sessions === 1), 'one session left');
    const dans = watcher.msgs('presence').filter((p) => p['user'] === 'dan');
    assert.deepEqual(
      dans.map((p) => p['event']),
      ['join'],
      'dan joined once and has not left',
    );
    b!.hub.disconnect(dan2, CloseCode.Normal);
    await until(nodes, () => watcher.msgs('presence').filter((p) => p['user'] === 'dan').length === 2, 'the leave');
  });

  it('a non-durable room: every member sees a contiguous seq of what its node delivered', async () => {
    const bus = new MemoryBus();
    const [a, b] = await Promise.all([startNode(bus, 'a'), startNode(bus, 'b')]);
    const ann = a!.connect('ann');
    const ben = b!.connect('ben');
    await a!.hub.join(ann, 'live:y');
    await b!.hub.join(ben, 'live:y');
    await until([a!, b!], () => a!.hub.presence({ user: 'x', grants: [] }, 'live:y').users.length === 2, 'presence');
    for (let i = 0; i < 5; i++) {
      await a!.hub.publish(ann, 'live:y', 'text', `a${i}`);
      await b!.hub.publish(ben, 'live:y', 'text', `b${i}`);
    }
    await until([a!, b!], () => bodies(ann, 'live:y').length === 10 && bodies(ben, 'live:y').length === 10, 'ten each');
    for (const s of [ann, ben]) assert.deepEqual(s.msgs('message').map((m) => m['seq']), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    // Each publisher's own messages keep their order everywhere.
    for (const s of [ann, ben]) assert.deepEqual(bodies(s, 'live:y').filter((x) => String(x).startsWith('a')), ['a0', 'a1', 'a2', 'a3', 'a4']);
  });

  it("a room's pushes go only to the nodes with members in it: none while all are local, and none after a node's last member leaves", async () => {
    const bus = new MemoryBus();
    const [a, b] = await Promise.all([startNode(bus, 'a'), startNode(bus, 'b')]);
    const ann = a!.connect('ann');
    const ben = b!.connect('ben');
    await a!.hub.join(ann, 'live:z');
    const before = a!.cluster.counters.published;
    for (let i = 0; i < 3; i++) await a!.hub.publish(ann, 'live:z', 'text', `alone${i}`);
    await until([a!, b!], () => bodies(ann, 'live:z').length === 3, 'three at home');
    assert.equal(a!.cluster.counters.published, before, 'a room with no member elsewhere publishes nothing');

    await b!.hub.join(ben, 'live:z');
    await until([a!, b!], () => b!.cluster.routes.sizes().pending === 0 && a!.cluster.routes.destinations('live:z')?.has('b') === true, "b's watch");
    // Three messages in one turn leave a in one batch.
    const batchStart = a!.cluster.counters.published;
    await Promise.all([0, 1, 2].map((i) => a!.hub.publish(ann, 'live:z', 'text', `both${i}`)));
    await until([a!, b!], () => bodies(ben, 'live:z').length === 3, 'three across');
    assert.deepEqual(bodies(ben, 'live:z'), ['both0', 'both1', 'both2']);
    assert.equal(a!.cluster.counters.published - batchStart, 1, 'one publish for the turn');

    b!.hub.leave(ben, 'live:z');
    await until([a!, b!], () => a!.cluster.routes.destinations('live:z') === undefined, "b's leave reaching a");
    const after = a!.cluster.counters.published;
    await a!.hub.publish(ann, 'live:z', 'text', 'alone again');
    await until([a!, b!], () => bodies(ann, 'live:z').length === 7, 'the last at home');
    assert.equal(a!.cluster.counters.published, after);
  });

  it("a node that starts late, or comes back from a cut, learns which rooms the others want: a non-durable room's messages reach it and come from it", async () => {
    const bus = new MemoryBus();
    const [a, b] = await Promise.all([startNode(bus, 'a'), startNode(bus, 'b')]);
    const ann = a!.connect('ann');
    await a!.hub.join(ann, 'live:late');
    // c starts after a wants the room: a's list answers c's hello.
    const c = await startNode(bus, 'c');
    await until([a!, b!, c], () => c.cluster.routes.destinations('live:late')?.has('a') === true, "a's wants reaching c");
    const cat = c.connect('cat');
    await c.hub.join(cat, 'live:late');
    await until([a!, b!, c], () => c.cluster.routes.sizes().pending === 0, "c's watch");
    await c.hub.publish(cat, 'live:late', 'text', 'from c');
    await until([a!, b!, c], () => bodies(ann, 'live:late').includes('from c'), 'c to a');

    // b is cut while a member of it joins: its `w` is lost; back, its list reaches the others.
    bus.cut(b!.broker);
    await until([a!, b!, c], () => b!.cluster.problem() !== null, 'b sees the cut');
    const ben = b!.connect('ben');
    await b!.hub.join(ben, 'live:late');
    assert.equal(a!.cluster.routes.destinations('live:late')?.has('b') ?? false, false);
    bus.heal(b!.broker);
    await until([a!, b!, c], () => b!.cluster.problem() === null && a!.cluster.routes.destinations('live:late')?.has('b') === true, "b's wants after the cut");
    await a!.hub.publish(ann, 'live:late', 'text', 'from a');
    await until([a!, b!, c], () => bodies(ben, 'live:late').includes('from a') && bodies(cat, 'live:late').includes('from a'), 'a to b and c');
  });

  it('replace: a session opened on another node closes the older one (4003)', async () => {
    const bus = new MemoryBus();
    const opts = { sessionPolicy: 'replace' as const };
    const [a, b] = await Promise.all([startNode(bus, 'a', opts), startNode(bus, 'b', opts)]);
    const old = a!.connect('eve');
    await until([a!, b!], () => b!.hub.isOnline('eve'), 'eve known on b');
    b!.connect('eve');
    await until([a!, b!], () => old.closes.length > 0, 'the old session closed');
    assert.equal(old.closes[0]!.code, CloseCode.Replaced);
  });

  it('maxPerUser counts every node: the session over the limit is refused', async () => {
    const bus = new MemoryBus();
    const opts = { maxSessionsPerUser: 2 };
    const [a, b] = await Promise.all([startNode(bus, 'a', opts), startNode(bus, 'b', opts)]);
    a!.connect('fay');
    b!.connect('fay');
    await until([a!, b!], () => a!.cluster.userSessions('fay') === 2 && b!.cluster.userSessions('fay') === 2, 'both counted on both');
    const third = new Member('fay');
    const r = a!.hub.connect(third);
    assert.deepEqual(r.ok ? 'accepted' : r.code, CloseCode.TooManySessions);
  });

  it('a node cut from the bus misses messages; once back, it fills the gap from the store, in order, once', async () => {
    const bus = new MemoryBus();
    const store = new SharedStore();
    const [a, b] = await Promise.all([startNode(bus, 'a', { persistence: store }), startNode(bus, 'b', { persistence: store })]);
    const ann = a!.connect('ann');
    const ben = b!.connect('ben');
    await a!.hub.join(ann, 'room');
    await b!.hub.join(ben, 'room');
    await until([a!, b!], () => a!.hub.presence({ user: 'x', grants: [] }, 'room').users.length === 2, 'presence');
    await a!.hub.publish(ann, 'room', 'text', 'before');
    await until([a!, b!], () => bodies(ben, 'room').length === 1, 'first message');
    bus.cut(b!.broker);
    await until([a!, b!], () => b!.cluster.problem() !== null, 'b sees the cut');
    for (let i = 0; i < 5; i++) await a!.hub.publish(ann, 'room', 'text', `during${i}`);
    // b's own members still hear b's own publishes while cut.
    bus.heal(b!.broker);
    await a!.hub.publish(ann, 'room', 'text', 'after');
    await until([a!, b!], () => bodies(ben, 'room').length === 7, 'b caught up');
    assert.deepEqual(bodies(ben, 'room'), ['before', 'during0', 'during1', 'during2', 'during3', 'during4', 'after']);
    assert.deepEqual(ben.msgs('message').map((m) => m['seq']), [1, 2, 3, 4, 5, 6, 7]);
    assert.equal(b!.cluster.problem(), null);
  });

  it('a node that goes silent loses its sessions after the lease: its users leave', async () => {
    const bus = new MemoryBus();
    const [a, b] = await Promise.all([startNode(bus, 'a'), startNode(bus, 'b')]);
    const ann = a!.connect('ann');
    await a!.hub.join(ann, 'live:z');
    const ghost = b!.connect('gus');
    await b!.hub.join(ghost, 'live:z');
    await until([a!, b!], () => a!.hub.isOnline('gus'), 'gus online on a');
    bus.cut(b!.broker);
    await until([a!], () => !a!.hub.isOnline('gus'), 'gus gone after the lease');
    assert.deepEqual(
      ann.msgs('presence').filter((p) => p['user'] === 'gus').map((p) => p['event']),
      ['join', 'leave'],
    );
    assert.deepEqual(a!.hub.presence({ user: 'x', grants: [] }, 'live:z').users, [{ user: 'ann', sessions: 1 }]);
  });

  it("a node whose lease ran out at another (its heartbeats late, not lost) gets its room wants back with the snapshot it is asked for", async () => {
    const bus = new MemoryBus();
    // b's clock: real time plus an offset, or, from `fastSince` on, running a thousand times as fast — so that whichever
    // comes first, a's heartbeat or b's beat, a heartbeat is always older than the lease when b next looks.
    let offset = 0;
    let fastSince: number | null = null;
    const bNow = (): number => Date.now() + offset + (fastSince === null ? 0 : (Date.now() - fastSince) * 1000);
    const [a, b] = await Promise.all([startNode(bus, 'a'), startNode(bus, 'b', {}, bNow)]);
    const ann = a!.connect('ann');
    await a!.hub.join(ann, 'live:lease');
    const ben = b!.connect('ben');
    await b!.hub.join(ben, 'live:lease');
    await until([a!, b!], () => b!.cluster.routes.destinations('live:lease')?.has('a') === true, "a's want at b");
    fastSince = Date.now();
    // b forgets a at its next beat: a's sessions (ann leaves) and the rooms a wants.
    await until([a!, b!], () => ben.msgs('presence').some((p) => p['user'] === 'ann' && p['event'] === 'leave'), 'ann gone at b');
    offset = bNow() - Date.now();
    fastSince = null;
    // a's next heartbeat is news to b, which asks a for its state: a's snapshot and its wants come back.
    await until([a!, b!], () => b!.cluster.routes.destinations('live:lease')?.has('a') === true && b!.hub.isOnline('ann'), "a's want and ann back at b");
    await b!.hub.publish(ben, 'live:lease', 'text', 'after the lease');
    await until([a!, b!], () => bodies(ann, 'live:lease').includes('after the lease'), 'b to a');
  });
});
