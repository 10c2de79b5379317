/**
 * Where the server under test allocates: samples its allocations for a while
 * through the inspector, counting objects the GC has already collected too
 * (`--heap-prof` keeps only what is still alive, which misses the garbage a
 * hot path makes), and prints the functions that allocated the most.
 *   npm run bench -- --only c --target switchboard --server-node-args "--inspect=127.0.0.1:9229" &
 *   node dist/bench/allocation-sample.js --port 9229 --after 12 --for 6 --out /tmp/c.heapprofile
 * `--after` waits for the measurement window (c: ~6 s to connect, 2 s warm-up,
 * then 10 s measured); `--top FILE` prints an existing profile instead.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { WebSocket } from 'ws';

interface SampleNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: SampleNode[];
}

interface SamplingProfile {
  head: SampleNode;
}

export function topAllocators(profile: SamplingProfile, count: number): { share: number; bytes: number; frame: string }[] {
  const self = new Map<string, number>();
  let total = 0;
  const walk = (n: SampleNode): void => {
    const cf = n.callFrame;
    const where = cf.url ? ` ${cf.url.replace(/^.*\/(dist|node_modules)\//, '$1/')}:${cf.lineNumber + 1}` : '';
    const key = `${cf.functionName || '(anonymous)'}${where}`;
    self.set(key, (self.get(key) ?? 0) + n.selfSize);
    total += n.selfSize;
    for (const c of n.children) walk(c);
  };
  walk(profile.head);
  return [...self]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([frame, bytes]) => ({ share: total > 0 ? bytes / total : 0, bytes, frame }));
}

function print(profile: SamplingProfile, count: number): void {
  let total = 0;
  const sum = (n: SampleNode): void => {
    total += n.selfSize;
    n.children.forEach(sum);
  };
  sum(profile.head);
  console.log(`sampled: ${(total / 1e6).toFixed(1)} MB`);
  for (const t of topAllocators(profile, count))
    console.log(`${(100 * t.share).toFixed(1).padStart(5)}% ${(t.bytes / 1e6).toFixed(1).padStart(7)} MB  ${t.frame}`);
}

/** One inspector session: sends commands, resolves each with its result. */
async function inspector(port: number): Promise<{ call(method: string, params?: object): Promise<unknown>; close(): void }> {
  let targets: { webSocketDebuggerUrl: string }[] | null = null;
  // The server may not be listening yet: the bench starts it after its own set-up.
  for (let i = 0; i < 300 && !targets; i++) {
    try {
      targets = (await (await fetch(`http://127.0.0.1:${port}/json`)).json()) as { webSocketDebuggerUrl: string }[];
    } catch {
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  if (!targets?.[0]) throw new Error(`no inspector on port ${port}`);
  const ws = new WebSocket(targets[0].webSocketDebuggerUrl);
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  let nextId = 1;
  const waiting = new Map<number, (result: unknown) => void>();
  ws.on('message', (data) => {
    const m = JSON.parse(String(data)) as { id?: number; result?: unknown };
    if (m.id !== undefined) waiting.get(m.id)?.(m.result);
  });
  return {
    call: (method, params = {}) =>
      new Promise((resolve) => {
        const id = nextId++;
        waiting.set(id, resolve);
        ws.send(JSON.stringify({ id, method, params }));
      }),
    close: () => ws.close(),
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '9229' },
      after: { type: 'string', default: '0' },
      for: { type: 'string', default: '5' },
      out: { type: 'string' },
      top: { type: 'string' },
      count: { type: 'string', default: '25' },
    },
  });
  const count = Number(values.count);
  if (values.top) return print(JSON.parse(readFileSync(values.top, 'utf8')) as SamplingProfile, count);
  const session = await inspector(Number(values.port));
  await new Promise((r) => setTimeout(r, Number(values.after) * 1000));
  await session.call('HeapProfiler.startSampling', {
    samplingInterval: 8192,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  await new Promise((r) => setTimeout(r, Number(values.for) * 1000));
  const { profile } = (await session.call('HeapProfiler.stopSampling')) as { profile: SamplingProfile };
  session.close();
  if (values.out) writeFileSync(values.out, JSON.stringify(profile));
  print(profile, count);
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
