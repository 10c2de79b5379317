#!/usr/bin/env node
// Builds the web chat (web/) into dist/web/, which the server serves at `/`:
// type-checks web/src with its own tsconfig (DOM lib), bundles web/src/main.ts
// and the SDK with esbuild into a minified ES module with a source map (the
// SDK's Protobuf wire in a chunk of its own, loaded only when a client asks
// for that encoding),
// minifies style.css and copies the static files. The admin console (web/admin,
// type-checked with the chat) goes the same way into dist/web/admin/, served at
// `/admin/`: admin.js with uPlot bundled in (no CDN), admin.css with the chat's
// styles and uPlot's, index.html and the icon.
//
//   node scripts/build-web.js            build once (run by `npm run build`)
//   node scripts/build-web.js --watch    rebuild on change (no type-check)
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const web = join(root, 'web');
const out = join(root, 'dist', 'web');
const admin = join(web, 'admin');
const adminOut = join(out, 'admin');
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
mkdirSync(adminOut, { recursive: true });

/** Static files: everything at the top of web/ except the sources and their config. */
function copyStatic() {
  for (const e of readdirSync(web, { withFileTypes: true })) {
    if (!e.isFile() || e.name === 'tsconfig.json' || e.name === 'style.css') continue;
    copyFileSync(join(web, e.name), join(out, e.name));
  }
  copyFileSync(join(admin, 'index.html'), join(adminOut, 'index.html'));
  copyFileSync(join(web, 'icon.svg'), join(adminOut, 'icon.svg'));
}

/** uPlot's MIT notice, kept at the top of the admin bundle (its own header comment is not one esbuild keeps). */
const uplotPkg = JSON.parse(readFileSync(join(root, 'node_modules', 'uplot', 'package.json'), 'utf8'));
const uplotCopyright = readFileSync(join(root, 'node_modules', 'uplot', 'LICENSE'), 'utf8').match(/^Copyright.*$/m)?.[0] ?? 'Leon Sorokin';
const uplotNotice = `/*! uPlot ${uplotPkg.version} | ${uplotCopyright} | MIT License | ${uplotPkg.homepage} */`;

const common = { absWorkingDir: root, bundle: true, minify: true, sourcemap: true, logLevel: 'warning', legalComments: 'none' };
const configs = [
  {
    ...common,
    // app.js, and the SDK's Protobuf wire (loaded only by a client on encoding 'proto') in a chunk of its own.
    entryPoints: { app: join(web, 'src', 'main.ts') },
    outdir: out,
    splitting: true,
    chunkNames: 'chunk-[name]-[hash]',
    format: 'esm',
    platform: 'browser',
    target: ['es2022', 'chrome100', 'firefox100', 'safari15.4'],
  },
  { ...common, entryPoints: [join(web, 'style.css')], outfile: join(out, 'style.css'), target: ['chrome100', 'firefox100', 'safari15.4'] },
  {
    ...common,
    entryPoints: [join(admin, 'src', 'main.ts')],
    outfile: join(adminOut, 'admin.js'),
    banner: { js: uplotNotice },
    format: 'esm',
    platform: 'browser',
    target: ['es2022', 'chrome100', 'firefox100', 'safari15.4'],
  },
  { ...common, entryPoints: [join(admin, 'style.css')], outfile: join(adminOut, 'admin.css'), target: ['chrome100', 'firefox100', 'safari15.4'] },
];

copyStatic();
if (watch) {
  for (const c of configs) await (await esbuild.context(c)).watch();
  console.log('build-web: watching web/ (reload the page after a change; static files are copied on start)');
} else {
  await Promise.all(configs.map((c) => esbuild.build(c)));
}
