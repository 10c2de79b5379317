/**
 * The SDK is bundled for browsers as is: its compiled modules may import only
 * each other and the shared protocol package (src/protocol), whose modules it
 * reaches import nothing at all (type imports, such as the zod schemas' types,
 * are erased), and use no Node-only globals. `ws` is reached only through a computed dynamic import,
 * which bundlers leave alone.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

const DIST = fileURLToPath(new URL('../../client/src/', import.meta.url));
const PROTOCOL = fileURLToPath(new URL('../../src/protocol/', import.meta.url));

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

function staticImports(path: string): string[] {
  return [...code(path).matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+['"]([^'"]+)['"]/g)].map((m) => m[1]!);
}

describe('client SDK: browser safety of the compiled modules', () => {
  const all = files(DIST);

  it('finds the compiled SDK', () => {
    assert.ok(all.some((f) => f.endsWith('index.js')) && all.some((f) => f.endsWith('client.js')), DIST);
  });

  it('static imports are relative to the SDK or the protocol package only: no server code, zod, ws or node: modules', () => {
    const reached = new Set<string>();
    for (const f of all) {
      for (const spec of staticImports(f)) {
        assert.ok(spec.startsWith('./') || spec.startsWith('../'), `${f}: imports ${spec}`);
        const target = join(dirname(f), spec);
        if (target.startsWith(PROTOCOL)) reached.add(target);
        else assert.ok(target.startsWith(DIST), `${f}: imports server code ${spec}`);
      }
      for (const m of code(f).matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) assert.fail(`${f}: literal dynamic import of ${m[1]} (a bundler would follow it)`);
    }
    assert.ok(reached.size > 0, 'the SDK uses the protocol package');
    for (const f of reached) {
      assert.deepEqual(staticImports(f), [], `${f}: a protocol module the SDK uses imports nothing`);
      all.push(f);
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
