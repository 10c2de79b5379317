/**
 * The command pipeline without a socket: a fake host records what would be
 * pushed to the client and the close codes, and answers `authenticate` with a
 * promise the test settles; a real Hub (no store) runs the commands; a fake
 * rate gate says ok, refuse or flood as told.
 *
 * `settle()` waits for one macrotask turn, by which time every promise
 * reaction the pipeline chained has run (no timers, no sleeps).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CommandPipeline, type HostState, type PipelineDeps, type PipelineHost, type RateGate } from '../../src/commands/pipeline.js';
import { HubError } from '../../src/hub/errors.js';
import { Hub, type HubOptions, type JoinResult } from '../../src/hub/hub.js';
import type { HubSession } from '../../src/hub/session.js';
import type { SharedBatch, Tick } from '../../src/outbound/shared-batch.js';
import { CloseCode, ErrorCode } from '../../src/protocol/codes.js';
import type { RequestId } from '../../src/protocol/commands.js';
import { jsonCodec } from '../../src/protocol/json-codec.js';
import type { ServerPush } from '../../src/protocol/pushes.js';

function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** A deferred promise: the test decides when (and how) it settles. */
function deferred<T = void>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

let nextSession = 0;

class FakeSession implements HubSession {
  readonly id = `s${++nextSession}`;
  grants: readonly string[] = [];
  readonly rooms = new Set<string>();
  /** What the hub delivered (direct Buffers, and shared batches read from their start). */
  readonly delivered: (Buffer | { batch: SharedBatch; start: number })[] = [];
  readonly closes: number[] = [];

  constructor(readonly user: string) {}

  send(bytes: Buffer): void {
    this.delivered.push(bytes);
  }

  sendShared(batch: SharedBatch, start: number): void {
    this.delivered.push({ batch, start });
  }

  close(code: number): void {
    this.closes.push(code);
  }

  /** The bodies of the room messages delivered so far. */
  bodies(): unknown[] {
    return this.delivered
      .flatMap((d) => (Buffer.isBuffer(d) ? [d] : d.batch.chunks.slice(d.start)))
      .map((b) => JSON.parse(b.toString()) as { type: string; body?: unknown })
      .filter((m) => m.type === 'message')
      .map((m) => m.body);
  }
}

interface PendingAuth {
  id: RequestId | undefined;
  token: string;
  resume: boolean;
  resolve(): void;
  reject(err: unknown): void;
}

class FakeHost implements PipelineHost {
  state: HostState = 'pending';
  readonly session: FakeSession;
  readonly pushes: ServerPush[] = [];
  readonly closes: { code: number; reason: string }[] = [];
  /** Calls of authenticate not yet settled by the test. */
  readonly auths: PendingAuth[] = [];

  constructor(
    private readonly hub: Hub,
    user = 'alice',
  ) {
    this.session = new FakeSession(user);
  }

  push(message: ServerPush): void {
    this.pushes.push(message);
  }

  close(code: number, reason: string): void {
    this.closes.push({ code, reason });
    this.state = 'closing';
  }

  authenticate(id: RequestId | undefined, token: string, resume: boolean): Promise<void> {
    const d = deferred();
    this.auths.push({ id, token, resume, resolve: d.resolve, reject: d.reject });
    return d.promise;
  }

  /** Answers the oldest authenticate as the connection does for a good token: opens the session, replies. */
  accept(): void {
    const a = this.auths.shift();
    assert.ok(a, 'an authenticate call is pending');
    assert.deepEqual(this.hub.connect(this.session), { ok: true });
    this.state = 'open';
    if (a.id !== undefined) this.push({ type: 'reply', id: a.id, data: { session: this.session.id, user: this.session.user } });
    a.resolve();
  }

  /** Answers the oldest authenticate as the connection does for a bad token: closes. */
  refuse(): void {
    const a = this.auths.shift();
    assert.ok(a, 'an authenticate call is pending');
    this.close(CloseCode.Unauthorized, 'invalid token');
    a.resolve();
  }

