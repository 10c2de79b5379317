/**
 * Webhooks against a real HTTP receiver run by the test (node:http) and the real server process: signatures,
 * which events go where, retries until 2xx, events surviving a restart while the receiver is down, and a slow
 * receiver leaving chat latency alone.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { closeAllClients, connectUser } from '../helpers/client.js';
import { startServer, tempDataDir } from '../helpers/server.js';

const SECRET = 'whsec-test-0123456789abcdef';
/** A start beside a test file that runs a score of processes at once (cli.test.ts) took over 10 s on 2 busy cores. */
const START_TIMEOUT_MS = 30_000;

interface Received {
  id: string;
  type: string;
  ts: number;
  data: Record<string, unknown>;
  headers: IncomingHttpHeaders;
  raw: string;
  /** The signature header verified against the raw body with the secret (HMAC computed here), t within 5 min. */
  signed: boolean;
  /** What the receiver answered. */
  status: number;
}

type Answer = (n: number) => { status: number; delayMs?: number };

/** Computes the HMAC itself, as a receiver would. */
function verify(header: string | undefined, raw: string): boolean {
  const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header ?? '');
  if (!m) return false;
  const expected = createHmac('sha256', SECRET).update(`${m[1]}.${raw}`).digest('hex');
  return expected === m[2] && Math.abs(Date.now() / 1000 - Number(m[1])) < 300;
}

