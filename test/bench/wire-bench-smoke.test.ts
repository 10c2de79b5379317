/**
 * Keeps `npm run bench -- --wire` from rotting: a quick run of every variant (the bare-body baseline, Switchboard's
 * v1 JSON, lean JSON and Protobuf, each also with permessage-deflate) must finish and report, for each, delivery,
 * latency, CPU per delivery at the server and at the receiver, and the bytes that came over the wire. What is
 * asserted about the bytes follows from the encodings, not from timing: this machine may be busy.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runScript } from '../helpers/run-script.js';
import { REPO_ROOT } from '../helpers/server.js';

const RUN = join(REPO_ROOT, 'dist', 'bench', 'run.js');

interface Step {
  deliveryRatio: number;
  latencyMs: { p99: number };
  server: { cpuUsPerDelivery: number | null };
  generator: { cpuUsPerDelivery: number | null };
  bytes: { wirePerDelivery: number; payloadPerDelivery: number; framesPerDelivery: number; compressedFrameShare: number };
  errors: number;
}

interface Run {
  variant: string;
  wire: { protocol: string | null; decode: string; deflate: boolean };
  connect: { connections: number; failed: number };
  steps: Step[];
}

test('bench --wire --quick measures each encoding, with and without deflate, at a decoding receiver', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-wire-smoke-'));
  try {
    const out = join(dir, 'wire.json');
    const { code, stdout, stderr } = await runScript(RUN, ['--wire', '--quick', '--no-pin', '--out', out], { killMs: 110_000, termMs: 100_000 });
    assert.equal(code, 0, `bench exited with ${code}\n${stderr}`);
    const res = JSON.parse(readFileSync(out, 'utf8')) as { wire?: { runs: Run[] }; targets: unknown[] };
    const runs = res.wire?.runs ?? [];
    assert.deepEqual(
      runs.map((r) => r.variant),
      ['baseline', 'v1', 'lean', 'proto', 'v1+deflate', 'lean+deflate', 'proto+deflate'],
    );
    const first = new Map<string, Step>();
    for (const r of runs) {
      // Every connection got the subprotocol and extension it asked for, or it would have failed to connect.
      assert.ok(r.connect.connections > 0 && r.connect.failed === 0, `${r.variant}: ${r.connect.failed} connections failed`);
      const s = r.steps[0];
      assert.ok(s, `${r.variant}: no step measured`);
      assert.ok(s.deliveryRatio > 0, `${r.variant}: nothing delivered`);
      assert.equal(s.errors, 0, `${r.variant}: the receiver met messages it could not decode`);
      assert.equal(typeof s.latencyMs.p99, 'number');
      assert.equal(typeof s.server.cpuUsPerDelivery, 'number', `${r.variant}: server CPU per delivery`);
      assert.equal(typeof s.generator.cpuUsPerDelivery, 'number', `${r.variant}: receiver CPU per delivery`);
      if (r.wire.deflate) {
        assert.ok(s.bytes.compressedFrameShare > 0, `${r.variant}: no frame came compressed`);
        assert.ok(s.bytes.wirePerDelivery < s.bytes.payloadPerDelivery, `${r.variant}: deflate saved nothing`);
      } else {
        assert.equal(s.bytes.compressedFrameShare, 0, `${r.variant}: compressed frames without deflate`);
        assert.equal(s.bytes.wirePerDelivery, s.bytes.payloadPerDelivery);
      }
      first.set(r.variant, s);
    }
    // The bare baseline sends the 64-byte body and nothing else, one frame per delivery.
    assert.equal(first.get('baseline')!.bytes.payloadPerDelivery, 64);
    assert.equal(first.get('baseline')!.bytes.framesPerDelivery, 1);
    // Each encoding's envelope is smaller than the one before it.
    const bytes = (v: string): number => first.get(v)!.bytes.payloadPerDelivery;
    assert.ok(bytes('proto') < bytes('lean') && bytes('lean') < bytes('v1'), `bytes per delivery: v1 ${bytes('v1')}, lean ${bytes('lean')}, proto ${bytes('proto')}`);
    assert.match(stdout, /#### Bytes per delivery/);
    assert.deepEqual(res.targets, [], 'a --quick run judges no targets');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
