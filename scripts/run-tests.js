#!/usr/bin/env node
// Runs every compiled test file (dist/test/**/*.test.js) with Node's test runner.
// `npm test -- hub gateway` runs only files whose path contains one of the words.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

function find(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? find(join(dir, e.name)) : e.name.endsWith('.test.js') ? [join(dir, e.name)] : [],
  );
}

const filters = process.argv.slice(2);
const files = find('dist/test')
  .filter((f) => filters.length === 0 || filters.some((w) => f.includes(w)))
  .sort();
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
// The benchmark's smoke run loads both cores for half a minute. Beside it, the browser test's steps took up to
// three times as long and once ran out of time (CI, 2026-11-29), so it runs on its own, after the rest.
const alone = files.filter((f) => f.includes('bench-smoke'));
const together = files.filter((f) => !alone.includes(f));
let status = 0;
for (const [group, concurrency] of [[together, 2], [alone, 1]]) {
  if (group.length === 0) continue;
  const r = spawnSync(process.execPath, ['--test', `--test-concurrency=${concurrency}`, ...group], { stdio: 'inherit' });
  if ((r.status ?? 1) !== 0) status = r.status ?? 1;
}
process.exit(status);
