/** The command line: bad config exits 2 naming the key, --help, --print-config. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { configKeys } from '../../src/config/load.js';
import { runCli, startServer } from '../helpers/server.js';

// Two at a time: each case is a process start (~0.8 s of CPU), and some cases start several at once.
describe('command line', { concurrency: 2 }, () => {
  it('exits with code 2 and names the key for a bad flag value', async () => {
    const cases: [string[], RegExp][] = [
      [['--limits.maxFrameBytes', 'abc'], /limits\.maxFrameBytes/],
      [['--sessions.policy', 'sometimes'], /sessions\.policy/],
      [['--heartbeat.intervalMs', '10'], /heartbeat\.intervalMs/],
      [['--port', '70000'], /server\.port/],
      [['--auth.jwt.secret', 'short'], /auth\.jwt\.secret/],
      [['--welcome.enabled', 'maybe'], /welcome\.enabled/],
    ];
    await Promise.all(
      cases.map(async ([args, re]) => {
        const r = await runCli(args);
        assert.equal(r.code, 2, `${args.join(' ')}: exit ${r.code}\n${r.stderr}`);
        assert.match(r.stderr, re, args.join(' '));
        assert.equal(r.stdout.includes('switchboard listening'), false);
      }),
    );
  });

  it('exits with code 2 for an unknown flag, a missing value or a stray argument', async () => {
    const [unknown, missing, stray] = await Promise.all([runCli(['--no.such.key', '1']), runCli(['--port']), runCli(['oops'])]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /no\.such\.key/);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /server\.port|--port/);
    assert.equal(stray.code, 2);
    assert.match(stray.stderr, /oops/);
  });

  it('names the environment variable a bad value came from', async () => {
    const r = await runCli([], { env: { SWITCHBOARD_LIMITS_MAX_FRAME_BYTES: 'lots' } });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /limits\.maxFrameBytes/);
    assert.match(r.stderr, /SWITCHBOARD_LIMITS_MAX_FRAME_BYTES/);
  });

  it('refuses unsafe or unusable auth settings with code 2', async () => {
    const [publicDev, noAuth] = await Promise.all([
      runCli(['--port', '0', '--host', '0.0.0.0', '--auth.dev', 'true']),
      runCli(['--port', '0', '--auth.dev', 'false']),
    ]);
    assert.equal(publicDev.code, 2, publicDev.stderr);
    assert.match(publicDev.stderr, /auth\.dev|allowDevOnPublicHost/);
    assert.equal(noAuth.code, 2, noAuth.stderr);
    assert.match(noAuth.stderr, /auth\.jwt\.secret/);
  });

  it('stops with code 2, naming the key, when a key file, a certificate, the algorithms or the uploads folder cannot be used', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-cli-'));
    const store = ['--store.file', join(dir, 'sb.db')];
    const missing = join(dir, 'missing.pem');
    const notAFolder = join(dir, 'a-file');
    writeFileSync(notAFolder, '');
    const cases: [string[], Record<string, string>, RegExp][] = [
      [['--server.tls.cert', missing, '--server.tls.key', missing], {}, /server\.tls\.cert: cannot read/],
      [['--auth.jwt.publicKey', missing], {}, /auth\.jwt\.publicKey: .*no file to read/],
      [[], { SWITCHBOARD_AUTH_JWT_PUBLIC_KEY: '-----BEGIN PUBLIC KEY-----\\nnot a key\\n-----END PUBLIC KEY-----' }, /auth\.jwt\.publicKey: not a PEM public key/],
      [['--auth.jwt.secret', 'a-secret-of-twenty-chars', '--auth.jwt.algorithms', '["RS256"]'], {}, /auth\.jwt\.algorithms: RS256/],
      // A key that did not arrive (say, a misspelt variable) beside token settings must not fall back to dev identities.
      [['--auth.jwt.issuer', 'https://example.com'], { SWITCHBOARD_AUTH_JWT_SECRETS: 'a-secret-of-twenty-chars' }, /auth\.jwt\.issuer set but no key/],
      [['--uploads.dir', join(notAFolder, 'uploads')], {}, /uploads\.dir: cannot keep files in .*ENOTDIR/],
    ];
    try {
      await Promise.all(
        cases.map(async ([args, env, re]) => {
          const r = await runCli(['--port', '0', ...store, ...args], { env });
          assert.equal(r.code, 2, `${args.join(' ')}: exit ${r.code}\n${r.stderr}`);
          assert.match(r.stderr, re);
          assert.equal(r.stdout.includes('switchboard listening'), false);
        }),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--help prints usage and every key, and exits 0', async () => {
    const r = await runCli(['--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /Usage: switchboard/);
    for (const key of ['--limits.maxFrameBytes', '--sessions.policy', '--heartbeat.intervalMs', '--auth.jwt.secret', '--welcome.enabled']) assert.ok(r.stdout.includes(key), key);
    assert.ok(r.stdout.includes('SWITCHBOARD_LIMITS_MAX_FRAME_BYTES'));
    assert.equal((await runCli(['-h'])).stdout, r.stdout);
  });

  it('--help says in a word what every key is for', async () => {
    const lines = (await runCli(['--help'])).stdout.split('\n');
    for (const key of configKeys.keys()) {
      const at = lines.findIndex((l) => l.startsWith(`  --${key} `));
      assert.ok(at >= 0, `--${key} listed`);
      const description = lines[at + 1] ?? '';
      assert.match(description, /^ {6}\S/, `--${key}: a description under it`);
      assert.ok(description.trim().split(/\s+/).length >= 3, `--${key}: "${description.trim()}" says something`);
    }
  });

  it('--print-config prints the effective config as JSON with secrets masked, and exits 0', async () => {
    const r = await runCli(['--print-config', '--port', '1234', '--limits.burst', '7', '--auth.jwt.secret', 'a-very-secret-secret-123'], {
      env: { SWITCHBOARD_LIMITS_BURST: '99', SWITCHBOARD_LIMITS_MESSAGES_PER_SECOND: '5' },
    });
    assert.equal(r.code, 0, r.stderr);
    const cfg = JSON.parse(r.stdout) as {
      server: { port: number; host: string; path: string };
      limits: { burst: number; messagesPerSecond: number; maxFrameBytes: number };
      auth: { jwt: { secret: string } };
      sessions: { policy: string };
    };
    assert.equal(cfg.server.port, 1234);
    assert.equal(cfg.server.path, '/ws');
    assert.equal(cfg.limits.burst, 7, 'flags win over the environment');
    assert.equal(cfg.limits.messagesPerSecond, 5, 'environment applies');
    assert.equal(cfg.limits.maxFrameBytes, 65_536, 'defaults');
    assert.equal(cfg.sessions.policy, 'multiple');
    assert.equal(cfg.auth.jwt.secret, '***');
    assert.ok(!r.stdout.includes('a-very-secret-secret-123'));
  });

  it('exits with code 1 when the port is taken', async (t) => {
    const first = await startServer(['--auth.dev', 'true'], { t });
    const r = await runCli(['--port', String(first.port), '--auth.dev', 'true']);
    assert.equal(r.code, 1, `exit ${r.code}\n${r.stderr}`);
    assert.match(r.stderr, /cannot start/);
    assert.equal(await first.stop(), 0);
  });
});