  /** Opens at once (skipping auth), for tests about commands of an open session. */
  open(): void {
    assert.deepEqual(this.hub.connect(this.session), { ok: true });
    this.state = 'open';
  }

  /** Pushes seen so far, then forgets them. */
  take(): ServerPush[] {
    return this.pushes.splice(0);
  }
}

class FakeGate implements RateGate {
  /** Verdicts to give, in order; 'ok' once they run out. */
  readonly verdicts: ('ok' | 'refuse' | 'flood')[] = [];
  takes = 0;
  readonly charged: number[] = [];

  take(): 'ok' | 'refuse' | 'flood' {
    this.takes++;
    return this.verdicts.shift() ?? 'ok';
  }

  charge(tokens: number): void {
    this.charged.push(tokens);
  }
}

const LIMITS = { messagesPerSecond: 50, burst: 3, maxTextLength: 100 };

function hubOptions(overrides: Partial<HubOptions> = {}): HubOptions {
  const tick: Tick = { epoch: 1 };
  let ids = 0;
  return {
    tick,
    now: () => 1_000,
    nextId: () => `m${++ids}`,
    roomRules: [
      { match: 'private:*', kind: 'private' },
      { match: 'push:*', kind: 'push' },
    ],
    presenceEvents: false,
    roomsPerSession: 100,
    sessionPolicy: 'multiple',
    maxSessionsPerUser: 10,
    ...overrides,
  };
}

function rig(hub: Hub = new Hub(hubOptions())) {
  const host = new FakeHost(hub);
  const gate = new FakeGate();
  const logged: { obj: object; msg: string }[] = [];
  const deps: PipelineDeps = { hub, limits: LIMITS, log: { error: (obj, msg) => logged.push({ obj, msg }) }, now: () => 1_000 };
  const pipeline = new CommandPipeline(host, deps, gate);
  return {
    hub,
    host,
    gate,
    logged,
    pipeline,
    /** One decoded message, as the codec hands it over. */
    send(value: unknown): void {
      pipeline.receive({ ok: true, value });
    },
    /** A whole text frame from the client, through the JSON codec. */
    frame(text: string): void {
      jsonCodec.decode(Buffer.from(text, 'utf8'), pipeline.receive);
    },
  };
}

/** A hub whose joins the test answers (as a durable room's store read would be). */
class GatedHub extends Hub {
  readonly gates: { room: string; gate: ReturnType<typeof deferred<void>> }[] = [];

  override join(s: HubSession, name: string, since?: number): Promise<JoinResult> {
    const gate = deferred<void>();
    this.gates.push({ room: name, gate });
    return gate.promise.then(() => super.join(s, name, since));
  }
}

