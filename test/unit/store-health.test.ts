/**
 * StoreHealth: readiness from the commits' outcomes, a probe through the store, and the free space of the SQLite
 * folder; back by itself once the store works again. Driven tick by tick (no timer is started).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { isDiskFull, StoreHealth, type StoreHealthOptions } from '../../src/store/health.js';

class FakeStore {
  /** What the next probes do: answer, fail with this error, or never answer. */
  mode: 'ok' | Error | 'hang' = 'ok';
  probes = 0;
  private hanging: (() => void)[] = [];
  lastSeq(): Promise<number> {
    this.probes++;
    const mode = this.mode;
    if (mode === 'ok') return Promise.resolve(0);
    if (mode === 'hang') return new Promise((resolve) => this.hanging.push(() => resolve(0)));
    return Promise.reject(mode);
  }
  answerHanging(): void {
    for (const a of this.hanging.splice(0)) a();
  }
}

interface Line {
  level: string;
  msg: string;
  fields: Record<string, unknown>;
}

function setup(opts: Partial<StoreHealthOptions> & { free?: number } = {}) {
  const store = new FakeStore();
  const lines: Line[] = [];
  const at = (level: string) => (fields: object, msg: string) => void lines.push({ level, msg, fields: fields as Record<string, unknown> });
  const disk = { free: opts.free ?? 1e9 };
  const health = new StoreHealth(
    store,
    {
      intervalMs: 1_000,
      timeoutMs: opts.timeoutMs ?? 50,
      dataDir: opts.dataDir === undefined ? '/data' : opts.dataDir,
      minFreeBytes: opts.minFreeBytes ?? 1_000_000,
      freeBytes: () => Promise.resolve(disk.free),
    },
    { error: at('error'), warn: at('warn'), info: at('info') },
  );
  return { store, lines, health, disk };
}

/** Lets the tick that was just called reach its probe (it looks at the free space first). */
async function probeOut(store: FakeStore, n: number): Promise<void> {
  for (let i = 0; i < 100 && store.probes < n; i++) await new Promise((resolve) => setImmediate(resolve));
  assert.equal(store.probes, n, 'the probe went out');
}

const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
const sqliteFull = Object.assign(new Error('sqlite: database or disk is full'), { code: 'SQLITE_FULL' });

