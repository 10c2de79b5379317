/**
 * The SDK's main behaviours under both encodings of protocol version 2 (one
 * parameterised suite): connect, rooms, DMs, history, recovery after a
 * reconnect, error replies, batching; then a JSON client and a Protobuf client
 * in one room, and a server that answers no subprotocol (version 1's JSON).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { ServerError, SwitchboardError, type Encoding, type SwitchboardClient, type WebSocketConstructor } from '../../client/src/index.js';
import type { MediaBody, MessagePush } from '../../client/src/types.js';
import { NO_RATE_LIMIT } from '../helpers/durable.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { cut, Gate, range, Recorder, sdk, seqsOf, sleep } from './sdk-helpers.js';

const ENCODINGS: readonly Encoding[] = ['json', 'proto'];
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64');

/** An uploaded image's body, with every field a media body has but the caption. */
async function imageBody(client: SwitchboardClient): Promise<MediaBody> {
  const up = await client.upload(PNG, { name: 'cat.png', mime: 'image/png' });
  return { url: up.url, name: up.name, mime: up.mime, size: up.size, width: 1, height: 1, caption: 'a cat' };
}

/** What an app sees of a message, whatever the encoding: every field but none of the wire's leftovers. */
const seen = (m: MessagePush): Record<string, unknown> => ({ ...m });

/** A WebSocket class that records the frames the SDK sends, and whether each frame it receives is binary. */
function recordingWebSocket(frames: (string | Uint8Array)[], received: boolean[]): WebSocketConstructor {
  return class RecordingWebSocket extends WebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols);
      this.on('message', (_data, isBinary) => received.push(isBinary));
    }

    override send(data: unknown, ...rest: unknown[]): void {
      frames.push(typeof data === 'string' ? data : new Uint8Array(data as ArrayBufferLike));
      (super.send as (...args: unknown[]) => void)(data, ...rest);
    }
  };
}

