/**
 * The replicated presence (src/cluster/presence-state.ts): scenarios one by one, then a randomized run of three
 * nodes (and their successors) exchanging deltas, heartbeats and snapshots over a lossy bus, checked against a
 * model of what each live node really holds.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PresenceState, type PresenceListener, type PresenceOp, type PresenceSnapshot } from '../../src/cluster/presence-state.js';
import { seededRandom as mulberry32 } from '../helpers/seeded-random.js';

/** Every transition as a short line: `join r u`, `left r u`, `on u [local]`, `off u [local]`, `remote u id since node`. */
class Log implements PresenceListener {
  lines: string[] = [];
  roomJoined(room: string, user: string): void {
    this.lines.push(`join ${room} ${user}`);
  }
  roomLeft(room: string, user: string): void {
    this.lines.push(`left ${room} ${user}`);
  }
  userOnline(user: string, local: boolean): void {
    this.lines.push(`on ${user}${local ? ' local' : ''}`);
  }
  userOffline(user: string, local: boolean): void {
    this.lines.push(`off ${user}${local ? ' local' : ''}`);
  }
  remoteSession(user: string, id: string, since: number, node: string): void {
    this.lines.push(`remote ${user} ${id} ${since} ${node}`);
  }
  take(): string[] {
    const lines = this.lines;
    this.lines = [];
    return lines;
  }
}

function rig(self = 'A') {
  const log = new Log();
  const state = new PresenceState(self, log);
  const versions = new Map<string, number>();
  /** One delta of `node` with the next version, as if from the wire. */
  const from = (node: string, ...ops: unknown[]): boolean => {
    const ver = (versions.get(node) ?? 0) + 1;
    versions.set(node, ver);
    return state.applyDelta(node, { ver, ops: ops as PresenceOp[] }, 0);
  };
  return { state, log, from };
}

const EMPTY = { sessions: 0, rooms: 0, nodes: 0, pending: 0, byUser: 0, roomTotals: 0, owners: 0, transitions: 0 };

type Scenario = [name: string, run: (r: ReturnType<typeof rig>) => void, transitions: string[], check?: (s: PresenceState) => void];

