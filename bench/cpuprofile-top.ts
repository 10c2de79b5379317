/**
 * Prints the functions with the most self time in a V8 CPU profile, e.g. one
 * written by the server under test with
 *   npm run bench -- --only b --target switchboard --server-node-args "--cpu-prof --cpu-prof-dir=/tmp/prof"
 *   node dist/bench/cpuprofile-top.js /tmp/prof/CPU.*.cpuprofile [count]
 * Several files (threads) are listed one after the other.
 */
import { readFileSync } from 'node:fs';

interface Profile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  samples: number[];
  timeDeltas: number[];
}

export function topFrames(profile: Profile, count: number): { share: number; ms: number; frame: string }[] {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    total += dt;
    const cf = byId.get(id)!.callFrame;
    const where = cf.url ? ` ${cf.url.replace(/^.*\/(dist|node_modules)\//, '$1/')}:${cf.lineNumber + 1}` : '';
    const key = `${cf.functionName || '(anonymous)'}${where}`;
    self.set(key, (self.get(key) ?? 0) + dt);
  });
  return [...self]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([frame, us]) => ({ share: us / total, ms: us / 1000, frame }));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const count = /^\d+$/.test(args.at(-1) ?? '') ? Number(args.pop()) : 25;
  for (const file of args) {
    const rows = topFrames(JSON.parse(readFileSync(file, 'utf8')) as Profile, count);
    process.stdout.write(`${file}\n`);
    for (const r of rows) process.stdout.write(`${(r.share * 100).toFixed(1).padStart(6)}%  ${r.ms.toFixed(0).padStart(7)} ms  ${r.frame}\n`);
  }
}
