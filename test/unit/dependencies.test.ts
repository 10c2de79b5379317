/**
 * The dependency rule of docs/architecture.md, checked on the sources by dependency-cruiser with the rules in
 * .dependency-cruiser.cjs: a layer that imports what it must not, or an import cycle, fails the suite.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CLI = fileURLToPath(new URL('../../../node_modules/dependency-cruiser/bin/dependency-cruise.mjs', import.meta.url));

describe('dependency rule', () => {
  it('holds for the server, the SDK and the web app (no forbidden import, no cycle)', () => {
    const r = spawnSync(process.execPath, [CLI, '--config', '.dependency-cruiser.cjs', '--output-type', 'err', 'src', 'client/src', 'web/src'], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /no dependency violations found/);
  });
});