const scenarios: Scenario[] = [
  [
    'online with the first local session, offline with the last',
    ({ state }) => {
      state.addSession('s1', 'u', 10);
      state.addSession('s2', 'u', 20);
      state.removeSession('s1');
      state.removeSession('s2');
    },
    ['on u local', 'off u local'],
  ],
  [
    'a room joined with the first session in it, left with the last',
    ({ state }) => {
      state.joinRoom('r', 'u');
      state.joinRoom('r', 'u');
      state.leaveRoom('r', 'u');
      state.leaveRoom('r', 'u');
      state.leaveRoom('r', 'u');
    },
    ['join r u', 'left r u'],
    (s) => assert.equal(s.roomUserSessions('r', 'u'), 0),
  ],
  [
    'the cluster-wide count decides: a local join beside a remote one is no transition',
    ({ state, from }) => {
      from('B', ['r+', 'r', 'u']);
      state.joinRoom('r', 'u');
      from('B', ['r-', 'r', 'u']);
      state.leaveRoom('r', 'u');
    },
    ['join r u', 'left r u'],
  ],
  [
    "another node's r- of a pair it does not have takes nothing from this node's",
    ({ state, from }) => {
      state.joinRoom('r', 'u');
      from('B', ['r-', 'r', 'u'], ['r+', 'r', 'u'], ['r-', 'r', 'u'], ['r-', 'r', 'u'], ['s-', 'nope']);
    },
    ['join r u'],
    (s) => assert.deepEqual(s.roomPresence('r'), [['u', 1]]),
  ],
  [
    'the same node adding an id again: the same row is nothing, a new since an update',
    ({ from }) => {
      from('B', ['s+', 'x', 'u', 1]);
      from('B', ['s+', 'x', 'u', 1]);
      from('B', ['s+', 'x', 'u', 5]);
    },
    ['on u', 'remote u x 1 B', 'remote u x 5 B'],
    (s) => assert.deepEqual(s.sessionsOf('u'), [{ id: 'x', node: 'B', since: 5 }]),
  ],
  [
    'the same node adding an id for another user moves it: the new user gains it before the old one loses it',
    ({ from }) => {
      from('B', ['s+', 'x', 'u', 1], ['s+', 'x', 'v', 2]);
    },
    ['on u', 'remote u x 1 B', 'on v', 'off u', 'remote v x 2 B'],
    (s) => assert.equal(s.userSessions('u'), 0),
  ],
  [
    'two nodes claiming one id are both kept; the smallest node id answers for it',
    ({ state, from }) => {
      from('C', ['s+', 'x', 'w', 2]);
      state.addSession('x', 'u', 1);
      from('B', ['s+', 'x', 'v', 3]);
      assert.equal(state.sessionNode('x'), 'A');
      state.removeSession('x');
      assert.equal(state.sessionNode('x'), 'B');
      from('B', ['s-', 'x']);
    },
    ['on w', 'remote w x 2 C', 'on u local', 'on v', 'remote v x 3 B', 'off u local', 'off v'],
    (s) => {
      assert.equal(s.sessionNode('x'), 'C');
      assert.deepEqual(s.sessionsOf('w'), [{ id: 'x', node: 'C', since: 2 }]);
    },
  ],
  [
    'malformed ops are skipped and the rest of the delta applies',
    ({ from }) => {
      const ok = from('B', ['s+', 1, 'u', 1], ['s+', 'x', 'u', 'soon'], ['s+', 'x', 'u', NaN], ['r+', 'r'], 'r+', null, ['zz', 'a', 'b'], ['s+', 'y', 'u', 3]);
      assert.equal(ok, true);
    },
    ['on u', 'remote u y 3 B'],
  ],
  [
    'names are keys, never properties: __proto__, constructor, the empty string',
    ({ state, from }) => {
      state.addSession('__proto__', '__proto__', 1);
      state.joinRoom('constructor', '__proto__');
      from('B', ['s+', 'constructor', '', 2], ['r+', '', 'hasOwnProperty']);
    },
    ['on __proto__ local', 'join constructor __proto__', 'on ', 'remote  constructor 2 B', 'join  hasOwnProperty'],
    (s) => {
      assert.equal(s.userSessions('__proto__'), 1);
      assert.equal(s.sessionNode('constructor'), 'B');
      assert.deepEqual(s.roomPresence(''), [['hasOwnProperty', 1]]);
      assert.deepEqual(s.roomPresence('toString'), []);
      assert.equal(s.userSessions('toString'), 0);
      assert.equal(s.sessionNode('toString'), undefined);
      assert.equal(s.isOnline('valueOf'), false);
    },
  ],
  [
    'a node that goes away takes its entries along (rooms left before users go offline), and only its own',
    ({ state, from }) => {
      state.addSession('a1', 'u', 1);
      state.joinRoom('r', 'u');
      from('B', ['s+', 'b1', 'u', 2], ['s+', 'b2', 'v', 3], ['r+', 'r', 'u'], ['r+', 'r', 'v'], ['r+', 'q', 'v']);
      state.removeNode('B');
      state.removeNode('B');
    },
    ['on u local', 'join r u', 'remote u b1 2 B', 'on v', 'remote v b2 3 B', 'join r v', 'join q v', 'left r v', 'left q v', 'off v'],
    (s) => {
      assert.deepEqual(s.roomPresence('r'), [['u', 1]]);
      assert.deepEqual(s.sessionsOf('u'), [{ id: 'a1', node: 'A', since: 1 }]);
      assert.deepEqual(s.nodes(), []);
    },
  ],
];

describe('PresenceState scenarios', () => {
  for (const [name, run, transitions, check] of scenarios) {
    it(name, () => {
      const r = rig();
      run(r);
      assert.deepEqual(r.log.take(), transitions);
      check?.(r.state);
    });
  }
});