describe('CommandPipeline: answered at once', () => {
  it('ping → pong with its id (without one, a bare pong), even before auth', () => {
    const r = rig();
    r.send({ type: 'ping', id: 7 });
    r.send({ type: 'ping', id: 'p-1' });
    r.send({ type: 'ping' });
    assert.deepEqual(r.host.take(), [{ type: 'pong', id: 7 }, { type: 'pong', id: 'p-1' }, { type: 'pong' }]);
    r.host.open();
    r.send({ type: 'ping', id: 8 });
    assert.deepEqual(r.host.take(), [{ type: 'pong', id: 8 }]);
  });

  it('invalid JSON → invalid_json, without an id; the other lines of the frame still run', () => {
    const r = rig();
    r.frame('{"type":"ping","id":1}\n{"type":"ping","id":2\n{"type":"ping","id":3}');
    const pushes = r.host.take();
    assert.equal(pushes.length, 3);
    assert.deepEqual(pushes[0], { type: 'pong', id: 1 });
    const err = pushes[1]!;
    assert.ok(err.type === 'error');
    assert.equal(err.code, ErrorCode.InvalidJson);
    assert.equal('id' in err, false, 'a line that is not JSON has no id to echo');
    assert.match(err.message, /^not valid JSON: ./);
    assert.deepEqual(pushes[2], { type: 'pong', id: 3 });
  });

  it('unknown type → unknown_type with the id', () => {
    const r = rig();
    r.send({ type: 'dance', id: 'a' });
    r.send({ id: 4 });
    r.send(42);
    r.send({ type: 'toString', id: 5 });
    assert.deepEqual(r.host.take(), [
      { type: 'error', id: 'a', code: ErrorCode.UnknownType, message: 'unknown type "dance"' },
      { type: 'error', id: 4, code: ErrorCode.UnknownType, message: 'a message needs a type' },
      { type: 'error', code: ErrorCode.UnknownType, message: 'a message needs a type' },
      { type: 'error', id: 5, code: ErrorCode.UnknownType, message: 'unknown type "toString"' },
    ]);
  });

  it('a schema failure → invalid_request naming the command and the field', () => {
    const r = rig();
    r.host.open();
    r.send({ type: 'join', id: 1, room: 'bad room' });
    r.send({ type: 'join', id: 2 });
    r.send({ type: 'publish', id: 3, room: 'general', body: 'hi', from: 'mallory' });
    const [bad, missing, unknown, ...rest] = r.host.take();
    assert.deepEqual(rest, []);
    for (const [push, id] of [
      [bad, 1],
      [missing, 2],
      [unknown, 3],
    ] as const) {
      assert.ok(push?.type === 'error');
      assert.equal(push.id, id);
      assert.equal(push.code, ErrorCode.InvalidRequest);
    }
    assert.match((bad as { message: string }).message, /^join: room: /);
    assert.match((missing as { message: string }).message, /^join: room: /);
    assert.equal((unknown as { message: string }).message, 'publish: unknown field(s): from');
    assert.equal(r.hub.stats().rooms, 0, 'nothing ran');
  });

  it('commands before auth → not_authenticated with the id', () => {
    const r = rig();
    r.send({ type: 'join', id: 1, room: 'general' });
    r.send({ type: 'rooms' });
    assert.deepEqual(r.host.take(), [
      { type: 'error', id: 1, code: ErrorCode.NotAuthenticated, message: 'send auth with a token first' },
      { type: 'error', code: ErrorCode.NotAuthenticated, message: 'send auth with a token first' },
    ]);
    assert.equal(r.hub.stats().rooms, 0);
  });
});

