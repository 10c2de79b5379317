/**
 * RedisBroker against a redis-server of the test's own (killed and restarted by the outage test); and, through a
 * proxy that can hold Redis's answers back, that `up` waits for the answer to the resubscription.
 */
import assert from 'node:assert/strict';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { RedisBroker } from '../../src/broker/redis-broker.js';
import { brokerContract, Recorder, subscribed } from './contract.js';
import { binary, REDIS, serverHarness, TestServer } from './servers.js';

brokerContract('RedisBroker on a real Redis', serverHarness(REDIS));

/**
 * Between the broker and Redis: with `hold` set, what Redis sends back on a connection that has sent a SUBSCRIBE
 * is kept until `release()`.
 */
class HoldingProxy {
  hold = false;
  private readonly held: (() => void)[] = [];
  private readonly sockets = new Set<Socket>();
  private constructor(private readonly server: Server) {}

  static async start(target: number): Promise<HoldingProxy> {
    const server = createServer();
    const proxy = new HoldingProxy(server);
    server.on('connection', (client) => proxy.pipe(client, connect(target, '127.0.0.1')));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get port(): number {
    return (this.server.address() as { port: number }).port;
  }

  release(): void {
    this.hold = false;
    for (const send of this.held.splice(0)) send();
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private pipe(client: Socket, upstream: Socket): void {
    let subscriber = false;
    for (const s of [client, upstream]) {
      this.sockets.add(s);
      s.on('error', () => {});
      s.once('close', () => {
        this.sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    client.on('data', (d: Buffer) => {
      subscriber ||= /subscribe/i.test(d.toString('latin1'));
      upstream.write(d);
    });
    upstream.on('data', (d: Buffer) => {
      if (this.hold && subscriber) this.held.push(() => client.write(d));
      else client.write(d);
    });
  }
}

/** Ends one of the broker's connections from the server's side, found by the name the broker gave it. */
async function killClient(admin: Redis, name: string): Promise<void> {
  const list = await admin.client('LIST');
  const id = /id=(\d+) .*\bname=(\S+)/g;
  const ids = [...String(list).matchAll(id)].filter((m) => m[2] === name).map((m) => m[1]!);
  assert.equal(ids.length, 1, `one connection named ${name}`);
  await admin.client('KILL', 'ID', ids[0]!);
}

const redis = binary(REDIS);

describe('RedisBroker’s two connections', { skip: 'skip' in redis && redis.skip }, () => {
  let server: TestServer;
  let proxy: HoldingProxy;
  let admin: Redis;
  before(async () => {
    if ('missing' in redis) throw redis.missing;
    if ('skip' in redis) return;
    server = await TestServer.start(REDIS, redis.path);
    proxy = await HoldingProxy.start(server.port);
    admin = new Redis(server.url);
  });
  after(async () => {
    admin?.disconnect();
    await proxy?.close();
    await server?.kill();
  });

  it('tells the loss of either connection alone, and is back with its subscriptions', async () => {
    const broker = new RedisBroker(server.url, 'alone');
    const rec = new Recorder();
    await broker.start(rec);
    try {
      await subscribed(broker, rec, 'c');
      for (const role of ['pub', 'sub']) {
        const before = rec.states.length;
        await killClient(admin, `alone-${role}`);
        await rec.until(() => rec.states.length === before + 2, `down and up again after the ${role} connection was killed`);
        assert.deepEqual(rec.states.slice(before), [false, true]);
        assert.equal(broker.publish('c', Buffer.from(role)), true);
        await rec.until(() => rec.on('c').includes(role), `a message after the ${role} connection came back`);
      }
    } finally {
      await broker.stop();
    }
  });

  it('is up only once Redis has answered the resubscription', async () => {
    const broker = new RedisBroker(`redis://127.0.0.1:${proxy.port}`, 'held');
    const rec = new Recorder();
    await broker.start(rec);
    try {
      await subscribed(broker, rec, 'c');
      proxy.hold = true;
      await server.kill();
      await rec.until(() => rec.states.length === 1, 'down');
      await server.restart();
      // Nothing tells the test when Redis has the subscription but the broker not yet its answer: look.
      const deadline = Date.now() + 10_000;
      for (;;) {
        const [, count] = (await admin.pubsub('NUMSUB', 'held:c')) as [string, number];
        // publish() is true once the publishing connection is back; a turn later its 'ready' has been handled.
        if (count === 1 && broker.publish('other', Buffer.from('x'))) break;
        assert.ok(Date.now() < deadline, 'the broker reconnected within 10 s');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(broker.up, false, 'not up while the SUBSCRIBE is unanswered');
      assert.deepEqual(rec.states, [false]);
      proxy.release();
      await rec.until(() => rec.states.length === 2, 'up');
      assert.deepEqual(rec.states, [false, true]);
      assert.equal(broker.up, true);
    } finally {
      await broker.stop();
    }
  });
});