describe('PresenceState versions, leases and snapshots', () => {
  it('records its own changes as deltas, one version each, only changes that changed something', () => {
    const { state } = rig();
    assert.equal(state.takeDelta(), null);
    state.addSession('s', 'u', 1);
    state.addSession('s', 'u', 1);
    state.removeSession('nope');
    state.leaveRoom('r', 'u');
    state.joinRoom('r', 'u');
    assert.deepEqual(state.takeDelta(), { ver: 1, ops: [['s+', 's', 'u', 1], ['r+', 'r', 'u']] });
    assert.equal(state.takeDelta(), null);
    state.removeSession('s');
    assert.deepEqual(state.takeDelta(), { ver: 2, ops: [['s-', 's']] });
    assert.equal(state.version, 2);
  });

  it('applies a delta only if it follows the version known: an unknown node at 1, then in order', () => {
    const { state, log } = rig();
    const d = (ver: number, ...ops: PresenceOp[]) => ({ ver, ops });
    assert.equal(state.applyDelta('B', d(2, ['s+', 'x', 'u', 1]), 0), false, 'an unknown node past 1: ask for its snapshot');
    assert.deepEqual(state.nodes(), [], 'and not registered by it');
    assert.equal(state.applyDelta('B', d(1, ['s+', 'x', 'u', 1]), 0), true);
    assert.equal(state.applyDelta('B', d(3, ['s-', 'x']), 0), false, 'a gap');
    assert.equal(state.applyDelta('B', d(1, ['s-', 'x']), 0), false, 'a repeat');
    assert.equal(state.applyDelta('B', { ver: 2 } as never, 0), false, 'no ops');
    assert.equal(state.applyDelta('B', null as never, 0), false, 'no delta at all');
    assert.equal(state.userSessions('u'), 1, 'none of the refused ones applied');
    assert.equal(state.applyDelta('A', d(7, ['s+', 'y', 'u', 1]), 0), true, 'this node hearing itself: ignored');
    assert.equal(state.applyDelta('B', d(2, ['s-', 'x']), 0), true);
    assert.deepEqual(log.take(), ['on u', 'remote u x 1 B', 'off u']);
  });

  it('heartbeats: an unknown node is registered only at 0; a version other than the one applied is false', () => {
    const { state } = rig();
    assert.equal(state.heard('B', 3, 0), false);
    assert.deepEqual(state.nodes(), []);
    assert.equal(state.heard('B', 0, 0), true);
    assert.deepEqual(state.nodes(), ['B']);
    assert.equal(state.applyDelta('B', { ver: 1, ops: [] }, 0), true);
    assert.equal(state.heard('B', 1, 0), true);
    assert.equal(state.heard('B', 2, 0), false, 'missed a delta');
    assert.equal(state.heard('B', 0, 0), false, 'behind what was applied: not the version either');
    assert.equal(state.heard('A', 99, 0), true, 'itself');
  });

  it('expires a silent node after its lease, with its transitions; every message renews the lease, a refused one too', () => {
    const { state, log } = rig();
    state.addSession('a1', 'u', 1);
    state.joinRoom('r', 'u');
    state.applyDelta('B', { ver: 1, ops: [['s+', 'b1', 'u', 2], ['s+', 'b2', 'v', 3], ['r+', 'r', 'u'], ['r+', 'r', 'v']] }, 1000);
    state.heard('C', 0, 1000);
    log.take();
    assert.equal(state.applyDelta('B', { ver: 9, ops: [] }, 5000), false);
    state.applySnapshot('C', { ver: 0, sessions: [['c1', 'w', 4]], rooms: [] }, 2000);
    assert.deepEqual(state.expire(7000, 5000), [], 'B heard at 5000, C at 2000: not more than 5000 ago');
    assert.deepEqual(state.expire(7001, 5000), ['C']);
    assert.deepEqual(log.take(), ['on w', 'remote w c1 4 C', 'off w']);
    assert.deepEqual(state.expire(100_000, 5000), ['B'], 'never itself');
    assert.deepEqual(log.take(), ['left r v', 'off v']);
    assert.deepEqual(state.roomPresence('r'), [['u', 1]]);
    assert.deepEqual(state.sessionsOf('u'), [{ id: 'a1', node: 'A', since: 1 }]);
    assert.deepEqual(state.nodes(), []);
  });

  it('forgets every other node at once', () => {
    const { state, from, log } = rig();
    from('B', ['s+', 'b', 'u', 1]);
    from('C', ['r+', 'r', 'u']);
    log.take();
    assert.deepEqual(state.forgetOthers().sort(), ['B', 'C']);
    assert.deepEqual(log.take(), ['off u', 'left r u']);
    assert.deepEqual(state.internalSizes(), EMPTY);
  });

  it('a snapshot rebuilds a node elsewhere; the listener hears only the differences, gains before losses', () => {
    const b = rig('B');
    b.state.addSession('x', 'u', 1);
    b.state.addSession('y', 'v', 2);
    b.state.joinRoom('r', 'u');
    b.state.joinRoom('r', 'u');
    b.state.joinRoom('q', 'v');
    b.state.takeDelta();
    const { state, log } = rig();
    state.applySnapshot('B', b.state.snapshot(), 0);
    assert.deepEqual(log.take(), ['on u', 'remote u x 1 B', 'on v', 'remote v y 2 B', 'join r u', 'join q v']);
    state.applySnapshot('B', b.state.snapshot(), 0);
    assert.deepEqual(log.take(), [], 'the same again: nothing');

    // x goes, z comes for u (u stays online); y passes from v to w; r drops to 1; q passes from v to w; s is new.
    const next: PresenceSnapshot = { ver: 3, sessions: [['z', 'u', 7], ['y', 'w', 8]], rooms: [['r', 'u', 1], ['q', 'w', 1], ['s', 'u', 1]] };
    state.applySnapshot('B', next, 0);
    assert.deepEqual(log.take(), ['remote u z 7 B', 'on w', 'remote w y 8 B', 'join q w', 'join s u', 'left q v', 'off v']);
    assert.deepEqual(state.roomPresence('r'), [['u', 1]]);
    assert.equal(state.sessionNode('x'), undefined);

    state.applySnapshot('B', { ver: 2, sessions: [], rooms: [] }, 0);
    assert.deepEqual(log.take(), [], 'older than the version applied: ignored');
    assert.equal(state.applyDelta('B', { ver: 4, ops: [['s-', 'z']] }, 0), true, 'deltas go on from the snapshot');
  });

  it('a snapshot that swaps ids between users takes nobody offline on the way', () => {
    const { state, log, from } = rig();
    from('B', ['s+', 'a', 'x', 1], ['s+', 'c', 'u', 1]);
    log.take();
    state.applySnapshot('B', { ver: 5, sessions: [['a', 'y', 1], ['b', 'x', 1], ['c', 'v', 1], ['d', 'u', 1]], rooms: [] }, 0);
    const lines = log.take();
    assert.deepEqual(lines.filter((l) => l.startsWith('o')), ['on y', 'on v']);
  });

  it('a malformed snapshot is ignored whole; malformed rows are skipped, a repeated key takes the last row', () => {
    const { state, log } = rig();
    state.applySnapshot('B', { ver: 1, sessions: 'x' } as never, 0);
    assert.deepEqual(state.nodes(), []);
    const rows = { ver: 1, sessions: [['x', 'u', 1], ['x', 'v', 2], ['y', 3, 3], 'z'], rooms: [['r', 'u', 2], ['r', 'u', 1], ['q', 'u', 0], ['p', 'u', 1.5]] };
    state.applySnapshot('B', rows as never, 0);
    assert.deepEqual(log.take(), ['on v', 'remote v x 2 B', 'join r u']);
    assert.equal(state.roomUserSessions('r', 'u'), 1);
  });

  it('a snapshot taken with ops pending is at the old version: the next delta repeats them (hence takeDelta first)', () => {
    const b = rig('B');
    b.state.joinRoom('r', 'u');
    const snap = b.state.snapshot();
    assert.equal(snap.ver, 0);
    const { state } = rig();
    state.applySnapshot('B', snap, 0);
    assert.equal(state.applyDelta('B', b.state.takeDelta()!, 0), true);
    assert.equal(state.roomUserSessions('r', 'u'), 2, 'counted twice: the documented consequence');
  });

  it('the listener may call back in: what that causes comes after; one that throws loses nothing', () => {
    const lines: string[] = [];
    let fail = true;
    const state: PresenceState = new PresenceState('A', {
      roomJoined: (room, user) => {
        lines.push(`join ${room} ${user}`);
        if (room === 'r') state.joinRoom('echo', user);
      },
      roomLeft: (room, user) => lines.push(`left ${room} ${user}`),
      userOnline: (user) => {
        lines.push(`on ${user}`);
        if (fail) throw new Error('listener');
      },
    });
    assert.throws(() => state.applyDelta('B', { ver: 1, ops: [['s+', 'x', 'u', 1], ['r+', 'r', 'u']] }, 0), /listener/);
    assert.deepEqual(lines, ['on u']);
    fail = false;
    state.leaveRoom('r', 'u');
    assert.deepEqual(lines, ['on u', 'join r u', 'join echo u']);
    assert.equal(state.userSessions('u'), 1);
  });
});

