#!/usr/bin/env node
// Thin launcher: the CLI is compiled to dist/ by `npm run build` (run by npm install, start and test).
import('../dist/src/cli/main.js').then((m) => m.main(process.argv.slice(2)));
