#!/usr/bin/env node
// Builds the web chat (web/) into dist/web/, which the server serves at `/`:
// type-checks web/src with its own tsconfig (DOM lib), bundles web/src/main.ts
// and the SDK with esbuild into one minified ES module with a source map,
// minifies style.css and copies the static files.
//
//   node scripts/build-web.js            build once (run by `npm run build`)
//   node scripts/build-web.js --watch    rebuild on change (no type-check)
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const web = join(root, 'web');
const out = join(root, 'dist', 'web');
const watch = process.argv.includes('--watch');

if (!watch) {
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', join(web, 'tsconfig.json')], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error('build-web: type errors in web/src');
    process.exit(r.status ?? 1);
  }
}

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

/** Static files: everything at the top of web/ except the sources and their config. */
function copyStatic() {
  for (const e of readdirSync(web, { withFileTypes: true })) {
    if (!e.isFile() || e.name === 'tsconfig.json' || e.name === 'style.css') continue;
    copyFileSync(join(web, e.name), join(out, e.name));
  }
}

const common = { absWorkingDir: root, bundle: true, minify: true, sourcemap: true, logLevel: 'warning', legalComments: 'none' };
const configs = [
  {
    ...common,
    entryPoints: [join(web, 'src', 'main.ts')],
    outfile: join(out, 'app.js'),
    format: 'esm',
    platform: 'browser',
    target: ['es2022', 'chrome100', 'firefox100', 'safari15.4'],
  },
  { ...common, entryPoints: [join(web, 'style.css')], outfile: join(out, 'style.css'), target: ['chrome100', 'firefox100', 'safari15.4'] },
];

copyStatic();
if (watch) {
  for (const c of configs) await (await esbuild.context(c)).watch();
  console.log('build-web: watching web/ (reload the page after a change; static files are copied on start)');
} else {
  await Promise.all(configs.map((c) => esbuild.build(c)));
}