// ── the randomized run ─────────────────────────────────────────────────────

/** Checks that transitions alternate per key and keeps what they add up to. */
class Balance implements PresenceListener {
  readonly present = new Set<string>();
  readonly online = new Set<string>();
  events = 0;
  roomJoined(room: string, user: string): void {
    this.flip(this.present, key(room, user), true);
  }
  roomLeft(room: string, user: string): void {
    this.flip(this.present, key(room, user), false);
  }
  userOnline(user: string): void {
    this.flip(this.online, user, true);
  }
  userOffline(user: string): void {
    this.flip(this.online, user, false);
  }
  private flip(set: Set<string>, key: string, on: boolean): void {
    assert.equal(set.has(key), !on, `${on ? 'joined/online' : 'left/offline'} twice in a row: ${key}`);
    if (on) set.add(key);
    else set.delete(key);
    this.events++;
  }
}

interface Sim {
  id: string;
  state: PresenceState;
  bal: Balance;
  /** The truth: what this node holds. Rooms by `room|user` (no name here has a |). */
  sessions: Map<string, [string, number]>;
  rooms: Map<string, number>;
}

const key = (room: string, user: string): string => `${room}|${user}`;

const USERS = ['u0', 'u1', 'u2', '__proto__'];
const ROOMS = ['r0', 'r1', 'constructor', ''];
const IDS = ['s0', 's1', 's2', 's3', 's4', 's5', 's6', 's7'];
const LEASE = 1000;

