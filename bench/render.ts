/**
 * Re-renders the markdown of a result file (after a change to the report's
 * layout), without running anything:
 *   node dist/bench/render.js [bench/results/latest.json] [--docs]
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { clusterComparisons } from './cluster-report.js';
import { markdown, updateDocs, type BenchResults } from './report.js';
import { REPO_ROOT } from './server.js';
import { wireMarkdown } from './wire-report.js';

const args = process.argv.slice(2);
const file = args.find((a) => !a.startsWith('--')) ?? join(REPO_ROOT, 'bench', 'results', 'latest.json');
// The JSON stores NaN and Infinity as null; the report formats null as "—".
const res = JSON.parse(readFileSync(file, 'utf8')) as BenchResults;
// A --cluster result: its comparison is worked out again from the workloads' results, in the current layout.
if (res.cluster) res.cluster = clusterComparisons(res.results);
const md = res.wire ? wireMarkdown(res.meta, res.wire) : markdown(res);
if (args.includes('--docs')) updateDocs(join(REPO_ROOT, 'docs', 'benchmarks.md'), md);
else process.stdout.write(md + '\n');
