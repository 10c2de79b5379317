/**
 * The SDK is bundled for browsers as is: its compiled modules may import only
 * each other (type imports of the server's protocol are erased), and use no
 * Node-only globals. `ws` is reached only through a computed dynamic import,
 * which bundlers leave alone.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

const DIST = fileURLToPath(new URL('../../client/src/', import.meta.url));

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.js') ? [join(dir, e.name)] : []));
}

/** Source without comments and string contents that are only messages. */
function code(path: string): string {
  return readFileSync(path, 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/^\s*\/\/.*$/gm, '')
    .replace(/\/\/# sourceMappingURL=.*$/m, '');
}

describe('client SDK: browser safety of the compiled modules', () => {
  const all = files(DIST);

  it('finds the compiled SDK', () => {
    assert.ok(all.some((f) => f.endsWith('index.js')) && all.some((f) => f.endsWith('client.js')), DIST);
  });

  it('static imports are relative to the SDK only: no server code, zod, ws or node: modules', () => {
    for (const f of all) {
      for (const m of code(f).matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+['"]([^'"]+)['"]/g)) {
        const spec = m[1]!;
        assert.ok(spec.startsWith('./') || spec.startsWith('../'), `${f}: imports ${spec}`);
        assert.ok(!spec.includes('/src/protocol') && !spec.includes('/src/hub') && !spec.startsWith('../../'), `${f}: imports server code ${spec}`);
      }
      for (const m of code(f).matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) assert.fail(`${f}: literal dynamic import of ${m[1]} (a bundler would follow it)`);
    }
  });

  it('uses no Node-only globals', () => {
    for (const f of all) {
      const src = code(f);
      for (const name of ['require(', 'Buffer.', 'process.', '__dirname', 'node:', 'setImmediate('])
        assert.ok(!src.includes(name), `${f} uses ${name}`);
    }
  });
});
