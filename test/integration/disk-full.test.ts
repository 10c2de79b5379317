/**
 * A full disk under the SQLite store: the database lives on a small tmpfs the test mounts and fills until
 * writes fail. /readyz answers 503 ("disk full") and the publish that could not be stored is answered
 * `unavailable`; once space is freed the same server stores again (the refused publish, resent with its key)
 * and /readyz answers 200, without a restart. Mounting needs root: skipped with a message where it is not
 * permitted, except under CI=true, where it must run.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statfsSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { closeAllClients, connectUser, type Msg } from '../helpers/client.js';
import { fullHistory, NO_RATE_LIMIT, range, seqs, tempDir } from '../helpers/durable.js';
import { readyz, until } from '../helpers/readiness.js';
import { startServer, type TestServer } from '../helpers/server.js';

const TMPFS_BYTES = 16 * 1024 * 1024;
const MIN_FREE_BYTES = 1024 * 1024;
/** What the filler file leaves free: a few dozen messages' worth. */
const LEFT_FREE_BYTES = 512 * 1024;

function freeBytes(dir: string): number {
  const s = statfsSync(dir);
  return s.bavail * s.bsize;
}

function sizeOf(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

/** Unmounts, trying again while the filesystem is still busy (a process that has just exited), then lazily. */
async function unmount(dir: string): Promise<void> {
  for (let i = 0; i < 20; i++) {
    try {
      execFileSync('umount', [dir], { stdio: 'pipe' });
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
}

describe('disk full (SQLite)', () => {
  it('answers 503 while the disk is full and stores again once space is freed, without a restart', async (t) => {
    const mnt = mkdtempSync(join(tmpdir(), 'switchboard-tmpfs-'));
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${TMPFS_BYTES}`, 'tmpfs', mnt], { stdio: 'pipe' });
    } catch (e) {
      rmSync(mnt, { recursive: true, force: true });
      const why = `cannot mount a tmpfs (${String((e as { stderr?: Buffer }).stderr ?? (e as Error).message).trim()})`;
      if (process.env['CI'] === 'true') throw new Error(`${why}; CI=true: the disk-full test must run (as root)`);
      return t.skip(`${why}: the disk-full test needs root`);
    }
    let srv: TestServer | undefined;
    // Registered before the server's own after-hook, so it runs first: the server must be gone before the unmount.
    t.after(async () => {
      closeAllClients();
      if (srv && srv.proc.exitCode === null && srv.proc.signalCode === null) {
        srv.kill();
        await srv.exited;
      }
      await unmount(mnt);
      rmSync(mnt, { recursive: true, force: true });
    });
    const db = join(mnt, 'switchboard.db');
    const dir = tempDir(t);
    srv = await startServer(
      [
        '--auth.dev', 'true',
        '--welcome.enabled', 'false',
        ...NO_RATE_LIMIT,
        '--store.file', db,
        '--uploads.dir', join(dir, 'uploads'),
        '--store.minFreeBytes', String(MIN_FREE_BYTES),
      ],
      { t, timeoutMs: 30_000 },
    );
    const server = srv;
    const pid = server.proc.pid;
    assert.deepEqual(await readyz(server.url), { status: 200, body: { status: 'ready' } });
    const alice = await connectUser(server.wsUrl, 'alice');
    await alice.call({ type: 'join', room: 'disk' });
    const publish = (i: number): Promise<Msg> => alice.request({ type: 'publish', room: 'disk', body: `${i} ${'x'.repeat(7_000)}`, key: `k${i}` }, 10_000);
    let acked = 0;
    assert.equal((await publish(acked)).type, 'reply');
    acked++;

    // ── fill the disk ─────────────────────────────────────────────────────────
    const filler = join(mnt, 'filler');
    writeFileSync(filler, Buffer.alloc(Math.max(0, freeBytes(mnt) - LEFT_FREE_BYTES)));
    const fromLine = server.logs().length;
    let refused: Msg | null = null;
    for (let i = 0; i < 2_000 && refused === null; i++) {
      const r = await publish(acked);
      if (r.type === 'reply') acked++;
      else refused = r;
    }
    assert.ok(refused, 'a publish was refused once the disk was full');
    assert.equal(refused.code, 'unavailable', JSON.stringify(refused));
    t.diagnostic(
      `full after ${acked} messages: ${freeBytes(mnt)} bytes free, database ${sizeOf(db)} bytes, WAL ${sizeOf(`${db}-wal`)} bytes`,
    );
    const line = await server.waitForLog((l) => String(l.msg).startsWith('store unavailable'), { from: fromLine });
    assert.equal(line.problem, 'disk full', 'the failed write is taken for a full disk (SQLITE_FULL)');
    await until(async () => (await readyz(server.url)).status === 503, '/readyz to answer 503');
    assert.deepEqual((await readyz(server.url)).body, { status: 'unavailable', reason: 'disk full' });
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200, '/healthz stays the liveness: the process runs');

    // ── free space: the same server stores again ──────────────────────────────
    unlinkSync(filler);
    let resent: Msg | null = null;
    await until(async () => (resent = await publish(acked)).type === 'reply', 'the refused publish, resent with its key, to be stored');
    acked++;
    assert.notEqual((resent as Msg | null)?.duplicate, true);
    await until(async () => (await readyz(server.url)).status === 200, '/readyz to answer 200 again');
    assert.deepEqual((await readyz(server.url)).body, { status: 'ready' });
    for (let i = 0; i < 20; i++) {
      assert.equal((await publish(acked)).type, 'reply');
      acked++;
    }
    assert.equal(server.proc.pid, pid);
    assert.equal(server.proc.exitCode, null, 'the server never stopped');
    assert.equal(server.logs().filter((l) => l.msg === 'switchboard listening').length, 1, 'nor restarted');
    // Every acknowledged message is stored, gap-free.
    const h = await fullHistory(alice, { room: 'disk' }, 20);
    assert.deepEqual(seqs(h.messages), range(1, acked));
    closeAllClients();
    assert.equal(await server.stop(), 0, `exit code\nstderr:\n${server.stderr()}`);
  });
});
