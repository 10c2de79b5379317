/**
 * Readiness and the repeated-error log when PostgreSQL becomes unreachable: the server reaches the database
 * through a TCP proxy the test cuts for 5 s while clients keep publishing. /readyz answers 503 ("store
 * unreachable") during the outage and 200 again after it, publishes work again without a restart, and the
 * failed commits are logged a handful of times with counts, not once each. Skipped outside CI when no
 * PostgreSQL server is reachable.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { join } from 'node:path';
import { closeAllClients, connectUser, type Msg, type TestClient } from '../helpers/client.js';
import { NO_RATE_LIMIT, tempDir } from '../helpers/durable.js';
import { createTestDatabase } from '../helpers/postgres.js';
import { readyz, until } from '../helpers/readiness.js';
import { startServer } from '../helpers/server.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';

const OUTAGE_MS = 5_000;
const REPEAT_INTERVAL_MS = 1_000;

interface Publishing {
  acked: number;
  unavailable: number;
  other: Msg[];
  stop(): void;
}

/** Keeps `window` publishes to `room` unanswered at a time, each answer sending the next, until stopped. */
function keepPublishing(c: TestClient, room: string, window = 8): Publishing {
  let n = 0;
  let out = 0;
  let stopped = false;
  const p: Publishing = { acked: 0, unavailable: 0, other: [], stop: () => (stopped = true) };
  const fill = (): void => {
    while (!stopped && out < window && c.isOpen) {
      out++;
      c.send({ type: 'publish', room, body: `m${n}`, id: `pub-${n++}` });
    }
  };
  c.ws.on('message', (data: Buffer) => {
    for (const line of data.toString('utf8').split('\n')) {
      if (line === '') continue;
      const m = JSON.parse(line) as Msg;
      if ((m.type !== 'reply' && m.type !== 'error') || !String(m.id).startsWith('pub-')) continue;
      out--;
      if (m.type === 'reply') p.acked++;
      else if (m.code === 'unavailable') p.unavailable++;
      else p.other.push(m);
    }
    fill();
  });
  fill();
  return p;
}

