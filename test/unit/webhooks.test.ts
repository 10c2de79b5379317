/** Webhooks without a network or a database: signing, backoff bounds, event building, the queue's bound and its log. */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino, type Logger } from 'pino';
import { configSchema } from '../../src/config/schema.js';
import type { MessagePush } from '../../src/protocol/pushes.js';
import type { WebhookEvent } from '../../src/store/store.js';
import { retryDelay } from '../../src/webhooks/backoff.js';
import type { WebhookQueue } from '../../src/webhooks/dispatcher.js';
import { DropLog } from '../../src/webhooks/drop-log.js';
import { eventIdSource, idAndType, serialize } from '../../src/webhooks/event.js';
import { signatureHeader, verifySignature } from '../../src/webhooks/signature.js';
import { Webhooks, type WebhooksConfig } from '../../src/webhooks/webhooks.js';

const SECRET = 'a-webhook-secret-of-some-length';

/** The store's webhook queue, in memory, with the Store contract's semantics (and every call recorded). */
class MemoryQueue implements WebhookQueue {
  readonly rows = new Map<string, WebhookEvent>();
  readonly calls: string[] = [];
  failEnqueue = false;
  async enqueueWebhooks(events: readonly WebhookEvent[]): Promise<void> {
    this.calls.push(`enqueue ${events.length}`);
    if (this.failEnqueue) throw new Error('store unavailable');
    for (const e of events) if (!this.rows.has(e.id)) this.rows.set(e.id, { ...e });
  }
  async dueWebhooks(endpoint: string, now: number, limit: number): Promise<WebhookEvent[]> {
    return this.of(endpoint)
      .filter((e) => e.nextAt <= now)
      .sort((a, b) => a.nextAt - b.nextAt || a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1))
      .slice(0, limit)
      .map((e) => ({ ...e }));
  }
  async deleteWebhook(id: string): Promise<void> {
    this.calls.push(`delete ${id}`);
    this.rows.delete(id);
  }
  async retryWebhook(id: string, attempts: number, nextAt: number): Promise<void> {
    this.calls.push(`retry ${id} ${attempts}`);
    const e = this.rows.get(id);
    if (e) Object.assign(e, { attempts, nextAt });
  }
  async countWebhooks(endpoint: string): Promise<number> {
    return this.of(endpoint).length;
  }
  async dropOldestWebhooks(endpoint: string, keep: number): Promise<number> {
    const old = this.of(endpoint).sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
    const drop = old.slice(0, Math.max(0, old.length - keep));
    for (const e of drop) this.rows.delete(e.id);
    return drop.length;
  }
  of(endpoint: string): WebhookEvent[] {
    return [...this.rows.values()].filter((e) => e.endpoint === endpoint);
  }
  bodies(endpoint: string): Record<string, unknown>[] {
    return this.of(endpoint).map((e) => JSON.parse(e.body) as Record<string, unknown>);
  }
}

/** A pino logger whose lines are kept. */
function captureLog(): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const log: Logger = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  return { log, lines };
}

function config(input: Record<string, unknown>): WebhooksConfig {
  return configSchema.parse({ webhooks: input }).webhooks;
}

interface Posted {
  url: string;
  headers: Record<string, string>;
  body: string;
}

/** A fetch that records each request and answers with what `answer` returns (a status, or a thrown error). */
function fakeFetch(answer: (p: Posted) => number | Promise<number>): { fetch: typeof fetch; posted: Posted[] } {
  const posted: Posted[] = [];
  const f = async (url: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const p: Posted = { url: String(url), headers: init!.headers as Record<string, string>, body: String(init!.body) };
    posted.push(p);
    // Like the real fetch, an abort (timeout, stop) ends the request.
    const aborted = new Promise<never>((_, reject) => init!.signal!.addEventListener('abort', () => reject(new Error('aborted')), { once: true }));
    return new Response('ok', { status: await Promise.race([answer(p), aborted]) });
  };
  return { fetch: f as typeof fetch, posted };
}

