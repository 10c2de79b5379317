#!/usr/bin/env node
// Runs every compiled test file (dist/test/**/*.test.js) with Node's test runner.
// `npm test -- hub gateway` runs only files whose path contains one of the words.
//
// Three passes, each with SWITCHBOARD_TEST_ENCODING naming the encoding the test clients (test/helpers/client.ts)
// speak: `json`, version 1's JSON, runs every file; then `proto`, version 2's Protobuf (switchboard.v2.proto), and
// `lean`, version 2's lean JSON (switchboard.v2.json), run again the files whose marker, a line near the top, names
// them:
//   // test-encodings: json proto lean
// Set SWITCHBOARD_TEST_ENCODING yourself to run one pass only: `json` (every file), `proto` or `lean` (the files
// that name it).
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

function find(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? find(join(dir, e.name)) : e.name.endsWith('.test.js') ? [join(dir, e.name)] : [],
  );
}

/** The encodings a file says it runs under; unmarked files run under version 1's JSON only. */
function encodingsOf(file) {
  const marker = /^\/\/ test-encodings:([a-z0-9 ]+)$/m.exec(readFileSync(file, 'utf8').slice(0, 4096));
  return marker ? marker[1].trim().split(/\s+/) : ['json'];
}

const filters = process.argv.slice(2);
const files = find('dist/test')
  .filter((f) => filters.length === 0 || filters.some((w) => f.includes(w)))
  .sort();
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}

const only = process.env.SWITCHBOARD_TEST_ENCODING;
const passes = ['json', 'proto', 'lean'].filter((encoding) => !only || only === encoding);
if (passes.length === 0) {
  console.error(`SWITCHBOARD_TEST_ENCODING=${only}: expected json, proto or lean`);
  process.exit(1);
}

let status = 0;
const took = [];
for (const encoding of passes) {
  const marked = encoding === 'json' ? files : files.filter((f) => encodingsOf(f).includes(encoding));
  if (marked.length === 0) continue;
  if (encoding !== 'json') console.log(`\n# again, the test clients speaking ${encoding}: ${marked.length === 1 ? '1 file' : `${marked.length} files`}\n`);
  const started = performance.now();
  // The benchmark's smoke run loads both cores for half a minute. Beside it, the browser test's steps took up to
  // three times as long and once ran out of time (CI, 2026-11-29), so it runs on its own, after the rest.
  const alone = marked.filter((f) => f.includes('bench-smoke'));
  const together = marked.filter((f) => !alone.includes(f));
  const env = { ...process.env, SWITCHBOARD_TEST_ENCODING: encoding };
  for (const [group, concurrency] of [[together, 2], [alone, 1]]) {
    if (group.length === 0) continue;
    const r = spawnSync(process.execPath, ['--test', `--test-concurrency=${concurrency}`, ...group], { stdio: 'inherit', env });
    if ((r.status ?? 1) !== 0) status = r.status ?? 1;
  }
  took.push(`${encoding} ${marked.length} files ${((performance.now() - started) / 1000).toFixed(0)} s`);
}
// What each pass costs, to keep an eye on the time the extra passes add.
if (took.length > 1) console.log(`\n# passes: ${took.join(', ')}`);
process.exit(status);