describe('StoreHealth', () => {
  // The health's own timers do not keep a process alive (unref): a probe left waiting must not end the test early.
  let alive: NodeJS.Timeout;
  before(() => (alive = setInterval(() => {}, 1_000)));
  after(() => clearInterval(alive));

  it('a failed commit makes the store unreachable, logged once; the next commit that succeeds brings it back', async () => {
    const { health, lines } = setup();
    await health.tick();
    assert.equal(health.problem(), null);
    for (let i = 0; i < 100; i++) health.failed(refused);
    assert.equal(health.problem(), 'store unreachable');
    assert.equal(lines.filter((l) => l.level === 'error').length, 1, 'one line for the transition, not one per failure');
    assert.match(lines[0]!.msg, /store unavailable \(store unreachable\)/);
    health.committed();
    assert.equal(health.problem(), null);
    assert.equal(lines.at(-1)!.msg, 'store works again');
    assert.equal(lines.at(-1)!.fields.how, 'a commit succeeded');
  });

  it('without traffic, the probe finds the store failing and, later, working again', async () => {
    const { health, store } = setup();
    store.mode = refused;
    await health.tick();
    assert.equal(health.problem(), 'store unreachable');
    await health.tick();
    assert.equal(health.problem(), 'store unreachable');
    store.mode = 'ok';
    await health.tick();
    assert.equal(health.problem(), null);
  });

  it('does not probe while commits show the store working; probes while it fails', async () => {
    const { health, store } = setup();
    await health.tick();
    const probes = store.probes;
    health.committed();
    await health.tick();
    assert.equal(store.probes, probes, 'a commit since the last look says enough');
    health.failed(refused);
    health.committed();
    health.failed(refused);
    await health.tick();
    assert.equal(store.probes, probes + 1, 'failing: the probe decides');
  });

  it('a probe that succeeds does not bring the store back if a commit failed while it was out', async () => {
    const { health, store } = setup({ timeoutMs: 1_000 });
    health.failed(refused);
    store.mode = 'hang';
    const tick = health.tick();
    await probeOut(store, 1);
    health.failed(refused);
    store.answerHanging();
    await tick;
    assert.equal(health.problem(), 'store unreachable');
    store.mode = 'ok';
    await health.tick();
    assert.equal(health.problem(), null);
  });

  it('a probe not answered in time is a failure, unless commits succeeded meanwhile; no second probe while one is out', async () => {
    const { health, store } = setup({ timeoutMs: 30 });
    store.mode = 'hang';
    await health.tick();
    assert.equal(health.problem(), 'store unreachable');
    await health.tick();
    assert.equal(store.probes, 1, 'the hanging probe is still out');
    store.answerHanging();
    await new Promise((resolve) => setImmediate(resolve));
    store.mode = 'ok';
    await health.tick();
    assert.equal(health.problem(), null);

    const busy = setup({ timeoutMs: 30 });
    busy.store.mode = 'hang';
    const tick = busy.health.tick();
    await probeOut(busy.store, 1);
    busy.health.committed();
    await tick;
    assert.equal(busy.health.problem(), null, 'a commit succeeded while the probe waited behind it');
  });

  it('a write refused for want of space is "disk full" until the space is back above minFreeBytes', async () => {
    const { health, store, disk } = setup({ free: 10_000, minFreeBytes: 1_000_000 });
    health.failed(sqliteFull);
    assert.equal(health.problem(), 'disk full');
    await health.tick();
    assert.equal(health.problem(), 'disk full');
    disk.free = 5_000_000;
    const probes = store.probes;
    await health.tick();
    assert.equal(store.probes, probes + 1);
    assert.equal(health.problem(), null);
  });

  it('less free space than minFreeBytes is "disk full" even while writes succeed; 0 turns the check off', async () => {
    const { health, disk, lines } = setup({ free: 500_000, minFreeBytes: 1_000_000 });
    await health.tick();
    health.committed();
    assert.equal(health.problem(), 'disk full');
    assert.equal(lines.filter((l) => l.level === 'warn').length, 1);
    await health.tick();
    assert.equal(lines.filter((l) => l.level === 'warn').length, 1, 'logged once');
    disk.free = 2_000_000;
    await health.tick();
    assert.equal(health.problem(), null);
    assert.equal(lines.at(-1)!.level, 'info');

    const off = setup({ free: 0, minFreeBytes: 0 });
    await off.health.tick();
    assert.equal(off.health.problem(), null);
    const pg = setup({ free: 0, dataDir: null });
    await pg.health.tick();
    assert.equal(pg.health.problem(), null, 'no folder (PostgreSQL): nothing to look at');
  });

  it('a disk-full failure without a folder to look at (PostgreSQL) ends at a probe with no failure meanwhile', async () => {
    const { health } = setup({ dataDir: null });
    health.failed(Object.assign(new Error('could not extend file "base/16384/2619": No space left on device'), { code: '53100' }));
    assert.equal(health.problem(), 'disk full');
    await health.tick();
    assert.equal(health.problem(), null);
  });

  it('tells a full disk from other failures', () => {
    assert.ok(isDiskFull(sqliteFull));
    assert.ok(isDiskFull(Object.assign(new Error('write'), { code: 'ENOSPC' })));
    assert.ok(isDiskFull(Object.assign(new Error('x'), { code: '53100' })));
    assert.ok(isDiskFull(new Error('sqlite: database or disk is full')));
    assert.ok(!isDiskFull(refused));
    assert.ok(!isDiskFull(new Error('Connection terminated unexpectedly')));
    assert.ok(!isDiskFull(undefined));
  });
});