/** A webhook receiver: records every request, answers as `answer` says (status, optional delay). */
class Receiver {
  readonly requests: Received[] = [];
  /** Requests taken and not yet answered. */
  hanging = 0;
  private readonly watchers = new Set<() => void>();
  private readonly timers = new Set<NodeJS.Timeout>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(answer: Answer = () => ({ status: 200 }), port = 0): Promise<Receiver> {
    let self!: Receiver;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const { status, delayMs = 0 } = answer(self.requests.length + self.hanging);
        const reply = (): void => {
          self.hanging--;
          const parsed = JSON.parse(raw) as { id: string; type: string; ts: number; data: Record<string, unknown> };
          self.requests.push({ ...parsed, headers: req.headers, raw, signed: verify(req.headers['switchboard-signature'] as string | undefined, raw), status });
          res.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : 'not now');
          for (const w of [...self.watchers]) w();
        };
        self.hanging++;
        if (delayMs <= 0) return reply();
        const timer = setTimeout(() => {
          self.timers.delete(timer);
          reply();
        }, delayMs);
        self.timers.add(timer);
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    self = new Receiver(server, (server.address() as AddressInfo).port);
    return self;
  }

  /** A port that was free a moment ago (for a receiver that comes up later). */
  static async freePort(): Promise<number> {
    const s = createServer();
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', () => resolve()));
    const { port } = s.address() as AddressInfo;
    await new Promise((resolve) => s.close(resolve));
    return port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/hooks`;
  }

  /** Events answered 2xx. */
  delivered(): Received[] {
    return this.requests.filter((r) => r.status >= 200 && r.status < 300);
  }

  /** Resolves once `cond` holds (checked after every request); fails after `timeoutMs` with what arrived. */
  until(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    if (cond()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.watchers.delete(check);
        reject(new Error(`${what}: not within ${timeoutMs} ms; received:\n${this.requests.map((r) => `  ${r.status} ${r.raw}`).join('\n')}`));
      }, timeoutMs);
      const check = (): void => {
        if (!cond()) return;
        clearTimeout(timer);
        this.watchers.delete(check);
        resolve();
      };
      this.watchers.add(check);
    });
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

function endpoint(url: string, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'app',
    url,
    secret: SECRET,
    events: ['message.created', 'user.online', 'user.offline', 'room.member.joined', 'room.member.left', 'session.disconnected'],
    rooms: ['support-*'],
    ...over,
  };
}

function flags(endpoints: Record<string, unknown>[], more: string[] = []): string[] {
  return ['--auth.dev', 'true', '--webhooks.endpoints', JSON.stringify(endpoints), '--webhooks.retryBaseMs', '50', '--webhooks.retryMaxMs', '200', ...more];
}

const is =
  (type: string, data: Record<string, unknown> = {}) =>
  (r: Received): boolean =>
    r.type === type && Object.entries(data).every(([k, v]) => r.data[k] === v);

describe('webhooks', () => {
  it('sends signed events: online, joined, messages in chosen rooms, DMs to users without a session, disconnects', async (t) => {
    t.after(closeAllClients);
    const rx = await Receiver.start();
    t.after(() => rx.close());
    // The endpoint list from the environment, as JSON.
    const srv = await startServer(['--auth.dev', 'true', '--webhooks.retryBaseMs', '50'], {
      t,
      timeoutMs: START_TIMEOUT_MS,
      env: { SWITCHBOARD_WEBHOOKS_ENDPOINTS: JSON.stringify([endpoint(rx.url)]) },
    });
    const has = (type: string, data: Record<string, unknown> = {}) => () => rx.delivered().some(is(type, data));

    const alice = await connectUser(srv.wsUrl, 'alice');
    await rx.until(has('user.online', { user: 'alice' }), 'user.online');
    const bob = await connectUser(srv.wsUrl, 'bob');
    await alice.call({ type: 'join', room: 'support-1' });
    await alice.call({ type: 'join', room: 'general' });
    await bob.call({ type: 'join', room: 'support-1' });
    await rx.until(has('room.member.joined', { room: 'support-1', user: 'alice' }), 'room.member.joined');

    const inSupport = await alice.call<{ id: string; seq: number; ts: number }>({ type: 'publish', room: 'support-1', body: 'help please' });
    await alice.call({ type: 'publish', room: 'general', body: 'not for the webhook' });
    await alice.call({ type: 'send', to: 'bob', body: 'bob is online: no webhook' });
    const toCarol = await alice.call<{ id: string; seq: number; ts: number }>({ type: 'send', to: 'carol', contentType: 'x-card', body: { text: 'carol is offline' } });
    await rx.until(has('message.created', { id: toCarol.id }), 'message.created for the DM to carol');
    await rx.until(has('message.created', { id: inSupport.id }), 'message.created in support-1');

    const aliceSession = alice.session!;
    await alice.close(1000);
    await rx.until(has('user.offline', { user: 'alice' }), 'user.offline');
    await rx.until(has('session.disconnected', { user: 'alice' }), 'session.disconnected');
    await rx.until(has('room.member.left', { room: 'support-1', user: 'alice' }), 'room.member.left');

    // A stop waits for deliveries in flight: whatever was sent before it has arrived by then.
    await bob.close(1000);
    await rx.until(has('user.offline', { user: 'bob' }), 'user.offline bob');
    assert.equal(await srv.stop(), 0);

    const got = rx.delivered();
    for (const r of rx.requests) {
      assert.ok(r.signed, `signature of ${r.raw}: ${String(r.headers['switchboard-signature'])}`);
      assert.equal(r.headers['content-type'], 'application/json');
      assert.equal(r.headers['user-agent'], 'Switchboard-Webhooks');
      assert.equal(r.headers['switchboard-event-id'], r.id);
      assert.equal(r.headers['switchboard-event-type'], r.type);
      assert.match(r.id, /^evt_[0-9a-f]+$/);
      assert.ok(Math.abs(r.ts - Date.now()) < 60_000);
    }
    assert.equal(new Set(got.map((r) => r.id)).size, got.length, 'each event once (the receiver answered 2xx at once)');
    const messages = got.filter((r) => r.type === 'message.created').map((r) => r.data);
    assert.deepEqual(
      messages.sort((a, b) => String(a.id).localeCompare(String(b.id))),
      [
        { id: inSupport.id, room: 'support-1', from: 'alice', seq: inSupport.seq, contentType: 'text', body: 'help please', ts: inSupport.ts },
        { id: toCarol.id, from: 'alice', to: 'carol', seq: toCarol.seq, contentType: 'x-card', body: { text: 'carol is offline' }, ts: toCarol.ts },
      ].sort((a, b) => a.id.localeCompare(b.id)),
      'only the support room message and the DM to the offline user',
    );
    assert.deepEqual(got.find(is('session.disconnected', { user: 'alice' }))!.data, { session: aliceSession, user: 'alice', code: 1000, reason: '' });
    assert.deepEqual(got.find(is('user.online', { user: 'alice' }))!.data, { user: 'alice' });
    // general is not among the rooms chosen, but joins and leaves are told for every room.
    assert.ok(got.some(is('room.member.joined', { room: 'general', user: 'alice' })));
    assert.deepEqual(got.find(is('room.member.joined', { room: 'support-1', user: 'bob' }))!.data, { room: 'support-1', user: 'bob' });
  });

  it('a receiver that answers 500 for a while, then 200, gets every event at least once', async (t) => {
    t.after(closeAllClients);
    // The first 12 requests fail.
    const rx = await Receiver.start((n) => ({ status: n < 12 ? 500 : 200 }));
    t.after(() => rx.close());
    const srv = await startServer(flags([endpoint(rx.url, { events: ['user.online'] })]), { t, timeoutMs: START_TIMEOUT_MS });
    const users = Array.from({ length: 8 }, (_, i) => `user${i}`);
    for (const u of users) await connectUser(srv.wsUrl, u);
    const online = (): Set<unknown> => new Set(rx.delivered().filter(is('user.online')).map((r) => r.data.user));
    await rx.until(() => online().size === users.length, 'every user.online answered 200');
    assert.deepEqual([...online()].sort(), users);
    assert.ok(rx.requests.filter((r) => r.status === 500).length === 12);
    for (const r of rx.requests) assert.ok(r.signed);
    // A retry is the same event: same id, same body (signed again, with the time of the attempt).
    const byId = new Map<string, string>();
    for (const r of rx.requests) {
      if (byId.has(r.id)) assert.equal(byId.get(r.id), r.raw);
      byId.set(r.id, r.raw);
    }
    assert.equal(byId.size, users.length, 'no other events');
    await srv.stop();
  });

  it('events queued while the receiver is down survive a server restart', async (t) => {
    t.after(closeAllClients);
    const port = await Receiver.freePort();
    const url = `http://127.0.0.1:${port}/hooks`;
    const dir = tempDataDir();
    const store = ['--store.file', join(dir, 'sb.db'), '--uploads.dir', join(dir, 'uploads')];
    const srv1 = await startServer(flags([endpoint(url)], store), { t, timeoutMs: START_TIMEOUT_MS });
    const alice = await connectUser(srv1.wsUrl, 'alice');
    await alice.call({ type: 'join', room: 'support-7' });
    const sent: string[] = [];
    for (let i = 0; i < 5; i++) sent.push((await alice.call<{ id: string }>({ type: 'publish', room: 'support-7', body: `m${i}` })).id);
    sent.push((await alice.call<{ id: string }>({ type: 'send', to: 'dave', body: 'dave is offline' })).id);
    // Nobody listens: the first attempt fails (and the events stay queued).
    await srv1.waitForLog((l) => String(l.msg).startsWith('webhook delivery failed'));
    const session = alice.session!;
    assert.equal(await srv1.stop(), 0);

    const srv2 = await startServer(flags([endpoint(url)], store), { t, timeoutMs: START_TIMEOUT_MS });
    const rx = await Receiver.start(() => ({ status: 200 }), port);
    t.after(() => rx.close());
    const delivered = (): Received[] => rx.delivered();
    const messageIds = (): Set<unknown> => new Set(delivered().filter(is('message.created')).map((r) => r.data.id));
    await rx.until(
      () =>
        sent.every((id) => messageIds().has(id)) &&
        delivered().some(is('user.online', { user: 'alice' })) &&
        delivered().some(is('room.member.joined', { room: 'support-7', user: 'alice' })) &&
        // The stop closed alice's session (1001): those events were written to the store at the stop.
        delivered().some(is('session.disconnected', { session, code: 1001 })) &&
        delivered().some(is('user.offline', { user: 'alice' })) &&
        delivered().some(is('room.member.left', { room: 'support-7', user: 'alice' })),
      'every event from before the restart',
    );
    for (const r of rx.requests) assert.ok(r.signed);
    assert.equal(await srv2.stop(), 0);
  });

  it('a slow receiver does not delay chat', async (t) => {
    t.after(closeAllClients);
    const rx = await Receiver.start(() => ({ status: 200, delayMs: 4000 }));
    t.after(() => rx.close());
    const srv = await startServer(flags([endpoint(rx.url, { timeoutMs: 10_000 })]), { t, timeoutMs: START_TIMEOUT_MS });
    const alice = await connectUser(srv.wsUrl, 'alice');
    const bob = await connectUser(srv.wsUrl, 'bob');
    await alice.call({ type: 'join', room: 'support-slow' });
    await bob.call({ type: 'join', room: 'support-slow' });
    // Deliveries are hanging at the receiver.
    const hangingSince = Date.now();
    while (rx.hanging === 0) {
      assert.ok(Date.now() - hangingSince < 3000, 'no delivery reached the receiver');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const latencies: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t0 = Date.now();
      alice.send({ type: 'publish', room: 'support-slow', body: `quick ${i}` });
      await bob.next((m) => m.type === 'message' && m.body === `quick ${i}`, 2000);
      latencies.push(Date.now() - t0);
    }
    // Each message made a webhook event too; none was answered yet.
    assert.ok(rx.hanging > 0);
    assert.equal(rx.requests.length, 0);
    const worst = Math.max(...latencies);
    assert.ok(worst < 500, `chat latencies ${latencies.join(', ')} ms while webhooks hang`);
    // A stop does not wait for the receiver either (the deliveries stay queued).
    const t0 = Date.now();
    assert.equal(await srv.stop(), 0);
    assert.ok(Date.now() - t0 < 4000, `stop took ${Date.now() - t0} ms`);
  });
});