describe('readiness (PostgreSQL)', () => {
  it('answers 503 while the database is unreachable and 200 once it is back; repeated commit failures are logged with counts', async (t) => {
    const db = await createTestDatabase();
    if (!db) return t.skip('PostgreSQL is not reachable');
    // After-hooks run in registration order: the database goes after the server and the proxy have (on success
    // the test stops them itself; after a failure DROP … WITH (FORCE) cuts off a server still connected).
    t.after(() => db.drop());
    const target = new URL(db.url);
    const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    t.after(() => proxy.close());
    t.after(closeAllClients);
    const viaProxy = new URL(db.url);
    viaProxy.hostname = '127.0.0.1';
    viaProxy.port = String(proxy.port);
    const dir = tempDir(t);
    const srv = await startServer(
      [
        '--auth.dev', 'true',
        '--welcome.enabled', 'false',
        ...NO_RATE_LIMIT,
        '--store.url', viaProxy.toString(),
        '--uploads.dir', join(dir, 'uploads'),
        '--log.repeatIntervalMs', String(REPEAT_INTERVAL_MS),
      ],
      { t, timeoutMs: 30_000 },
    );
    assert.deepEqual(await readyz(srv.url), { status: 200, body: { status: 'ready' } });

    const publishers: Publishing[] = [];
    for (const user of ['ann', 'ben']) {
      const c = await connectUser(srv.wsUrl, user);
      const room = `outage-${user}`;
      await c.call({ type: 'join', room });
      await c.call({ type: 'publish', room, body: 'before' });
      publishers.push(keepPublishing(c, room));
    }
    const total = (k: 'acked' | 'unavailable'): number => publishers.reduce((n, p) => n + p[k], 0);
    await until(() => total('acked') >= 50, 'publishes acknowledged before the outage');

    // ── the outage ───────────────────────────────────────────────────────────
    const cutAt = Date.now();
    const fromLine = srv.logs().length;
    proxy.cut();
    let during = await readyz(srv.url);
    await until(async () => (during = await readyz(srv.url)).status === 503, '/readyz to answer 503');
    assert.deepEqual(during.body, { status: 'unavailable', reason: 'store unreachable' });
    assert.equal((await fetch(`${srv.url}/healthz`)).status, 200, '/healthz stays the liveness: the process runs');
    // The outage lasts OUTAGE_MS, clients publishing all along.
    await new Promise((resolve) => setTimeout(resolve, cutAt + OUTAGE_MS - Date.now()));
    assert.equal((await readyz(srv.url)).status, 503, 'still unready at the end of the outage');
    const unavailable = total('unavailable');
    const toLine = srv.logs().length;
    const ackedBefore = total('acked');
    proxy.restore();

    // ── back ─────────────────────────────────────────────────────────────────
    await until(async () => (await readyz(srv.url)).status === 200, '/readyz to answer 200 again');
    await until(() => total('acked') >= ackedBefore + 50, 'publishes acknowledged again');
    for (const p of publishers) p.stop();
    for (const p of publishers) assert.deepEqual(p.other, [], 'every refused publish was answered `unavailable`');
    assert.ok(unavailable >= 100, `clients kept publishing through the outage (${unavailable} answered unavailable)`);

    const outage = srv.logs().slice(fromLine, toLine);
    const failed = outage.filter((l) => l.msg === 'store commit failed');
    t.diagnostic(`${unavailable} publishes answered unavailable, ${failed.length} "store commit failed" lines: ${JSON.stringify(failed.map((l) => l.repeated ?? 1))}`);
    const byMessage = new Map<string, number>();
    for (const l of outage) byMessage.set(String(l.msg), (byMessage.get(String(l.msg)) ?? 0) + 1);
    t.diagnostic(`every line of the outage: ${JSON.stringify(Object.fromEntries(byMessage))}`);
    assert.ok(outage.length <= 2 * (OUTAGE_MS / REPEAT_INTERVAL_MS) + 6, `${outage.length} lines in all during the outage`);
    // The first at once, then one per second with a count: about OUTAGE_MS / REPEAT_INTERVAL_MS + 1 lines.
    assert.ok(failed.length >= 2 && failed.length <= OUTAGE_MS / REPEAT_INTERVAL_MS + 3, `${failed.length} lines: a handful, not one per failure`);
    assert.equal(failed[0]!.repeated, undefined, 'the first failure is logged as it came');
    const summaries = failed.slice(1);
    assert.ok(summaries.every((l) => typeof l.repeated === 'number' && l.repeated > 0 && l.intervalMs === REPEAT_INTERVAL_MS && typeof l.err === 'string'));
    const counted = failed.reduce((n, l) => n + (typeof l.repeated === 'number' ? l.repeated : 1), 0);
    assert.ok(counted >= 10 && counted <= unavailable, `the lines count ${counted} failed commits (each failed at least one of the ${unavailable} publishes)`);
    const transitions = outage.filter((l) => String(l.msg).startsWith('store unavailable'));
    assert.equal(transitions.length, 1, 'the store going away is logged once');
    assert.equal(transitions[0]!.problem, 'store unreachable');
    await srv.waitForLog((l) => l.msg === 'store works again', { from: toLine });

    // A client connecting now publishes as before.
    const cat = await connectUser(srv.wsUrl, 'cat');
    await cat.call({ type: 'join', room: 'after' });
    const ack = await cat.call<{ seq: number }>({ type: 'publish', room: 'after', body: 'after the outage' });
    assert.equal(ack.seq, 1);
    closeAllClients();
    assert.equal(await srv.stop(), 0, `exit code\nstderr:\n${srv.stderr()}`);
    await proxy.close();
  });
});
