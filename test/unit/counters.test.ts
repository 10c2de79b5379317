/**
 * The counters interfaces of the hot path: the flusher tells what its outboxes wrote once per run (not once per
 * session), the fan-out tells how many sessions a push was handed to once per push (not per member), the command
 * pipeline counts each message by type and times each publish to its ack, the hub counts messages per room for the
 * stats. (observe/metrics.ts implements them: metrics.test.ts.)
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CommandPipeline, type CommandCounters, type PipelineHost } from '../../src/commands/pipeline.js';
import { LocalFanout } from '../../src/fanout/local-fanout.js';
import { Hub } from '../../src/hub/hub.js';
import type { HubSession } from '../../src/hub/session.js';
import { Flusher, type OutboundCounters } from '../../src/outbound/flusher.js';
import { Outbox, type Wire } from '../../src/outbound/outbox.js';
import { SharedBatch, type Tick } from '../../src/outbound/shared-batch.js';
import type { ServerPush } from '../../src/protocol/pushes.js';

class Wires implements Wire {
  readonly preframed = true;
  bufferedBytes = 0;
  frames = 0;
  writeFrame(): boolean {
    this.frames++;
    return true;
  }
  onDrain(): void {}
  sendPayload(): void {}
}

class Session implements HubSession {
  static n = 0;
  readonly id = `s${++Session.n}`;
  grants: readonly string[] = [];
  readonly rooms = new Set<string>();
  readonly got: Buffer[] = [];
  constructor(readonly user: string) {}
  send(bytes: Buffer): void {
    this.got.push(bytes);
  }
  sendShared(batch: SharedBatch): void {
    this.got.push(...batch.chunks);
  }
  close(): void {}
}

function hub(extra: Partial<ConstructorParameters<typeof Hub>[0]> = {}): Hub {
  let ids = 0;
  return new Hub({
    tick: { epoch: 1 },
    now: () => 1_000,
    nextId: () => `m${++ids}`,
    roomRules: [],
    presenceEvents: false,
    roomsPerSession: 100,
    sessionPolicy: 'multiple',
    maxSessionsPerUser: 10,
    ...extra,
  });
}

const notice = (text: string): ServerPush => ({ type: 'notice', from: 'System', text, ts: 1 });

describe('outbound counters', () => {
  it('are told once per flusher run what every outbox of that run wrote: messages, frames, bytes', () => {
    const calls: [number, number, number][] = [];
    const counters: OutboundCounters = { written: (m, f, b) => calls.push([m, f, b]) };
    const flusher = new Flusher(0, undefined, counters);
    const wire = new Wires();
    const limits = { maxQueueBytes: 1 << 20, maxQueueMessages: 1000 };
    const boxes = Array.from({ length: 50 }, () => new Outbox(wire, flusher, limits, { overflowed: () => {} }));
    const batch = new SharedBatch(flusher.tick.epoch);
    batch.add(Buffer.from('{"a":1}'));
    batch.add(Buffer.from('{"b":2}'));
    for (const b of boxes) b.pushShared(batch, 0);
    boxes[0]!.push(Buffer.from('{"own":true}'));
    flusher.run();
    assert.equal(calls.length, 1, 'one call for the run, not one per outbox');
    const [messages, frames, bytes] = calls[0]!;
    assert.equal(frames, 50);
    assert.equal(wire.frames, 50);
    assert.equal(messages, 50 * 2 + 1);
    // The shared frame: 2-byte header + '{"a":1}\n{"b":2}' (15); the first outbox's own: + '\n{"own":true}' (13).
    assert.equal(bytes, 49 * 17 + (17 + 13));
    flusher.run();
    assert.equal(calls.length, 1, 'a run that wrote nothing says nothing');
  });

  it('reports frames written outside a run (a greeting, last words before a close) when asked', () => {
    const calls: number[] = [];
    const flusher = new Flusher(0, undefined, { written: (_m, f) => calls.push(f) });
    const box = new Outbox(new Wires(), flusher, { maxQueueBytes: 1 << 20, maxQueueMessages: 1000 }, { overflowed: () => {} });
    box.push(Buffer.from('{"hi":1}'));
    box.flush(true);
    assert.deepEqual(calls, []);
    flusher.report();
    assert.deepEqual(calls, [1]);
  });
});

describe('delivery counters', () => {
  it('count a room message once, with the number of members, whatever the room size', () => {
    const calls: number[] = [];
    const tick: Tick = { epoch: 1 };
    const fanout = new LocalFanout<Session>({ tick, counters: { delivered: (n) => calls.push(n) } });
    const members = Array.from({ length: 1000 }, (_, i) => new Session(`u${i}`));
    for (const m of members) {
      fanout.addSession(m);
      fanout.join('big', m);
    }
    fanout.toRoom('big', notice('one'));
    fanout.toRoom('big', notice('two'));
    assert.deepEqual(calls, [1000, 1000]);
    fanout.toSessions(members.slice(0, 3), notice('few'));
    assert.equal(fanout.broadcast(notice('all')), 1000);
    assert.deepEqual(calls, [1000, 1000, 3, 1000]);
  });

  it('count a direct message to every session of both users', () => {
    const calls: number[] = [];
    const fanout = new LocalFanout<Session>({ tick: { epoch: 1 }, counters: { delivered: (n) => calls.push(n) } });
    for (const s of [new Session('a'), new Session('a'), new Session('b')]) fanout.addSession(s);
    fanout.direct({ conv: 'dm:a:b', seq: 1, users: ['b', 'a'] }, { type: 'message', id: 'x', to: 'b', from: 'a', seq: 1, contentType: 'text', body: 'hi', ts: 1 });
    assert.deepEqual(calls, [3]);
  });
});

describe('command counters', () => {
  class Host implements PipelineHost {
    state = 'open' as const;
    readonly pushed: ServerPush[] = [];
    constructor(readonly session: HubSession) {}
    push(m: ServerPush): void {
      this.pushed.push(m);
    }
    close(): void {}
    async authenticate(): Promise<void> {}
  }

  it('count every message by type (invalid for the rest) and time each publish to its ack', () => {
    const received: string[] = [];
    const acked: [string, number][] = [];
    const counters: CommandCounters = { received: (t) => received.push(t), acked: (t, ms) => acked.push([t, ms]) };
    const h = hub();
    const s = new Session('alice');
    h.connect(s);
    const host = new Host(s);
    const pipeline = new CommandPipeline(host, { hub: h, limits: { messagesPerSecond: 100, burst: 100, maxTextLength: 100 }, log: { error: () => {} }, now: () => 1_000, counters }, { take: () => 'ok', charge: () => {} });
    pipeline.receive({ ok: true, value: { type: 'join', room: 'r', id: 1 } });
    pipeline.receive({ ok: true, value: { type: 'publish', room: 'r', body: 'hi', id: 2 } });
    pipeline.receive({ ok: true, value: { type: 'nonsense' } });
    pipeline.receive({ ok: false, error: 'bad json' });
    pipeline.receive({ ok: true, value: { type: 'ping' } });
    assert.deepEqual(received, ['join', 'publish', 'invalid', 'invalid', 'ping']);
    assert.equal(acked.length, 1);
    assert.equal(acked[0]![0], 'publish');
    assert.ok(acked[0]![1] >= 0 && acked[0]![1] < 1000);
  });
});

describe('room message counts (hub)', () => {
  it('count messages per room until taken, then start again', () => {
    const h = hub();
    const a = new Session('a');
    h.connect(a);
    h.join(a, 'one');
    h.join(a, 'two');
    for (let i = 0; i < 3; i++) h.publish(a, 'one', 'text', `m${i}`);
    h.publish(a, 'two', 'text', 'x');
    const seen = new Map<string, number>();
    h.takeMessageCounts((room, n) => seen.set(room, n));
    assert.deepEqual([...seen].sort(), [
      ['one', 3],
      ['two', 1],
    ]);
    seen.clear();
    h.takeMessageCounts((room, n) => seen.set(room, n));
    assert.equal(seen.size, 0, 'taken: nothing until the next message');
  });
});
