/**
 * What every Broker promises (src/broker/broker.ts), as one suite that each implementation's test file runs
 * against its engine: the real Redis and NATS servers, and the in-process bus.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { after, afterEach, before, describe, it } from 'node:test';
import type { Broker, BrokerHandlers } from '../../src/broker/broker.js';
import { runScript } from '../helpers/run-script.js';

export interface Harness {
  /** A broker on the engine under test, not started yet. */
  open(prefix: string): Broker;
  /** The engine goes away for every broker (a server is SIGKILLed), and comes back (on the same port). */
  down(): Promise<void>;
  up(): Promise<void>;
  /** A broker whose `start()` cannot succeed (nothing listens where it points); null when the engine has none. */
  unreachable(): Promise<Broker> | null;
  /** The URL of the engine, for a child process (see exit-after-stop.ts); and one where nothing listens, if any. */
  urls(): Promise<{ url: string; deadUrl?: string }>;
  close(): Promise<void>;
}

/** How a test file gets its harness: a reason to skip (the server is not installed outside CI), or a setup. */
export type HarnessSetup = { skip: string } | { setup: () => Promise<Harness> };

/** Probe messages (see `subscribed`) start with this; the recorder keeps them apart. */
const PROBE = Buffer.from('\u0000probe:');

/** The handlers of one broker: everything it was told, and a way to await what it is told next. */
export class Recorder implements BrokerHandlers {
  readonly messages: { channel: string; payload: Buffer }[] = [];
  readonly probes: { channel: string; payload: Buffer }[] = [];
  readonly states: boolean[] = [];
  readonly warnings: string[] = [];
  private readonly waiters = new Set<() => void>();

  message(channel: string, payload: Buffer): void {
    (payload.subarray(0, PROBE.length).equals(PROBE) ? this.probes : this.messages).push({ channel, payload });
    this.wake();
  }

  state(up: boolean): void {
    this.states.push(up);
    this.wake();
  }

  warn(message: string): void {
    this.warnings.push(message);
  }

  on(channel: string): string[] {
    return this.messages.filter((m) => m.channel === channel).map((m) => m.payload.toString());
  }

