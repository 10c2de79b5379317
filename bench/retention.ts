/**
 * What a retention pass costs the writes queued behind it, on the embedded
 * store: fills a SQLite store (in its worker thread, as the server runs it)
 * with many conversations' messages, then runs passes (store/retention.ts)
 * while a writer commits one message every few ms, as publishes would, and
 * reports how long those commits took next to the pass's steps.
 *   node dist/bench/retention.js [--conversations 2000] [--messages 1000] [--step 500]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { retentionPass } from '../src/store/retention.js';
import { emptyBatch, type NewMessage, type Retention, type Store } from '../src/store/store.js';

const { values } = parseArgs({
  options: {
    conversations: { type: 'string', default: '2000' },
    messages: { type: 'string', default: '1000' },
    step: { type: 'string', default: '500' },
    'commit-every-ms': { type: 'string', default: '5' },
  },
});
const CONVS = Number(values.conversations);
const PER_CONV = Number(values.messages);
const STEP = Number(values.step);
const COMMIT_EVERY_MS = Number(values['commit-every-ms']);
/** Message i of every conversation was sent at BASE + i s: conversations age together, as busy rooms do. */
const BASE = 1_000_000_000_000;

function message(conv: number, i: number): NewMessage {
  return { id: `m${conv}-${i}`, conv: `r:room${conv}`, from: `user${i % 7}`, contentType: 'text', body: '"a message of some ordinary length, about fifty characters"', ts: BASE + i * 1000, key: null, fileId: null };
}

async function fill(store: Store): Promise<void> {
  for (let i = 1; i <= PER_CONV; i += 5) {
    const messages: NewMessage[] = [];
    for (let c = 0; c < CONVS; c++) for (let k = i; k < i + 5 && k <= PER_CONV; k++) messages.push(message(c, k));
    await store.commit({ ...emptyBatch(), messages });
  }
}

function quantile(sorted: number[], q: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** Runs one pass while a message is committed every COMMIT_EVERY_MS; returns the figures of both. */
async function measure(store: Store, label: string, policy: Retention, now: number): Promise<string> {
  const commits: number[] = [];
  let passing = true;
  let n = 0;
  const writer = (async () => {
    while (passing) {
      const t0 = performance.now();
      // Spread over 100 conversations, so that none of them grows long enough for a pass to trim.
      await store.commit({ ...emptyBatch(), messages: [{ ...message(CONVS + 1, ++n), conv: `r:writer-${n % 100}`, ts: now }] });
      commits.push(performance.now() - t0);
      await new Promise((resolve) => setTimeout(resolve, COMMIT_EVERY_MS));
    }
  })();
  // The steps' own times, from the calls the pass makes.
  const steps: number[] = [];
  const timed = new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (prop !== 'trimOlder' && prop !== 'trimToCount') return value;
      return async (...args: unknown[]) => {
        const t0 = performance.now();
        const result = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        steps.push(performance.now() - t0);
        return result;
      };
    },
  });
  const t0 = performance.now();
  const removed = await retentionPass(timed, policy, now, STEP, { paced: true });
  const passMs = performance.now() - t0;
  passing = false;
  await writer;
  steps.sort((a, b) => a - b);
  commits.sort((a, b) => a - b);
  const f = (x: number): string => x.toFixed(1);
  return `| ${label} | ${removed.toLocaleString('en-US')} | ${steps.length} | ${f(passMs)} | ${f(quantile(steps, 0.5))} / ${f(steps.at(-1) ?? 0)} | ${commits.length} | ${f(quantile(commits, 0.5))} / ${f(quantile(commits, 0.99))} / ${f(commits.at(-1) ?? 0)} |`;
}

const dir = mkdtempSync(join(tmpdir(), 'switchboard-retention-'));
const store = new SqliteStore({ file: join(dir, 'bench.db'), synchronous: 'full' });
try {
  await store.open();
  const t0 = performance.now();
  await fill(store);
  // Let the checkpointer copy the fill's WAL back first: its copy is not what is measured here.
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  process.stdout.write(`${(CONVS * PER_CONV).toLocaleString('en-US')} messages in ${CONVS} conversations stored in ${((performance.now() - t0) / 1000).toFixed(1)} s; step size ${STEP}, a commit every ${COMMIT_EVERY_MS} ms\n\n`);
  process.stdout.write('| pass | removed | steps | pass ms | step p50 / max ms | commits | commit p50 / p99 / max ms |\n|---|--:|--:|--:|--:|--:|--:|\n');
  const last = BASE + PER_CONV * 1000;
  const rows = [
    await measure(store, `count ${PER_CONV}: nothing to remove`, { maxCount: PER_CONV }, last),
    await measure(store, `count ${Math.round(PER_CONV * 0.8)}: a fifth of every conversation`, { maxCount: Math.round(PER_CONV * 0.8) }, last),
    await measure(store, 'age: a tenth of every conversation', { maxAgeMs: Math.round(PER_CONV * 0.7) * 1000 }, last),
    await measure(store, 'age and count: nothing left to remove', { maxAgeMs: Math.round(PER_CONV * 0.7) * 1000, maxCount: Math.round(PER_CONV * 0.8) }, last),
  ];
  process.stdout.write(`${rows.join('\n')}\n`);
} finally {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
}