function cluster(seed: number) {
  const rnd = mulberry32(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  let now = 0;
  let started = 0;
  const live: Sim[] = [];
  const old: [string, PresenceSnapshot][] = [];
  const start = (): void => {
    const id = `n${started++}`;
    const bal = new Balance();
    live.push({ id, state: new PresenceState(id, bal), bal, sessions: new Map(), rooms: new Map() });
  };
  for (let i = 0; i < 3; i++) start();

  /** Runs `f` on `to` and checks it caused exactly the differences (no leave+join, no offline+online). */
  const exact = (to: Sim, f: () => void): void => {
    const before = [new Set(to.bal.present), new Set(to.bal.online)] as const;
    const events = to.bal.events;
    f();
    const diff = (a: Set<string>, b: Set<string>) => [...a].filter((k) => !b.has(k)).length + [...b].filter((k) => !a.has(k)).length;
    assert.equal(to.bal.events - events, diff(before[0], to.bal.present) + diff(before[1], to.bal.online), 'only the differences');
  };
  /** `to` asks `from` for a snapshot; `from` sends its pending delta first, as the protocol says. */
  const resync = (to: Sim, from: Sim, loss: number): void => {
    publish(from, loss);
    const snap = from.state.snapshot();
    old.push([from.id, snap]);
    if (rnd() >= loss) exact(to, () => to.state.applySnapshot(from.id, snap, now));
  };
  const publish = (from: Sim, loss: number): void => {
    const d = from.state.takeDelta();
    if (d === null) return;
    for (const to of live) {
      if (to === from || rnd() < loss) continue;
      if (!to.state.applyDelta(from.id, d, now)) resync(to, from, loss);
    }
  };
  const beat = (from: Sim, loss: number): void => {
    for (const to of live) if (to !== from && rnd() >= loss && !to.state.heard(from.id, from.state.version, now)) resync(to, from, loss);
  };
  const local = (s: Sim): void => {
    const x = rnd();
    const room = pick(ROOMS);
    const user = pick(USERS);
    const id = pick(IDS);
    if (x < 0.3) {
      const since = Math.floor(rnd() * 5);
      s.state.addSession(id, user, since);
      s.sessions.set(id, [user, since]);
    } else if (x < 0.55) {
      s.state.removeSession(id);
      s.sessions.delete(id);
    } else if (x < 0.8) {
      s.state.joinRoom(room, user);
      s.rooms.set(key(room, user), (s.rooms.get(key(room, user)) ?? 0) + 1);
    } else leave(s, room, user);
  };
  const leave = (s: Sim, room: string, user: string): void => {
    s.state.leaveRoom(room, user);
    const n = (s.rooms.get(key(room, user)) ?? 0) - 1;
    if (n > 0) s.rooms.set(key(room, user), n);
    else s.rooms.delete(key(room, user));
  };
  /** Every session and room of `s` goes, in random order. */
  const drain = (s: Sim): void => {
    const steps: (() => void)[] = [];
    for (const id of s.sessions.keys()) {
      steps.push(() => {
        s.state.removeSession(id);
        s.sessions.delete(id);
      });
    }
    for (const [k, n] of s.rooms) {
      const [room, user] = k.split('|') as [string, string];
      for (let i = 0; i < n; i++) steps.push(() => leave(s, room, user));
    }
    while (steps.length > 0) steps.splice(Math.floor(rnd() * steps.length), 1)[0]!();
  };

  /** One random step of the world; true if it was a local change. */
  const step = (): boolean => {
    const s = pick(live);
    const x = rnd();
    if (x < 0.6) local(s);
    else if (x < 0.75) publish(s, 0.1);
    else if (x < 0.85) beat(s, 0.1);
    else if (x < 0.9) {
      now += Math.floor(rnd() * LEASE * 0.6);
      for (const t of live) exact(t, () => t.state.expire(now, LEASE));
    } else if (x < 0.92 && old.length > 0) {
      // A snapshot that took the long way: older than what is known (ignored), or not (applied).
      const [id, snap] = pick(old);
      const to = pick(live);
      if (to.id !== id) exact(to, () => to.state.applySnapshot(id, snap, now));
    } else if (x < 0.925) {
      // A node dies, with a goodbye or without, and another starts.
      live.splice(live.indexOf(s), 1);
      if (rnd() < 0.5) for (const t of live) exact(t, () => t.state.removeNode(s.id));
      start();
    }
    return x < 0.6;
  };

  /** No loss, everyone says everything, the dead expire. */
  const settle = (): void => {
    for (const s of live) publish(s, 0);
    now += LEASE + 1;
    for (const s of live) beat(s, 0);
    for (const t of live) exact(t, () => t.state.expire(now, LEASE));
  };
  return { live, step, settle, drain };
}

/** What `s` must say, from the truth of every live node. */
function compare(s: Sim, live: Sim[]): void {
  const { state } = s;
  assert.deepEqual(state.nodes().sort(), live.filter((o) => o !== s).map((o) => o.id).sort());
  for (const user of USERS) {
    const want = live
      .flatMap((o) => [...o.sessions].filter(([, [u]]) => u === user).map(([id, [, since]]) => ({ id, node: o.id, since })))
      .sort((a, b) => a.since - b.since || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0) || (a.node < b.node ? -1 : 1));
    assert.deepEqual(state.sessionsOf(user), want, `sessions of ${user} on ${s.id}`);
    assert.equal(state.userSessions(user), want.length);
    assert.equal(state.isOnline(user), want.length > 0);
    assert.equal(s.bal.online.has(user), want.length > 0, `${user} online as the listener heard it`);
  }
  for (const id of IDS) {
    const holders = live.filter((o) => o.sessions.has(id)).map((o) => o.id).sort();
    assert.equal(state.sessionNode(id), holders[0], `node of ${id}`);
  }
  for (const room of ROOMS) {
    const want = new Map<string, number>();
    for (const o of live) for (const user of USERS) want.set(user, (want.get(user) ?? 0) + (o.rooms.get(key(room, user)) ?? 0));
    const expected = [...want].filter(([, n]) => n > 0).sort();
    assert.deepEqual([...state.roomPresence(room)].sort(), expected, `room ${JSON.stringify(room)} on ${s.id}`);
    for (const [user, n] of want) {
      assert.equal(state.roomUserSessions(room, user), n);
      assert.equal(s.bal.present.has(key(room, user)), n > 0, 'room presence as the listener heard it');
    }
  }
}

describe('PresenceState, randomized against a model', () => {
  for (const seed of [1, 2, 3]) {
    it(`seed ${seed}: 10,000 local changes across nodes that lose messages, die and start; all agree in the end, and nothing is left`, () => {
      const { live, step, settle, drain } = cluster(seed);
      for (let changes = 0; changes < 10_000; ) if (step()) changes++;
      settle();
      for (const s of live) compare(s, live);

      // Everything goes, in random order, and no map keeps a trace of the churn.
      for (const s of live) drain(s);
      settle();
      for (const s of live) {
        compare(s, live);
        assert.deepEqual(s.state.internalSizes(), { ...EMPTY, nodes: live.length - 1 }, `internal sizes on ${s.id}`);
        s.state.forgetOthers();
        assert.deepEqual(s.state.internalSizes(), EMPTY);
      }
    });
  }
});
