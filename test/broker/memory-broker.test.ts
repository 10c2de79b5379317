/** MemoryBroker: the contract on an in-process bus, the bus's cut/heal controls, and openBroker's choice by scheme. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import type { Broker } from '../../src/broker/broker.js';
import { MemoryBroker, MemoryBus, memoryBus } from '../../src/broker/memory-broker.js';
import { openBroker } from '../../src/broker/open-broker.js';
import { brokerContract, Recorder, type Harness } from './contract.js';

brokerContract('MemoryBroker', {
  async setup(): Promise<Harness> {
    const name = `contract-${randomBytes(4).toString('hex')}`;
    const bus = memoryBus(name);
    const opened: MemoryBroker[] = [];
    return {
      open(prefix: string): Broker {
        const b = openBroker(`memory://${name}`, prefix);
        assert.ok(b instanceof MemoryBroker);
        opened.push(b);
        return b;
      },
      down: async () => opened.forEach((b) => bus.cut(b)),
      up: async () => opened.forEach((b) => bus.heal(b)),
      unreachable: () => null,
      urls: async () => ({ url: `memory://${name}` }),
      close: async () => {},
    };
  },
});

async function pair(bus = new MemoryBus()) {
  const a = new MemoryBroker(bus, 'p');
  const b = new MemoryBroker(bus, 'p');
  const ra = new Recorder();
  const rb = new Recorder();
  await a.start(ra);
  await b.start(rb);
  return { bus, a, b, ra, rb };
}

describe('MemoryBus', () => {
  it('delivers on a later turn of the event loop, never inside publish()', async () => {
    const { a, b, ra } = await pair();
    a.subscribe('c');
    b.publish('c', Buffer.from('1'));
    await Promise.resolve();
    assert.equal(ra.messages.length, 0, 'not even in a microtask');
    await ra.until(() => ra.messages.length === 1, 'the message');
  });

  it('hands each receiver its own copy of the bytes', async () => {
    const { a, b, ra, rb } = await pair();
    a.subscribe('c');
    b.subscribe('c');
    const payload = Buffer.from('abc');
    b.publish('c', payload);
    payload.fill(0);
    await ra.until(() => ra.messages.length === 1, 'a');
    await rb.until(() => rb.messages.length === 1, 'b');
    ra.messages[0]!.payload.fill(1);
    assert.deepEqual([ra.messages[0]!.payload.toString(), rb.messages[0]!.payload.toString()], ['\u0001\u0001\u0001', 'abc']);
  });

  it('cut: state(false), publishes refused, messages to it lost; heal: state(true), subscriptions kept', async () => {
    const { bus, a, b, ra, rb } = await pair();
    a.subscribe('c');
    b.subscribe('c');
    b.publish('c', Buffer.from('in flight'));
    bus.cut(a);
    bus.cut(a); // once per loss
    assert.equal(a.up, false);
    assert.equal(a.publish('c', Buffer.from('refused')), false);
    b.publish('c', Buffer.from('while cut'));
    await ra.until(() => ra.states.length === 1, 'a told it is down');
    assert.deepEqual(ra.states, [false]);
    bus.heal(a);
    assert.equal(a.up, true);
    b.publish('c', Buffer.from('after'));
    await ra.until(() => ra.messages.length === 1, 'the message after heal');
    assert.deepEqual(ra.states, [false, true]);
    assert.deepEqual(ra.on('c'), ['after'], 'what was in flight or sent while cut is lost');
    await rb.until(() => rb.messages.length === 3, 'b hears everything of its own');
    assert.deepEqual(rb.on('c'), ['in flight', 'while cut', 'after']);
    assert.deepEqual(rb.states, [], 'the others are not affected');
  });

  it('a broker cut off before start() cannot start', async () => {
    const bus = new MemoryBus();
    const a = new MemoryBroker(bus, 'p');
    bus.cut(a);
    await assert.rejects(a.start(new Recorder()), /cut off/);
    bus.heal(a);
    await a.start(new Recorder());
    assert.equal(a.up, true);
  });
});

describe('openBroker', () => {
  it('chooses by scheme, connecting nothing before start()', () => {
    assert.equal(openBroker('redis://127.0.0.1:1', 'p').kind, 'redis');
    assert.equal(openBroker('rediss://:secret@127.0.0.1:1', 'p').kind, 'redis');
    assert.equal(openBroker('nats://127.0.0.1:1', 'p').kind, 'nats');
    assert.equal(openBroker('memory://x', 'p').kind, 'memory');
  });

  it('puts memory:// brokers of one name on one bus, and of another name on another', async () => {
    const name = `open-${randomBytes(4).toString('hex')}`;
    const [a, b, c] = [openBroker(`memory://${name}`, 'p'), openBroker(`memory://${name}`, 'p'), openBroker(`memory://${name}-2`, 'p')];
    const [ra, rc] = [new Recorder(), new Recorder()];
    await Promise.all([a.start(ra), b.start(new Recorder()), c.start(rc)]);
    a.subscribe('c');
    c.subscribe('c');
    b.publish('c', Buffer.from('hi'));
    await ra.until(() => ra.messages.length === 1, 'a on the same bus');
    c.publish('c', Buffer.from('own'));
    await rc.until(() => rc.messages.length === 1, 'c hears itself');
    assert.deepEqual(rc.on('c'), ['own']);
    await Promise.all([a.stop(), b.stop(), c.stop()]);
  });

  it('names the scheme it does not know, and nothing else of the URL', () => {
    assert.throws(() => openBroker('kafka://user:hunter2@host:9092', 'p'), (err: Error) => {
      assert.match(err.message, /"kafka:"/);
      assert.doesNotMatch(err.message, /hunter2/);
      return true;
    });
    assert.throws(() => openBroker('not a url', 'p'), /not a URL/);
  });

  it('refuses a prefix that could overlap another', () => {
    for (const p of ['', 'a.b', 'a:b', 'a b', '*', 'x'.repeat(33)]) assert.throws(() => openBroker('memory://x', p), /prefix/);
  });
});