describe('CommandPipeline: parking behind auth and join', () => {
  it('auth, join and publish sent back to back wait for authenticate, then run in order', async () => {
    const r = rig();
    r.frame(
      [
        '{"type":"auth","id":1,"token":"t0k3n"}',
        '{"type":"join","id":2,"room":"general"}',
        '{"type":"publish","id":3,"room":"general","body":"hi"}',
        '{"type":"rooms","id":4}',
      ].join('\n'),
    );
    assert.deepEqual(
      r.host.auths.map((a) => [a.id, a.token, a.resume]),
      [[1, 't0k3n', false]],
    );
    await settle();
    assert.deepEqual(r.host.pushes, [], 'nothing answered while the token is being checked');
    assert.equal(r.hub.stats().rooms, 0, 'the join has not run');

    r.host.accept();
    await settle();
    assert.deepEqual(r.host.take(), [
      { type: 'reply', id: 1, data: { session: r.host.session.id, user: 'alice' } },
      { type: 'reply', id: 2, data: { room: 'general', kind: 'public', durable: false, seq: 0 } },
      { type: 'reply', id: 3, data: { id: 'm1', seq: 1, ts: 1_000 } },
      { type: 'reply', id: 4, data: { rooms: ['general'] } },
    ]);
    assert.deepEqual(r.host.session.bodies(), ['hi'], 'the publish reached the room it had just joined');

    // Parking is over: the next command runs at once.
    r.send({ type: 'leave', id: 5, room: 'general' });
    assert.deepEqual(r.host.take(), [{ type: 'reply', id: 5, data: { room: 'general' } }]);
  });

  it('passes resume to authenticate', () => {
    const r = rig();
    r.send({ type: 'auth', token: 't', resume: true });
    assert.deepEqual(
      r.host.auths.map((a) => [a.id, a.resume]),
      [[undefined, true]],
    );
  });

  it('a ping is answered at once, even while commands are parked', async () => {
    const r = rig();
    r.send({ type: 'auth', id: 1, token: 't' });
    r.send({ type: 'rooms', id: 2 });
    r.send({ type: 'ping', id: 3 });
    assert.deepEqual(r.host.take(), [{ type: 'pong', id: 3 }]);
    r.host.accept();
    await settle();
    assert.deepEqual(
      r.host.take().map((p) => p.type === 'reply' && p.id),
      [1, 2],
    );
  });

  it('a refused auth (the host closes) drops what was parked: nothing is pushed', async () => {
    const r = rig();
    r.send({ type: 'auth', id: 1, token: 'bad' });
    r.send({ type: 'join', id: 2, room: 'general' });
    r.send({ type: 'rooms', id: 3 });
    r.host.refuse();
    await settle();
    assert.deepEqual(r.host.pushes, []);
    assert.deepEqual(
      r.host.closes.map((c) => c.code),
      [CloseCode.Unauthorized],
    );
    assert.equal(r.hub.stats().rooms, 0);
  });

  it('more than `burst` commands while parked → rate_limited for the extra ones; the parked ones still run', async () => {
    const r = rig();
    r.send({ type: 'auth', id: 1, token: 't' });
    for (const id of [10, 11, 12, 13, 14]) r.send({ type: 'rooms', id });
    assert.deepEqual(r.host.take(), [
      { type: 'error', id: 13, code: ErrorCode.RateLimited, message: 'too many commands while an auth or a join is in progress' },
      { type: 'error', id: 14, code: ErrorCode.RateLimited, message: 'too many commands while an auth or a join is in progress' },
    ]);
    r.host.accept();
    await settle();
    assert.deepEqual(
      r.host.take().map((p) => p.type === 'reply' && p.id),
      [1, 10, 11, 12],
    );
  });

  it('a join the hub answers later parks what follows it, in order, until it is answered', async () => {
    const hub = new GatedHub(hubOptions());
    const r = rig(hub);
    r.host.open();
    r.send({ type: 'join', id: 1, room: 'general' });
    r.send({ type: 'publish', id: 2, room: 'general', body: 'after join' });
    r.send({ type: 'join', id: 3, room: 'other' });
    r.send({ type: 'rooms', id: 4 });
    assert.equal(hub.gates.length, 1, 'the second join waits behind the first');
    await settle();
    assert.deepEqual(r.host.pushes, []);

    hub.gates[0]!.gate.resolve();
    await settle();
    assert.deepEqual(r.host.take(), [
      { type: 'reply', id: 1, data: { room: 'general', kind: 'public', durable: false, seq: 0 } },
      { type: 'reply', id: 2, data: { id: 'm1', seq: 1, ts: 1_000 } },
    ]);
    assert.equal(hub.gates.length, 2, 'the second join is being answered; rooms waits behind it');

    hub.gates[1]!.gate.resolve();
    await settle();
    assert.deepEqual(r.host.take(), [
      { type: 'reply', id: 3, data: { room: 'other', kind: 'public', durable: false, seq: 0 } },
      { type: 'reply', id: 4, data: { rooms: ['general', 'other'] } },
    ]);
  });

  it('a join that fails still lets what waited behind it run', async () => {
    const hub = new GatedHub(hubOptions());
    const r = rig(hub);
    r.host.open();
    r.send({ type: 'join', id: 1, room: 'private:x' });
    r.send({ type: 'rooms', id: 2 });
    hub.gates[0]!.gate.resolve();
    await settle();
    assert.deepEqual(r.host.take(), [
      { type: 'error', id: 1, code: ErrorCode.Forbidden, message: 'room private:x is private and your token does not grant it' },
      { type: 'reply', id: 2, data: { rooms: [] } },
    ]);
  });
});

