/** `<file>.lock` (src/store/sqlite/file-lock.ts): who holds a SQLite file, and when a lock left behind is stale. */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ConfigError } from '../../src/config/load.js';
import { lockDatabaseFile } from '../../src/store/sqlite/file-lock.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { emptyBatch } from '../../src/store/store.js';

const dir = mkdtempSync(join(tmpdir(), 'switchboard-lock-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const freshFile = (): string => join(dir, `db-${++n}`, 'switchboard.db');

/** Field 22 of /proc/<pid>/stat (the process's start time), or undefined off Linux. */
function startOf(pid: number): string | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

describe('SQLite file lock', () => {
  it('holds the pid while open, refuses a second holder in the same process, and is gone after release', async () => {
    const file = freshFile();
    const lock = await lockDatabaseFile(file);
    assert.equal(JSON.parse(readFileSync(`${file}.lock`, 'utf8')).pid, process.pid);
    await assert.rejects(lockDatabaseFile(file), (e: Error) => e instanceof ConfigError && /already open in this process/.test(e.message));
    lock.release();
    lock.release();
    assert.equal(existsSync(`${file}.lock`), false);
    (await lockDatabaseFile(file)).release();
  });

  it('refuses while a running process holds it, naming the file, the pid and what to use', async () => {
    const file = freshFile();
    const holder = process.ppid;
    await lockDatabaseFile(file).then((l) => l.release());
    writeFileSync(`${file}.lock`, JSON.stringify({ pid: holder, start: startOf(holder), since: '2026-01-01T00:00:00.000Z' }));
    await assert.rejects(lockDatabaseFile(file), (e: Error) => {
      assert.ok(e instanceof ConfigError);
      assert.ok(e.message.includes(file), e.message);
      assert.match(e.message, new RegExp(`pid ${holder}\\b`));
      assert.match(e.message, /PostgreSQL \(store\.url\)/);
      assert.ok(e.message.includes(`${file}.lock`), 'says which file to remove if no such process runs');
      return true;
    });
    assert.equal(JSON.parse(readFileSync(`${file}.lock`, 'utf8')).pid, holder, "the holder's lock is left alone");
  });

  it('takes over a lock whose pid is this process but not held by it (a container whose server is always pid 1)', async () => {
    const file = freshFile();
    await lockDatabaseFile(file).then((l) => l.release());
    writeFileSync(`${file}.lock`, JSON.stringify({ pid: process.pid, start: 'long ago' }));
    const lock = await lockDatabaseFile(file);
    assert.notEqual(JSON.parse(readFileSync(`${file}.lock`, 'utf8')).start, 'long ago');
    lock.release();
  });

  it('takes over a lock whose pid now belongs to a process started later (pid reused)', async (t) => {
    if (startOf(process.ppid) === undefined) return t.skip('no /proc here: a running pid is taken to be the holder');
    const file = freshFile();
    await lockDatabaseFile(file).then((l) => l.release());
    writeFileSync(`${file}.lock`, JSON.stringify({ pid: process.ppid, start: '1' }));
    (await lockDatabaseFile(file)).release();
  });

  it('the store takes the lock at open and gives it back at close, also after its writer thread ended by itself', async () => {
    const file = freshFile();
    const store = new SqliteStore({ file, synchronous: 'normal', exitAfterCommits: 0 });
    await store.open();
    assert.equal(existsSync(`${file}.lock`), true);
    const other = new SqliteStore({ file, synchronous: 'normal' });
    await assert.rejects(other.open(), /already open in this process/);
    // The writer ends itself at its first commit (as a crash would): the store is lost, the lock still held.
    await assert.rejects(store.commit(emptyBatch()), /SQLite writer thread exited/);
    assert.equal(existsSync(`${file}.lock`), true);
    await store.close();
    assert.equal(existsSync(`${file}.lock`), false);
    const memory = new SqliteStore({ file: ':memory:', synchronous: 'normal' });
    await memory.open();
    await memory.close();
  });
});