async function until(cond: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

const message = (over: Partial<MessagePush>): MessagePush => ({ type: 'message', id: 'm1', seq: 1, from: 'alice', contentType: 'text', body: 'hi', ts: 1000, ...over });

describe('webhook signature', () => {
  it('is t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">, and verifies', () => {
    const body = '{"id":"evt_1","type":"user.online","ts":1,"data":{"user":"alice"}}';
    const now = 1_700_000_000_123;
    const header = signatureHeader(SECRET, body, now);
    const expected = createHmac('sha256', SECRET).update(`1700000000.${body}`).digest('hex');
    assert.equal(header, `t=1700000000,v1=${expected}`);
    assert.equal(verifySignature(header, body, SECRET, now), true);
  });

  it('refuses another body, another secret, a stale or future timestamp, and garbage', () => {
    const body = '{"a":1}';
    const now = 1_700_000_000_000;
    const header = signatureHeader(SECRET, body, now);
    assert.equal(verifySignature(header, '{"a":2}', SECRET, now), false);
    assert.equal(verifySignature(header, body, `${SECRET}x`, now), false);
    assert.equal(verifySignature(header, body, SECRET, now + 301_000), false);
    assert.equal(verifySignature(header, body, SECRET, now - 301_000), false);
    assert.equal(verifySignature(header, body, SECRET, now + 299_000), true);
    assert.equal(verifySignature('v1=abc', body, SECRET, now), false);
    assert.equal(verifySignature(`t=1700000000,v1=${'0'.repeat(64)}`, body, SECRET, now), false);
    assert.equal(verifySignature('t=1700000000,v1=zz', body, SECRET, now), false);
  });
});

describe('webhook backoff', () => {
  it('the n-th retry waits in [0, min(max, base * 2^(n-1))): full jitter', () => {
    const base = 1000;
    const max = 3_600_000;
    for (let n = 1; n <= 80; n++) {
      const ceiling = Math.min(max, base * 2 ** (n - 1));
      assert.equal(retryDelay(n, base, max, () => 0), 0, `n=${n} lowest`);
      const highest = retryDelay(n, base, max, () => 0.999999999);
      assert.ok(highest < ceiling && highest >= ceiling - 1, `n=${n}: ${highest} vs ${ceiling}`);
      for (let i = 0; i < 20; i++) {
        const d = retryDelay(n, base, max);
        assert.ok(Number.isInteger(d) && d >= 0 && d < ceiling, `n=${n}: ${d}`);
      }
    }
    assert.equal(retryDelay(1, base, max, () => 0.5), 500);
    assert.equal(retryDelay(2, base, max, () => 0.5), 1000);
    assert.equal(retryDelay(5, base, max, () => 0.5), 8000);
    // Capped, never Infinity or NaN, however many attempts.
    assert.equal(retryDelay(10_000, base, max, () => 0.5), max / 2);
  });
});

describe('webhook events', () => {
  it('ids are unique and ordered by time, even when the clock goes back', () => {
    let t = 5000;
    const next = eventIdSource(() => t);
    const ids = [next(), next()];
    t = 6000;
    ids.push(next());
    t = 4000;
    ids.push(next(), next());
    assert.equal(new Set(ids).size, ids.length);
    assert.deepEqual([...ids].sort(), ids);
    for (const id of ids) assert.match(id, /^evt_[0-9a-f]{28}$/);
  });

  it('the body starts with id and type, which the delivery reads back for its headers', () => {
    const body = serialize({ id: 'evt_x', type: 'room.member.joined', ts: 7, data: { room: 'r', user: 'u' } });
    assert.equal(body, '{"id":"evt_x","type":"room.member.joined","ts":7,"data":{"room":"r","user":"u"}}');
    assert.deepEqual(idAndType(body), { id: 'evt_x', type: 'room.member.joined' });
    assert.deepEqual(idAndType('{"type":"t","id":"i"}'), { id: 'i', type: 't' });
  });

  it('message.created: rooms by pattern (every room when unset), DMs only to a recipient without a session', async () => {
    const queue = new MemoryQueue();
    const { log } = captureLog();
    const cfg = config({
      endpoints: [
        { name: 'support', url: 'http://127.0.0.1:1/a', secret: SECRET, events: ['message.created'], rooms: ['support-*', 'sales'] },
        { name: 'all', url: 'http://127.0.0.1:1/b', secret: SECRET, events: ['message.created', 'user.online'] },
        { name: 'none', url: 'http://127.0.0.1:1/c', secret: SECRET, events: ['message.created'], rooms: [] },
      ],
    });
    const w = new Webhooks({ config: cfg, queue, log, now: () => 1234 });
    w.events.messageCreated!(message({ id: 'a', room: 'support-1' }), true);
    w.events.messageCreated!(message({ id: 'b', room: 'sales' }), true);
    w.events.messageCreated!(message({ id: 'c', room: 'general' }), true);
    w.events.messageCreated!(message({ id: 'd', to: 'bob' }), true);
    w.events.messageCreated!(message({ id: 'e', to: 'carol', body: { text: 'hey' } }), false);
    w.events.userOnline!('alice');
    await w.stop(0);
    const ids = (ep: string): string[] => queue.bodies(ep).map((b) => (b.data as { id?: string; user?: string }).id ?? `online:${(b.data as { user: string }).user}`);
    assert.deepEqual(ids('support').sort(), ['a', 'b', 'e']);
    assert.deepEqual(ids('all').sort(), ['a', 'b', 'c', 'e', 'online:alice']);
    assert.deepEqual(ids('none'), ['e']);
    // One enqueue for the whole turn.
    assert.deepEqual(queue.calls, ['enqueue 9']);
    // The same event (id and body) for every endpoint that wants it.
    const dm = queue.bodies('all').find((b) => (b.data as { id?: string }).id === 'e')!;
    assert.deepEqual(dm, {
      id: dm.id,
      type: 'message.created',
      ts: 1234,
      data: { id: 'e', from: 'alice', to: 'carol', seq: 1, contentType: 'text', body: { text: 'hey' }, ts: 1000 },
    });
    assert.deepEqual(queue.bodies('support').find((b) => (b.data as { id?: string }).id === 'e'), dm);
    const room = queue.bodies('all').find((b) => (b.data as { id?: string }).id === 'a')!;
    assert.deepEqual(room.data, { id: 'a', room: 'support-1', from: 'alice', seq: 1, contentType: 'text', body: 'hi', ts: 1000 });
  });
});

describe('webhook delivery', () => {
  it('posts signed events; 2xx removes them, a failure is retried later with its attempts counted', async () => {
    const queue = new MemoryQueue();
    const { log } = captureLog();
    let status = 500;
    const { fetch, posted } = fakeFetch(() => status);
    const w = new Webhooks({
      config: config({ endpoints: [{ name: 'app', url: 'http://app.test/hook', secret: SECRET, events: ['user.online'] }], retryBaseMs: 20, retryMaxMs: 40 }),
      queue,
      log,
      fetch,
    });
    w.start();
    w.events.userOnline!('alice');
    await until(() => posted.length >= 2, 'a retry');
    assert.equal(queue.rows.size, 1, 'kept while failing');
    status = 200;
    await until(() => queue.rows.size === 0, 'the delivery');
    await w.stop(0);
    const p = posted.at(-1)!;
    assert.equal(p.url, 'http://app.test/hook');
    assert.equal(p.headers['content-type'], 'application/json');
    assert.equal(p.headers['user-agent'], 'Switchboard-Webhooks');
    assert.equal(p.headers['switchboard-event-type'], 'user.online');
    const body = JSON.parse(p.body) as { id: string; data: unknown };
    assert.equal(p.headers['switchboard-event-id'], body.id);
    assert.deepEqual(body.data, { user: 'alice' });
    assert.ok(verifySignature(p.headers['switchboard-signature']!, p.body, SECRET, Date.now()));
    // Every attempt posted the same event.
    assert.equal(new Set(posted.map((x) => x.body)).size, 1);
    assert.ok(queue.calls.some((c) => /^retry evt_\S+\/app 1$/.test(c)), queue.calls.join('\n'));
    assert.deepEqual(w.stats().app!.delivered, 1);
  });

  it('with maxAttempts, an event tried that often is dropped, counted and logged', async () => {
    const queue = new MemoryQueue();
    const { log, lines } = captureLog();
    const { fetch, posted } = fakeFetch(() => 503);
    const w = new Webhooks({
      config: config({ endpoints: [{ name: 'app', url: 'http://app.test/', secret: SECRET, events: ['user.offline'] }], retryBaseMs: 1, retryMaxMs: 2, maxAttempts: 3 }),
      queue,
      log,
      fetch,
    });
    w.start();
    w.events.userOffline!('bob');
    await until(() => queue.rows.size === 0 && posted.length === 3, 'three attempts and the drop');
    await w.stop(0);
    const warn = lines.find((l) => l.level === 40 && l.endpoint === 'app' && l.dropped === 1);
    assert.ok(warn, JSON.stringify(lines));
    assert.equal(warn.maxAttempts, 1);
    assert.equal(w.stats().app!.dropped, 1);
  });

  it('an endpoint that is slow holds up none other', async () => {
    const queue = new MemoryQueue();
    const { log } = captureLog();
    let release!: () => void;
    const hang = new Promise<number>((resolve) => (release = () => resolve(200)));
    const { fetch, posted } = fakeFetch((p) => (p.url.includes('slow') ? hang : 200));
    const w = new Webhooks({
      config: config({
        endpoints: [
          { name: 'slow', url: 'http://slow.test/', secret: SECRET, events: ['user.online'] },
          { name: 'fast', url: 'http://fast.test/', secret: SECRET, events: ['user.online'] },
        ],
      }),
      queue,
      log,
      fetch,
    });
    w.start();
    for (let i = 0; i < 20; i++) w.events.userOnline!(`u${i}`);
    await until(() => w.stats().fast!.delivered === 20, 'every event to the fast endpoint');
    assert.equal(queue.of('fast').length, 0);
    // The slow one has at most 4 in flight and the rest waiting in the store.
    assert.equal(posted.filter((p) => p.url.includes('slow')).length, 4);
    assert.equal(queue.of('slow').length, 20);
    release();
    await until(() => queue.of('slow').length === 0, 'the slow endpoint catching up');
    await w.stop(0);
  });
});

describe('webhook queue bound', () => {
  it('past maxQueued the oldest events go, counted, with a warn line naming the endpoint and the count', async () => {
    const queue = new MemoryQueue();
    const { log, lines } = captureLog();
    // A receiver that never answers: nothing leaves the queue but what the bound pushes out.
    const { fetch } = fakeFetch(() => new Promise<number>(() => {}));
    const w = new Webhooks({
      config: config({ endpoints: [{ name: 'down', url: 'http://down.test/', secret: SECRET, events: ['user.online'] }], maxQueued: 5 }),
      queue,
      log,
      fetch,
    });
    w.start();
    // One event per turn: each is written to the store, which then holds one more than the bound.
    for (let i = 0; i < 12; i++) {
      w.events.userOnline!(`u${i}`);
      await new Promise((resolve) => setImmediate(resolve));
    }
    await until(() => w.stats().down!.dropped === 7 && queue.rows.size === 5, 'the oldest dropped');
    assert.deepEqual(
      queue.bodies('down').map((b) => (b.data as { user: string }).user).sort(),
      ['u10', 'u11', 'u7', 'u8', 'u9'],
      'the newest five are kept',
    );
    const warn = lines.find((l) => String(l.msg).startsWith('webhook events dropped'))!;
    assert.equal(warn.level, 40);
    assert.equal(warn.endpoint, 'down');
    // The first drop is logged at once; the others of the next 10 s are summed into a line at the stop.
    assert.equal(warn.dropped, 1);
    assert.equal(warn.queueFull, 1);
    assert.equal(warn.droppedTotal, 1);
    assert.equal(lines.filter((l) => String(l.msg).startsWith('webhook events dropped')).length, 1);
    assert.equal(w.stats().down!.queued, 5);
    await w.stop(0);
    const drops = lines.filter((l) => String(l.msg).startsWith('webhook events dropped'));
    assert.equal(drops.length, 2);
    assert.equal(drops[1]!.dropped, 6);
    assert.equal(drops[1]!.droppedTotal, 7);
  });

  it('events beyond maxQueued within one turn go too, the oldest first, before they reach the store', async () => {
    const queue = new MemoryQueue();
    const { log, lines } = captureLog();
    const w = new Webhooks({
      config: config({ endpoints: [{ name: 'app', url: 'http://app.test/', secret: SECRET, events: ['user.online'] }], maxQueued: 10 }),
      queue,
      log,
      fetch: fakeFetch(() => new Promise<number>(() => {})).fetch,
    });
    for (let i = 0; i < 25; i++) w.events.userOnline!(`u${i}`);
    await w.stop(0);
    assert.equal(queue.rows.size, 10);
    assert.ok(queue.bodies('app').every((b) => Number((b.data as { user: string }).user.slice(1)) >= 15));
    assert.equal(w.stats().app!.dropped, 15);
    assert.equal(lines.filter((l) => String(l.msg).startsWith('webhook events dropped')).reduce((n, l) => n + Number(l.dropped), 0), 15);
  });

  it('the drop log writes at most one line per period, the rest summed into the next', async () => {
    const { log, lines } = captureLog();
    let now = 0;
    const drops = new DropLog('ep', log, () => now, 50);
    drops.add(3, 'queueFull');
    assert.equal(lines.length, 1);
    assert.equal(lines[0]!.dropped, 3);
    drops.add(2, 'queueFull');
    drops.add(1, 'maxAttempts');
    assert.equal(lines.length, 1, 'nothing more within the period');
    now = 50;
    await until(() => lines.length === 2, 'the summed line');
    assert.deepEqual([lines[1]!.dropped, lines[1]!.queueFull, lines[1]!.maxAttempts, lines[1]!.droppedTotal], [3, 2, 1, 6]);
    // What a stop finds unlogged is logged then.
    now = 60;
    drops.add(4, 'queueFull');
    drops.flush();
    assert.equal(lines.length, 3);
    assert.equal(lines[2]!.dropped, 4);
    drops.flush();
    assert.equal(lines.length, 3);
  });

  it('a store that cannot take the events keeps them in memory and tries again; a stop writes what is pending', async () => {
    const queue = new MemoryQueue();
    const { log, lines } = captureLog();
    const w = new Webhooks({
      config: config({ endpoints: [{ name: 'app', url: 'http://app.test/', secret: SECRET, events: ['room.member.joined', 'room.member.left'] }] }),
      queue,
      log,
      fetch: fakeFetch(() => new Promise<number>(() => {})).fetch,
    });
    queue.failEnqueue = true;
    w.events.memberJoined!('lobby', 'alice');
    await until(() => queue.calls.length === 1, 'the failing enqueue');
    assert.ok(lines.some((l) => l.level === 50 && String(l.msg).includes('could not be written')));
    queue.failEnqueue = false;
    w.events.memberLeft!('lobby', 'alice');
    await w.stop(0);
    assert.deepEqual(
      queue.bodies('app').map((b) => [b.type, b.data]),
      [
        ['room.member.joined', { room: 'lobby', user: 'alice' }],
        ['room.member.left', { room: 'lobby', user: 'alice' }],
      ],
    );
  });
});

describe('webhook config', () => {
  it('defaults, and refuses what cannot work', () => {
    const c = config({});
    assert.deepEqual(c, { endpoints: [], maxQueued: 100_000, retryBaseMs: 1000, retryMaxMs: 3_600_000 });
    const ep = config({ endpoints: [{ name: 'a', url: 'https://x.test/h', secret: SECRET, events: ['user.online'] }] }).endpoints[0];
    assert.deepEqual(ep, { name: 'a', url: 'https://x.test/h', secret: SECRET, events: ['user.online'], timeoutMs: 5000 });
    const bad: Record<string, unknown>[] = [
      { endpoints: [{ name: 'a', url: 'ftp://x.test/', secret: SECRET, events: ['user.online'] }] },
      { endpoints: [{ name: 'a', url: 'https://x.test/', secret: 'short', events: ['user.online'] }] },
      { endpoints: [{ name: 'a', url: 'https://x.test/', secret: SECRET, events: ['user.nope'] }] },
      { endpoints: [{ name: 'a', url: 'https://x.test/', secret: SECRET, events: [] }] },
      { endpoints: [{ name: 'a b', url: 'https://x.test/', secret: SECRET, events: ['user.online'] }] },
      { endpoints: [{ name: 'a', url: 'https://x.test/', secret: SECRET, events: ['message.created'], rooms: ['a*b'] }] },
      { endpoints: [{ name: 'a', url: 'https://x.test/', secret: SECRET, events: ['user.online'], extra: 1 }] },
      {
        endpoints: [
          { name: 'a', url: 'https://x.test/', secret: SECRET, events: ['user.online'] },
          { name: 'a', url: 'https://y.test/', secret: SECRET, events: ['user.online'] },
        ],
      },
      { retryBaseMs: 5000, retryMaxMs: 1000 },
      { maxQueued: 0 },
    ];
    for (const b of bad) assert.equal(configSchema.safeParse({ webhooks: b }).success, false, JSON.stringify(b));
  });
});