describe('CommandPipeline: the rate gate', () => {
  it("'refuse' → rate_limited with the id, and the command does not run", () => {
    const r = rig();
    r.host.open();
    r.gate.verdicts.push('refuse', 'refuse');
    r.send({ type: 'join', id: 9, room: 'general' });
    r.send({ type: 'ping' });
    r.send({ type: 'ping', id: 10 });
    assert.deepEqual(r.host.take(), [
      { type: 'error', id: 9, code: ErrorCode.RateLimited, message: 'more than 50 messages per second' },
      { type: 'error', code: ErrorCode.RateLimited, message: 'more than 50 messages per second' },
      { type: 'pong', id: 10 },
    ]);
    assert.equal(r.hub.stats().rooms, 0);
  });

  it("'flood' → the host is closed with 4006 and nothing is pushed", () => {
    const r = rig();
    r.host.open();
    r.gate.verdicts.push('flood');
    r.send({ type: 'join', id: 1, room: 'general' });
    assert.deepEqual(r.host.closes, [{ code: CloseCode.Flood, reason: 'flooding: too many messages' }]);
    assert.deepEqual(r.host.pushes, []);
    assert.equal(r.hub.stats().rooms, 0);
    // Closing: what else arrives is ignored.
    r.send({ type: 'ping', id: 2 });
    assert.deepEqual(r.host.pushes, []);
  });

  it('every message takes a token, an invalid one too; a sync naming many conversations is charged more', async () => {
    const r = rig();
    r.host.open();
    r.frame('{"type":"ping"}\nnot json\n{"type":"nope"}');
    assert.equal(r.gate.takes, 3);
    const since = Object.fromEntries(Array.from({ length: 45 }, (_, i) => [`user${i}`, 0]));
    r.send({ type: 'sync', id: 'sy', since });
    assert.deepEqual(r.gate.charged, [2]);
    await settle();
    const reply = r.host.take().at(-1)!;
    assert.ok(reply.type === 'reply' && reply.id === 'sy');
  });
});

