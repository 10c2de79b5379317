/**
 * The SDK is bundled for browsers as is: its compiled modules may import only
 * each other and the shared protocol package (src/protocol), and the protocol
 * modules it reaches import only each other and `@bufbuild/protobuf` (pure
 * JavaScript, made for browsers) — type imports, such as the zod schemas'
 * types, are erased — and none of them uses a Node-only global. `ws` is
 * reached only through a computed dynamic import, which bundlers leave alone;
 * the Protobuf wire through a literal one, which they follow (and may put in a
 * chunk of its own).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

const DIST = fileURLToPath(new URL('../../client/src/', import.meta.url));
const PROTOCOL = fileURLToPath(new URL('../../src/protocol/', import.meta.url));
/** Packages a protocol module may import: browser-safe by design. */
const BROWSER_PACKAGES = ['@bufbuild/protobuf', '@bufbuild/protobuf/wire', '@bufbuild/protobuf/codegenv2'];

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

function dynamicImports(path: string): string[] {
  return [...code(path).matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => m[1]!);
}

describe('client SDK: browser safety of the compiled modules', () => {
  const all = files(DIST);

  it('finds the compiled SDK', () => {
    assert.ok(all.some((f) => f.endsWith('index.js')) && all.some((f) => f.endsWith('client.js')), DIST);
  });

  it('imports only the SDK, the protocol package and @bufbuild/protobuf: no server code, zod, ws or node: modules', () => {
    const reached = new Set<string>();
    for (const f of all) {
      for (const spec of [...staticImports(f), ...dynamicImports(f)]) {
        assert.ok(spec.startsWith('./') || spec.startsWith('../'), `${f}: imports ${spec}`);
        const target = join(dirname(f), spec);
        if (target.startsWith(PROTOCOL)) reached.add(target);
        else assert.ok(target.startsWith(DIST), `${f}: imports server code ${spec}`);
      }
    }
    assert.ok(reached.size > 0, 'the SDK uses the protocol package');
    // The protocol modules reached, and what they reach in turn.
    for (const f of reached) {
      for (const spec of [...staticImports(f), ...dynamicImports(f)]) {
        if (BROWSER_PACKAGES.includes(spec)) continue;
        assert.ok(spec.startsWith('./'), `${f}: a protocol module the SDK uses imports ${spec}`);
        reached.add(join(dirname(f), spec));
      }
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