  /** Resolves once `cond` holds, looked at after each message or state change; fails after `ms`. */
  until(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
    if (cond()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (!cond()) return;
        done();
        resolve();
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${ms} ms waiting for ${what}`));
      }, ms);
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
    });
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }
}

/** For what no event tells (a publisher noticing its loss on its own): looks every 20 ms until `ms` have passed. */
async function eventually(cond: () => boolean, what: string, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * Subscribes and waits until the subscription is in place. The interface says nothing of when that is (Redis
 * answers SUBSCRIBE on another connection than the one that publishes), so the broker publishes probes to itself,
 * one every 50 ms, until one comes back.
 */
export async function subscribed(broker: Broker, rec: Recorder, channel: string): Promise<void> {
  broker.subscribe(channel);
  const end = Date.now() + 10_000;
  for (;;) {
    // Unique: one left over from an earlier subscription to the channel proves nothing.
    const probe = Buffer.concat([PROBE, randomBytes(8)]);
    broker.publish(channel, probe);
    const back = (): boolean => rec.probes.some((p) => p.channel === channel && p.payload.equals(probe));
    const ok = await rec.until(back, 'probe', 50).then(
      () => true,
      () => false,
    );
    if (ok || back()) return;
    if (Date.now() > end) throw new Error(`the subscription to ${JSON.stringify(channel)} was not in place within 10 s`);
  }
}

const EXIT_SCRIPT = fileURLToPath(new URL('./exit-after-stop.js', import.meta.url));

export function brokerContract(name: string, harness: HarnessSetup): void {
  describe(name, 'skip' in harness ? { skip: harness.skip } : {}, () => {
    let h: Harness;
    const live: Broker[] = [];
    const unhandled: unknown[] = [];
    const record = (err: unknown): void => void unhandled.push(err);
    let prefix = '';

    before(async () => {
      process.on('unhandledRejection', record);
      process.on('uncaughtException', record);
      if ('setup' in harness) h = await harness.setup();
    });
    afterEach(async () => {
      await Promise.all(live.splice(0).map((b) => b.stop()));
      assert.deepEqual(unhandled, [], 'nothing may be thrown or rejected unhandled');
    });
    after(async () => {
      await h?.close();
      process.off('unhandledRejection', record);
      process.off('uncaughtException', record);
    });

    /** A new prefix per test: the tests share one server. */
    const fresh = (): string => (prefix = `t${randomBytes(4).toString('hex')}`);
    async function node(p = prefix, rec = new Recorder()): Promise<{ broker: Broker; rec: Recorder }> {
      const broker = h.open(p);
      live.push(broker);
      await broker.start(rec);
      return { broker, rec };
    }

    it('starts connected, with the subscriptions made before start()', async () => {
      fresh();
      const rec = new Recorder();
      const broker = h.open(prefix);
      live.push(broker);
      assert.equal(broker.up, false);
      broker.subscribe('early');
      await broker.start(rec);
      assert.equal(broker.up, true);
      await subscribed(broker, rec, 'early');
      const other = await node();
      assert.equal(other.broker.publish('early', Buffer.from('hello')), true);
      await rec.until(() => rec.on('early').length === 1, 'the message');
      assert.deepEqual(rec.on('early'), ['hello']);
      assert.deepEqual(rec.states, [], 'no state change to tell');
    });

    it('carries payloads as bytes, those that are not UTF-8 included', async () => {
      fresh();
      const a = await node();
      const b = await node();
      await subscribed(a.broker, a.rec, 'bin');
      const payloads = [
        Buffer.from([0xff, 0xfe, 0x00, 0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x28, 0xa1, 0xf0, 0x90, 0x28, 0xbc]),
        Buffer.alloc(0),
        Buffer.from(Array.from({ length: 256 }, (_, i) => i)),
        Buffer.from('\r\n$-1\r\nPUB x 3\r\n*\u0000'),
        randomBytes(200_000),
      ];
      for (const p of payloads) assert.equal(b.broker.publish('bin', p), true);
      await a.rec.until(() => a.rec.messages.length === payloads.length, 'every payload');
      a.rec.messages.forEach((m, i) => {
        assert.equal(m.channel, 'bin');
        assert.ok(Buffer.isBuffer(m.payload));
        assert.ok(m.payload.equals(payloads[i]!), `payload ${i} arrived unchanged`);
      });
    });

    it('delivers a node its own messages', async () => {
      fresh();
      const a = await node();
      await subscribed(a.broker, a.rec, 'self');
      a.broker.publish('self', Buffer.from('mine'));
      await a.rec.until(() => a.rec.on('self').length === 1, 'its own message');
    });

    it('keeps each publisher’s order over 10,000 messages', async () => {
      fresh();
      const sink = await node();
      const [b, c] = [await node(), await node()];
      await subscribed(sink.broker, sink.rec, 'order');
      const N = 10_000;
      for (let i = 0; i < N; i++) {
        for (const [id, pub] of [[1, b], [2, c]] as const) {
          const payload = Buffer.alloc(5);
          payload.writeUInt8(id, 0);
          payload.writeUInt32BE(i, 1);
          assert.equal(pub.broker.publish('order', payload), true);
        }
      }
      await sink.rec.until(() => sink.rec.messages.length === 2 * N, `${2 * N} messages`, 30_000);
      const next = [0, 0, 0];
      for (const { payload } of sink.rec.messages) {
        const id = payload.readUInt8(0);
        assert.equal(payload.readUInt32BE(1), next[id], `publisher ${id}'s messages in order`);
        next[id]!++;
      }
      assert.deepEqual(next, [0, N, N]);
    });

    it('stops delivering a channel at unsubscribe, and delivers it again after a new subscribe', async () => {
      fresh();
      const a = await node();
      const b = await node();
      await subscribed(a.broker, a.rec, 'u1');
      await subscribed(a.broker, a.rec, 'u2');
      a.broker.unsubscribe('u1');
      a.broker.unsubscribe('u1'); // idempotent
      b.broker.publish('u1', Buffer.from('unheard'));
      b.broker.publish('u2', Buffer.from('fence'));
      await a.rec.until(() => a.rec.on('u2').length === 1, 'the fence on u2');
      assert.deepEqual(a.rec.on('u1'), []);
      await subscribed(a.broker, a.rec, 'u1');
      b.broker.publish('u1', Buffer.from('heard'));
      await a.rec.until(() => a.rec.on('u1').length === 1, 'u1 again');
      assert.deepEqual(a.rec.on('u1'), ['heard']);
    });

    it('takes any channel name, and no two channels meet', async () => {
      fresh();
      const names = [
        'room',
        'with space',
        ' ',
        '',
        'a.b',
        'a',
        'a.*',
        'a.>',
        '*',
        '>',
        'x',
        'xIA', // " " in base64url behind an `x`: must not be the subject of " "
        'x-plain_token',
        'colon:room',
        'tab\tnew\nline',
        'ünïcødé 日本語 🙂',
        '\u0000nul',
        'a'.repeat(500),
      ];
      const a = await node();
      const b = await node();
      for (const n of names) await subscribed(a.broker, a.rec, n);
      await subscribed(a.broker, a.rec, 'fence');
      for (const n of names) assert.equal(b.broker.publish(n, Buffer.from(n)), true);
      b.broker.publish('fence', Buffer.from('fence'));
      await a.rec.until(() => a.rec.on('fence').length === 1, 'the fence');
      for (const n of names) assert.deepEqual(a.rec.on(n), [n], `channel ${JSON.stringify(n)} hears its own message only`);
      assert.equal(a.rec.messages.length, names.length + 1);
    });

    it('keeps prefixes apart on one engine', async () => {
      const p1 = fresh();
      const p2 = fresh();
      const a = await node(p1);
      const b = await node(p1);
      const c = await node(p2);
      await subscribed(a.broker, a.rec, 'room');
      await subscribed(c.broker, c.rec, 'room');
      b.broker.publish('room', Buffer.from('for p1'));
      await a.rec.until(() => a.rec.on('room').length === 1, 'p1 hears p1');
      // c's own message comes after anything the engine sent it for b's publish (sent before it).
      c.broker.publish('room', Buffer.from('for p2'));
      await c.rec.until(() => c.rec.on('room').length === 1, 'p2 hears p2');
      assert.deepEqual(c.rec.on('room'), ['for p2']);
      assert.deepEqual(a.rec.on('room'), ['for p1']);
    });

    it('calls no handler after stop() has resolved', async () => {
      fresh();
      const a = await node();
      const b = await node();
      const witness = await node();
      await subscribed(a.broker, a.rec, 'burst');
      await subscribed(witness.broker, witness.rec, 'burst');
      for (let i = 0; i < 2_000; i++) b.broker.publish('burst', Buffer.from(String(i)));
      await a.rec.until(() => a.rec.messages.length > 0, 'the burst to begin');
      await a.broker.stop();
      assert.equal(a.broker.up, false);
      const heard = { messages: a.rec.messages.length, states: a.rec.states.length };
      assert.equal(a.broker.publish('burst', Buffer.from('late')), false);
      for (let i = 0; i < 100; i++) b.broker.publish('burst', Buffer.from(`after ${i}`));
      await witness.rec.until(() => witness.rec.messages.length === 2_100, 'the witness to hear everything', 20_000);
      assert.deepEqual({ messages: a.rec.messages.length, states: a.rec.states.length }, heard);
    });

    it('survives the engine going away: down once, publishes refused, back with every subscription', async () => {
      fresh();
      const a = await node();
      const b = await node();
      await subscribed(a.broker, a.rec, 'live');
      await subscribed(a.broker, a.rec, 'gone');
      // Enough that restoring them takes the engine a while: `up` must wait for the last of them.
      const many = Array.from({ length: 20_000 }, (_, i) => `many ${i}`);
      for (const ch of many) a.broker.subscribe(ch);
      await subscribed(a.broker, a.rec, many.at(-1)!);

      await h.down();
      await a.rec.until(() => a.rec.states.length > 0, 'a to be told it is down');
      await b.rec.until(() => b.rec.states.length > 0, 'b to be told it is down');
      assert.equal(a.broker.up, false);
      await eventually(() => b.broker.publish('live', Buffer.from('lost')) === false, 'publish to say false');
      // Refused at once, every one: none is kept to be sent later.
      for (let i = 0; i < 100_000; i++) assert.equal(b.broker.publish('live', Buffer.alloc(100)), false);
      a.broker.subscribe('late');
      a.broker.unsubscribe('gone');

      await h.up();
      await a.rec.until(() => a.rec.states.length > 1, 'a to be told it is back', 20_000);
      // At once, before anything else can give the engine time: its own message on the last channel it restored.
      assert.equal(a.broker.publish(many.at(-1)!, Buffer.from('first')), true);
      await b.rec.until(() => b.rec.states.length > 1, 'b to be told it is back', 20_000);
      assert.deepEqual(a.rec.states, [false, true], 'down once, then up');
      assert.deepEqual(b.rec.states, [false, true], 'down once, then up');
      assert.equal(a.broker.up, true);
      // No probe now: state(true) promises that every subscription is in place.
      for (const ch of [many.at(-1)!, 'live', 'late', 'gone', 'live']) assert.equal(b.broker.publish(ch, Buffer.from(`${ch} again`)), true);
      await a.rec.until(() => a.rec.on('live').length === 2, 'both messages on live');
      await a.rec.until(() => a.rec.on(many.at(-1)!).length === 2, 'both messages on the last channel');
      // Two publishers: either order.
      assert.deepEqual(a.rec.on(many.at(-1)!).sort(), ['first', `${many.at(-1)} again`], 'the last of many subscriptions in place');
      assert.deepEqual(a.rec.on('late'), ['late again'], 'subscribed while down: in place on reconnect');
      assert.deepEqual(a.rec.on('gone'), [], 'unsubscribed while down: gone on reconnect');
      assert.ok(!a.rec.on('live').includes('lost'));
    });

    it('rejects start() within a few seconds when nothing answers', async (t) => {
      const pending = h.unreachable();
      if (!pending) return t.skip('the engine cannot be unreachable');
      const broker = await pending;
      live.push(broker);
      const rec = new Recorder();
      const began = Date.now();
      await assert.rejects(broker.start(rec), /could not connect .* within \d+ ms: \S/);
      assert.ok(Date.now() - began < 8_000, `rejected after ${Date.now() - began} ms`);
      assert.equal(broker.up, false);
      assert.deepEqual(rec.states, []);
    });

    it('leaves nothing open after stop(): a process that used a broker exits by itself', async () => {
      const { url, deadUrl } = await h.urls();
      const run = await runScript(EXIT_SCRIPT, deadUrl ? [url, deadUrl] : [url], { killMs: 20_000 });
      assert.equal(run.code, 0, `exit code ${run.code}\n${run.stdout}\n${run.stderr}`);
      assert.match(run.stdout, /stopped/);
    });
  });
}