describe('CommandPipeline: failures', () => {
  it('a HubError becomes an error with its code and message', () => {
    const r = rig();
    r.host.open();
    r.send({ type: 'publish', id: 1, room: 'general', body: 'hi' });
    r.send({ type: 'join', id: 2, room: 'private:team' });
    r.send({ type: 'leave', id: 3, room: 'general' });
    r.send({ type: 'join', id: 4, room: 'general' });
    r.send({ type: 'publish', id: 5, room: 'general', body: 'x'.repeat(101) });
    r.send({ type: 'publish', id: 6, room: 'general', body: 'ok' });
    assert.deepEqual(r.host.take(), [
      { type: 'error', id: 1, code: ErrorCode.NotJoined, message: 'join room general before publishing to it' },
      { type: 'error', id: 2, code: ErrorCode.Forbidden, message: 'room private:team is private and your token does not grant it' },
      { type: 'error', id: 3, code: ErrorCode.NotJoined, message: 'not in room general' },
      { type: 'reply', id: 4, data: { room: 'general', kind: 'public', durable: false, seq: 0 } },
      { type: 'error', id: 5, code: ErrorCode.InvalidRequest, message: 'text body longer than 100 characters' },
      { type: 'reply', id: 6, data: { id: 'm1', seq: 1, ts: 1_000 } },
    ]);
  });

  it('a HubError the hub answers later (a rejected promise) becomes an error too', async () => {
    class Unavailable extends Hub {
      override join(): Promise<JoinResult> {
        return Promise.reject(new HubError(ErrorCode.Unavailable, 'store down'));
      }
    }
    const r = rig(new Unavailable(hubOptions()));
    r.host.open();
    r.send({ type: 'join', id: 1, room: 'general' });
    await settle();
    assert.deepEqual(r.host.take(), [{ type: 'error', id: 1, code: ErrorCode.Unavailable, message: 'store down' }]);
  });

  it('any other exception becomes `internal` and is logged with the session', async () => {
    const boom = new Error('boom');
    class Broken extends Hub {
      override presence(): never {
        throw boom;
      }
      override join(): Promise<JoinResult> {
        return Promise.reject(boom);
      }
    }
    const r = rig(new Broken(hubOptions()));
    r.host.open();
    r.send({ type: 'presence', id: 1, room: 'general' });
    assert.deepEqual(r.host.take(), [{ type: 'error', id: 1, code: ErrorCode.Internal, message: 'internal error' }]);
    assert.deepEqual(r.logged, [{ obj: { session: r.host.session.id, err: boom }, msg: 'command failed' }]);

    r.send({ type: 'join', id: 2, room: 'general' });
    await settle();
    assert.deepEqual(r.host.take(), [{ type: 'error', id: 2, code: ErrorCode.Internal, message: 'internal error' }]);
    assert.equal(r.logged.length, 2);
    assert.equal(JSON.stringify(r.host.pushes).includes('boom'), false, 'the client is not told what broke');
  });

  it('an authenticate that throws becomes `internal` for the auth; what was parked runs (unauthenticated)', async () => {
    const r = rig();
    r.send({ type: 'auth', id: 1, token: 't' });
    r.send({ type: 'rooms', id: 2 });
    r.host.auths[0]!.reject(new Error('verifier crashed'));
    await settle();
    assert.deepEqual(r.host.take(), [
      { type: 'error', id: 1, code: ErrorCode.Internal, message: 'internal error' },
      { type: 'error', id: 2, code: ErrorCode.NotAuthenticated, message: 'send auth with a token first' },
    ]);
    assert.equal(r.logged.length, 1);
    assert.equal(r.logged[0]!.msg, 'command failed');
  });
});

describe('CommandPipeline: a closing host', () => {
  it('nothing is pushed once the host is closing: every message is ignored, unrated', () => {
    const r = rig();
    r.host.open();
    r.host.state = 'closing';
    r.frame('{"type":"ping","id":1}\nnot json\n{"type":"nope","id":2}\n{"type":"join","id":3,"room":"general"}\n{"type":"join","id":4}');
    assert.deepEqual(r.host.pushes, []);
    assert.equal(r.gate.takes, 0);
    assert.equal(r.hub.stats().rooms, 0);
    r.host.state = 'closed';
    r.send({ type: 'ping', id: 5 });
    assert.deepEqual(r.host.pushes, []);
  });

  it('a join answered after the host began closing gets no reply, and what was parked does not run', async () => {
    const hub = new GatedHub(hubOptions());
    const r = rig(hub);
    r.host.open();
    r.send({ type: 'join', id: 1, room: 'general' });
    r.send({ type: 'rooms', id: 2 });
    r.host.state = 'closing';
    hub.gates[0]!.gate.resolve();
    await settle();
    assert.deepEqual(r.host.pushes, []);
  });

  it('a join failing after the host began closing gets no error either', async () => {
    const hub = new GatedHub(hubOptions());
    const r = rig(hub);
    r.host.open();
    r.send({ type: 'join', id: 1, room: 'private:x' });
    r.host.state = 'closing';
    hub.gates[0]!.gate.resolve();
    await settle();
    assert.deepEqual(r.host.pushes, []);
  });

  it(
    'an authenticate that throws after the host began closing pushes nothing',
    async () => {
      const r = rig();
      r.send({ type: 'auth', id: 1, token: 't' });
      r.host.close(CloseCode.GoingAway, 'shutting down');
      r.host.auths[0]!.reject(new Error('verifier crashed'));
      await settle();
      assert.deepEqual(r.host.pushes, []);
    },
  );
});