describe('client SDK: both encodings of protocol version 2', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startServer(['--auth.dev', 'true', ...NO_RATE_LIMIT]);
  });
  after(() => srv?.stop());

  for (const encoding of ENCODINGS) {
    describe(`encoding ${encoding}`, () => {
      const name = (s: string): string => `${encoding}-${s}`;

      it('connects with its subprotocol, and carries room messages of every content type and DMs', async (t) => {
        const alice = sdk(t, srv.wsUrl, { user: name('alice'), encoding });
        const bob = sdk(t, srv.wsUrl, { user: name('bob'), encoding });
        const ra = new Recorder(alice);
        const rb = new Recorder(bob);
        assert.equal(alice.encoding, null, 'no connection yet');
        const info = await alice.connect();
        assert.equal(info.user, name('alice'));
        assert.ok(info.limits.maxFrameBytes > 0 && info.heartbeat.intervalMs > 0, 'the connected push is whole');
        assert.equal(alice.encoding, encoding);
        await bob.connect();
        const room = name('room');
        assert.equal((await alice.join(room)).seq, 0);
        await bob.join(room);

        const a1 = await alice.publish(room, 'hello');
        const a2 = await alice.publish(room, { question: 'lunch?', options: ['yes', 'no'] }, { contentType: 'x-poll' });
        const image = await imageBody(alice);
        const a3 = await alice.publish(room, image, { contentType: 'image' });
        assert.deepEqual([a1.seq, a2.seq, a3.seq], [1, 2, 3]);
        assert.match(a1.id, /./, 'the ack carries the message id');
        await rb.until(() => rb.of({ room }).length === 3, 'bob gets the three');
        const got = rb.of({ room });
        assert.deepEqual(got.map(seen), [
          { type: 'message', room, seq: 1, from: name('alice'), ts: a1.ts, contentType: 'text', body: 'hello' },
          { type: 'message', room, seq: 2, from: name('alice'), ts: a2.ts, contentType: 'x-poll', body: { question: 'lunch?', options: ['yes', 'no'] } },
          { type: 'message', room, seq: 3, from: name('alice'), ts: a3.ts, contentType: 'image', body: image },
        ]);
        // The sender gets its own messages too, known by the ack's seq.
        await ra.until(() => ra.of({ room }).length === 3, 'alice sees her own');
        assert.deepEqual(seqsOf(ra.of({ room })), [a1.seq, a2.seq, a3.seq]);

        const dm = await bob.send(name('alice'), 'hi alice');
        await ra.until(() => ra.of({ with: name('bob') }).length === 1, 'alice gets the DM');
        assert.deepEqual(seen(ra.of({ with: name('bob') })[0]!), {
          type: 'message',
          to: name('alice'),
          seq: dm.seq,
          from: name('bob'),
          ts: dm.ts,
          contentType: 'text',
          body: 'hi alice',
        });
        await rb.until(() => rb.of({ with: name('alice') }).length === 1, 'bob sees his own DM');
        assert.deepEqual(ra.errors, []);
        assert.deepEqual(rb.errors, []);
      });

      it('history: pages with the ids the acks gave', async (t) => {
        const alice = sdk(t, srv.wsUrl, { user: name('h-alice'), encoding });
        await alice.connect();
        const room = name('hist');
        await alice.join(room);
        const acks = [];
        for (let i = 1; i <= 5; i++) acks.push(await alice.publish(room, `m${i}`));
        const page = await alice.history({ room }, { limit: 3 });
        assert.deepEqual(seqsOf(page.messages), [3, 4, 5]);
        assert.deepEqual(page.messages.map((m) => m.id), acks.slice(2).map((a) => a.id));
        assert.equal(page.hasMore, true);
        const pages: number[][] = [];
        for await (const p of alice.historyPages({ room }, { direction: 'forward', pageSize: 2 })) pages.push(seqsOf(p));
        assert.deepEqual(pages, [[1, 2], [3, 4], [5]]);
      });

      it('recovery: a client kept offline gets what it missed in the room and in DMs, no gap, no duplicate', async (t) => {
        const gate = new Gate();
        const alice = sdk(t, srv.wsUrl, { user: name('r-alice'), encoding });
        const bob = sdk(t, srv.wsUrl, { user: name('r-bob'), encoding, WebSocket: gate.WebSocket });
        const rb = new Recorder(bob);
        await Promise.all([alice.connect(), bob.connect()]);
        const room = name('recover');
        await alice.join(room);
        await bob.join(room);
        for (let i = 1; i <= 3; i++) await alice.publish(room, `r${i}`);
        await alice.send(name('r-bob'), 'd1');
        await rb.until(() => rb.of({ room }).length === 3 && rb.of({ with: name('r-alice') }).length === 1, 'bob is up to date');

        gate.open = false;
        const down = rb.nextState('disconnected');
        cut(bob);
        await down;
        for (let i = 4; i <= 20; i++) await alice.publish(room, `r${i}`);
        for (let i = 2; i <= 5; i++) await alice.send(name('r-bob'), `d${i}`);
        gate.open = true;
        bob.reconnect();
        await rb.until(() => rb.of({ room }).length >= 20 && rb.of({ with: name('r-alice') }).length >= 5, 'bob recovered', 15_000);
        await sleep(100); // a late duplicate would show up here
        assert.deepEqual(seqsOf(rb.of({ room })), range(1, 20));
        assert.deepEqual(rb.of({ room }).map((m) => m.body), range(1, 20).map((i) => `r${i}`));
        assert.deepEqual(seqsOf(rb.of({ with: name('r-alice') })), range(1, 5));
        assert.deepEqual(rb.gaps, []);
        assert.equal(bob.encoding, encoding, 'the reconnect speaks the same encoding');
      });

      it('error replies are typed ServerErrors, and the connection stays up', async (t) => {
        const alice = sdk(t, srv.wsUrl, { user: name('e-alice'), encoding });
        const ra = new Recorder(alice);
        await alice.connect();
        await assert.rejects(alice.publish(name('not-joined'), 'x'), (e: unknown) => e instanceof ServerError && e.code === 'not_joined' && e.command === 'publish');
        await assert.rejects(alice.join('private:secret'), (e: unknown) => e instanceof ServerError && e.code === 'forbidden');
        await assert.rejects(alice.history({ room: name('never-joined') }), (e: unknown) => e instanceof ServerError && e.code === 'forbidden');
        await assert.rejects(alice.request({ type: 'typing', room: 'a', to: 'b' }), (e: unknown) => e instanceof ServerError && e.code === 'invalid_request');
        // An unknown command: the server refuses it in JSON; Protobuf has no field for it, and the SDK says so.
        await assert.rejects(alice.request({ type: 'no-such-command' } as never), (e: unknown) =>
          encoding === 'json' ? e instanceof ServerError : e instanceof SwitchboardError && e.code === 'invalid_command',
        );
        assert.ok((await alice.ping()) >= 0);
        assert.deepEqual(ra.states.map((s) => s.state), ['connecting', 'connected'], 'never dropped');
      });

      it('commands written in one tick leave batched in one frame; frames both ways in the encoding', async (t) => {
        const frames: (string | Uint8Array)[] = [];
        const received: boolean[] = [];
        const alice = sdk(t, srv.wsUrl, { user: name('b-alice'), encoding, WebSocket: recordingWebSocket(frames, received) });
        const ra = new Recorder(alice);
        await alice.connect();
        const room = name('batch');
        await alice.join(room);
        const before = frames.length;
        const acks = await Promise.all(range(1, 30).map((i) => alice.publish(room, `b${i}`)));
        assert.deepEqual(acks.map((a) => a.seq).sort((a, b) => a - b), range(1, 30));
        const sent = frames.slice(before);
        assert.equal(sent.length, 1, `30 publishes in one frame (${sent.length} frames)`);
        assert.equal(typeof sent[0] === 'string', encoding === 'json', 'text frames for JSON, binary for Protobuf');
        await ra.until(() => ra.of({ room }).length === 30, 'all delivered');
        assert.deepEqual(ra.of({ room }).map((m) => m.body), range(1, 30).map((i) => `b${i}`));
        assert.deepEqual(new Set(received), new Set([encoding === 'proto']), 'the server answers in the same encoding');
      });
    });
  }

  it('a Protobuf client and a JSON client in one room see the same messages', async (t) => {
    const proto = sdk(t, srv.wsUrl, { user: 'mix-proto', encoding: 'proto' });
    const json = sdk(t, srv.wsUrl, { user: 'mix-json', encoding: 'json' });
    const rp = new Recorder(proto);
    const rj = new Recorder(json);
    await Promise.all([proto.connect(), json.connect()]);
    assert.deepEqual([proto.encoding, json.encoding], ['proto', 'json']);
    await proto.join('mix');
    await json.join('mix');
    await proto.publish('mix', 'from proto');
    await json.publish('mix', 'from json, ünïcödé ✓');
    await proto.publish('mix', await imageBody(proto), { contentType: 'image' });
    await json.publish('mix', { nested: { list: [1, 2.5, null, true] } }, { contentType: 'x-data' });
    await proto.publish('mix', 'two\nlines');
    const done = (r: Recorder): boolean => r.of({ room: 'mix' }).length === 5;
    await rp.until(() => done(rp), 'the Protobuf client has all five');
    await rj.until(() => done(rj), 'the JSON client has all five');
    assert.deepEqual(rp.of({ room: 'mix' }).map(seen), rj.of({ room: 'mix' }).map(seen));
    assert.deepEqual(seqsOf(rp.of({ room: 'mix' })), range(1, 5));
    assert.equal(rj.of({ room: 'mix' })[4]!.body, 'two\nlines');
  });

  for (const encoding of ENCODINGS)
    it(`${encoding}: a server that answers no subprotocol speaks version 1's JSON, and the client speaks JSON with it`, async (t) => {
      /** Drops the subprotocol, as a WebSocket in front of a version 1 server would see it. */
      class NoSubprotocol extends WebSocket {
        constructor(url: string) {
          super(url);
        }
      }
      const alice = sdk(t, srv.wsUrl, { user: `v1-${encoding}-alice`, encoding, WebSocket: NoSubprotocol });
      const bob = sdk(t, srv.wsUrl, { user: `v1-${encoding}-bob`, encoding });
      const ra = new Recorder(alice);
      await Promise.all([alice.connect(), bob.connect()]);
      assert.equal(alice.encoding, 'json');
      const room = `v1-${encoding}`;
      await alice.join(room);
      await bob.join(room);
      const ack = await bob.publish(room, 'to a v1 connection');
      await ra.until(() => ra.of({ room }).length === 1, 'alice gets it');
      const m = ra.of({ room })[0]!;
      assert.equal(m.body, 'to a v1 connection');
      assert.equal(m.seq, ack.seq);
      assert.equal(m.id, ack.id, 'version 1 still sends the id');
      assert.equal(m.contentType, 'text');
      await alice.publish(room, 'back');
      assert.deepEqual(ra.errors, []);
    });
});
