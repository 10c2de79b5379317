/**
 * What a stored message costs the embedded store: commits messages in f's
 * shape (rooms of 2, each message from one of its members, spread at random
 * over the rooms) to a SQLite store in its worker thread, as the server runs
 * it, one batch after another, and reports per message: wall time, the
 * process's CPU time, the writer thread's, and the bytes written to files.
 * It measures cost per message, not the latency of a paced load (a change
 * can be cheaper here and worse in f). The SQLite writer is what bounds f (issue #5), and this
 * measures it without sockets, so that a change to the store can be compared
 * in seconds and with less noise than a full run of f.
 *   node dist/bench/store-writer.js [--conversations 500] [--batch 100] [--messages 200000] [--keys] [--rounds 1]
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { emptyBatch, type NewMessage } from '../src/store/store.js';

const { values } = parseArgs({
  options: {
    conversations: { type: 'string', default: '500' },
    batch: { type: 'string', default: '100' },
    messages: { type: 'string', default: '200000' },
    keys: { type: 'boolean', default: false },
    rounds: { type: 'string', default: '1' },
  },
});
const CONVS = Number(values.conversations);
const BATCH = Number(values.batch);
const MESSAGES = Number(values.messages);
const ROUNDS = Number(values.rounds);
const BODY = JSON.stringify('x'.repeat(48));

let next = 0;
function message(): NewMessage {
  const n = next++;
  const room = Math.floor(Math.random() * CONVS);
  const from = `user${2 * room + (n & 1)}`;
  const key = values.keys ? `0192a6c4-7e1b-7${String(n).padStart(15, '0')}` : null;
  return { id: `m${n}`, conv: `r:room${room}`, from, contentType: 'text', body: BODY, ts: Date.now(), key, fileId: null };
}

/** CPU time (µs) of each of this process's threads, by thread id. */
function threadCpu(): Map<string, number> {
  const out = new Map<string, number>();
  const tick = 10_000; // µs per clock tick (USER_HZ 100)
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const f = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      out.set(tid, (Number(f[11]) + Number(f[12])) * tick);
    } catch {
      // Gone meanwhile.
    }
  }
  return out;
}

/** Bytes this process has written to files (wchar of /proc/self/io: the WAL, the database, before the disk cache). */
function bytesWritten(): number {
  return Number(/^wchar: (\d+)$/m.exec(readFileSync('/proc/self/io', 'utf8'))?.[1] ?? NaN);
}

async function round(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-store-writer-'));
  const store = new SqliteStore({ file: join(dir, 'bench.db'), synchronous: 'full' });
  try {
    await store.open();
    const joins = Array.from({ length: CONVS * 2 }, (_, i) => ({ user: `user${i}`, conv: `r:room${i >> 1}` }));
    await store.commit({ ...emptyBatch(), joins });
    const threads0 = threadCpu();
    const bytes0 = bytesWritten();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (let done = 0; done < MESSAGES; done += BATCH) {
      await store.commit({ ...emptyBatch(), messages: Array.from({ length: Math.min(BATCH, MESSAGES - done) }, message) });
    }
    const wallUs = (performance.now() - t0) * 1000;
    const cpu = process.cpuUsage(cpu0);
    const f = (us: number): string => (us / MESSAGES).toFixed(1);
    // The busiest thread other than this one is the writer.
    const main = String(process.pid);
    const threads = [...threadCpu()].filter(([tid]) => tid !== main).map(([tid, us]) => us - (threads0.get(tid) ?? 0));
    const writer = Math.max(0, ...threads);
    const kib = (bytesWritten() - bytes0) / 1024 / MESSAGES;
    return `| ${MESSAGES.toLocaleString('en-US')} | ${f(wallUs)} | ${f(cpu.user + cpu.system)} | ${f(cpu.system)} | ${f(writer)} | ${kib.toFixed(2)} |`;
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

process.stdout.write(
  `${CONVS} rooms of 2, batches of ${BATCH}${values.keys ? ', every message with an idempotency key' : ''}; synchronous=full\n\n` +
    '| messages | wall µs/message | CPU µs/message (all threads) | of which system | writer thread CPU µs/message | KiB written per message |\n|--:|--:|--:|--:|--:|--:|\n',
);
for (let r = 0; r < ROUNDS; r++) process.stdout.write(`${await round()}\n`);
