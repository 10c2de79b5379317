/**
 * One process per SQLite file: `<file>.lock` beside the database, created exclusively (O_EXCL) and holding the
 * pid of the process that has the database open. Two servers on one file would each number messages on their
 * own (SQLite would keep the file intact, but not the sequence numbers, the recovery or the offline delivery),
 * so the second is refused, naming the file and the pid that holds it.
 *
 * No kernel lock (fcntl) is used, so nothing is released for us when a holder dies: a lock is stale, and taken
 * over, when its pid no longer runs, is a zombie, or now belongs to another process (on Linux the lock also
 * records when its process started, /proc/<pid>/stat, and a pid reused since does not match) — or when that
 * pid is this process's own and this process does not hold it (a container whose server is always pid 1).
 * A server killed with SIGKILL therefore never blocks its own restart.
 */
import { closeSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { ConfigError } from '../../config/load.js';

export interface FileLock {
  /** `<file>.lock` */
  readonly path: string;
  /** Removes the lock file if it is still this one's; idempotent. */
  release(): void;
}

interface Holder {
  pid: number;
  /** Start time of the process (clock ticks since boot, /proc/<pid>/stat field 22); Linux only. */
  start?: string;
  host?: string;
  since?: string;
  /** Tells this lock from another one of the same pid. */
  token?: string;
}

/** Lock files this process holds (a second store on the same file in one process is refused too). */
const heldHere = new Set<string>();

/** A lock file that says nothing yet may be one being written: it is taken for stale only once this old. */
const UNWRITTEN_GRACE_MS = 2_000;
const ATTEMPTS = 50;

/** Takes `<file>.lock` for this process, or throws a ConfigError that names the file and the pid holding it. */
export async function lockDatabaseFile(file: string): Promise<FileLock> {
  const path = `${file}.lock`;
  mkdirSync(dirname(path), { recursive: true });
  const me: Holder = { pid: process.pid, start: startTime(process.pid), host: hostname(), since: new Date().toISOString(), token: randomBytes(8).toString('hex') };
  const content = JSON.stringify(me) + '\n';
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    if (heldHere.has(path)) throw refusal(file, path, me, true);
    if (create(path, content)) {
      heldHere.add(path);
      let released = false;
      return {
        path,
        release: () => {
          if (released) return;
          released = true;
          heldHere.delete(path);
          // Only our own: should it have been taken over meanwhile (it cannot while we run, but a hand may have removed it), the other one's stays.
          if (read(path)?.text === content) removeQuietly(path);
        },
      };
    }
    const found = read(path);
    if (!found) continue; // removed in between: try again
    const holder = parse(found.text);
    if (!holder) {
      if (Date.now() - found.mtimeMs < UNWRITTEN_GRACE_MS) {
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
    } else if (alive(holder)) throw refusal(file, path, holder, false);
    takeOver(path, found.text);
  }
  throw new Error(`could not take the lock file ${path}: it kept changing (${ATTEMPTS} attempts)`);
}

/** Creates the lock with our content; false if it exists. */
function create(path: string, content: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o644);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new Error(`cannot create the lock file ${path}: ${(e as Error).message}`, { cause: e });
  }
  try {
    writeSync(fd, content);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    removeQuietly(path);
    throw new Error(`cannot write the lock file ${path}: ${(e as Error).message}`, { cause: e });
  }
  closeSync(fd);
  return true;
}

function read(path: string): { text: string; mtimeMs: number } | null {
  try {
    const mtimeMs = statSync(path).mtimeMs;
    return { text: readFileSync(path, 'utf8'), mtimeMs };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new Error(`cannot read the lock file ${path}: ${(e as Error).message}`, { cause: e });
  }
}

function parse(text: string): Holder | null {
  try {
    const h = JSON.parse(text) as Partial<Holder>;
    return typeof h.pid === 'number' && Number.isInteger(h.pid) && h.pid > 0 ? (h as Holder) : null;
  } catch {
    return null;
  }
}

/** Whether the process that wrote the lock still runs. */
function alive(h: Holder): boolean {
  // Our own pid on a lock we do not hold (heldHere was checked first): a previous process that had this pid.
  if (h.pid === process.pid) return false;
  try {
    process.kill(h.pid, 0);
  } catch (e) {
    // EPERM: it runs, as another user.
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  const stat = procStat(h.pid);
  if (stat === null) return true; // not Linux, or not allowed to look: the pid runs, so it is taken to hold the lock
  if (stat.state === 'Z' || stat.state === 'X') return false;
  return h.start === undefined || h.start === stat.start;
}

/** State and start time of a process from /proc/<pid>/stat; null where there is no such file to read. */
function procStat(pid: number): { state: string; start: string } | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // "pid (comm) state ppid …": comm may hold spaces and parentheses, so fields are counted after its last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // Field 3 (state) is fields[0]; field 22 (starttime) is fields[19].
  return fields.length > 19 ? { state: fields[0]!, start: fields[19]! } : null;
}

function startTime(pid: number): string | undefined {
  return procStat(pid)?.start;
}

/**
 * Removes a stale lock, if it is still the one judged stale: it is renamed away first (only one process can),
 * and put back should it turn out to be a newer lock that another process created in between.
 */
function takeOver(path: string, staleText: string): void {
  const aside = `${path}.${process.pid}.${randomBytes(4).toString('hex')}`;
  try {
    renameSync(path, aside);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new Error(`cannot remove the stale lock file ${path}: ${(e as Error).message}`, { cause: e });
  }
  let text: string | null = null;
  try {
    text = readFileSync(aside, 'utf8');
  } catch {
    // gone: nothing to put back
  }
  if (text !== null && text !== staleText) {
    try {
      linkSync(aside, path);
    } catch {
      // a third lock appeared meanwhile: that one stands
    }
  }
  removeQuietly(aside);
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}

function refusal(file: string, path: string, h: Holder, here: boolean): ConfigError {
  if (here) return new ConfigError(`store.file: ${file} is already open in this process (pid ${h.pid}): one SQLite file serves one server`);
  const where = h.host && h.host !== hostname() ? ` on host ${h.host}` : '';
  const since = h.since ? `, since ${h.since}` : '';
  return new ConfigError(
    `store.file: ${file} is in use by another Switchboard process (pid ${h.pid}${where}${since}). One SQLite file ` +
      `serves one process: two would each number and keep messages on their own. Stop that process first; to run ` +
      `several processes, use PostgreSQL (store.url) and a broker (broker.url). If no such process runs, remove ${path}`,
  );
}
