/**
 * The generated Protobuf code (src/protocol/gen/) is what `npm run gen:proto`
 * makes of src/protocol/switchboard.proto today: an edit to the schema that
 * was not followed by the generator fails here, in CI, not in a client.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';

const root = process.cwd();
const buf = join(root, 'node_modules', '.bin', 'buf');

describe('generated Protobuf code', () => {
  it('src/protocol/gen is up to date with switchboard.proto (npm run gen:proto)', () => {
    const out = mkdtempSync(join(tmpdir(), 'sb-gen-'));
    try {
      execFileSync(buf, ['generate', '--output', out], { cwd: root, env: { ...process.env, PATH: `${join(root, 'node_modules', '.bin')}:${process.env.PATH ?? ''}` } });
      const fresh = join(out, 'src', 'protocol', 'gen');
      const committed = join(root, 'src', 'protocol', 'gen');
      assert.deepEqual(readdirSync(fresh).sort(), readdirSync(committed).sort());
      for (const f of readdirSync(fresh))
        assert.equal(readFileSync(join(committed, f), 'utf8'), readFileSync(join(fresh, f), 'utf8'), `${f} differs: run npm run gen:proto`);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
