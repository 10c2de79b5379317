/**
 * What an operator's tools do to a running server: logrotate moves the log file away and sends SIGHUP; a load
 * balancer watches /readyz while the server drains; a misspelt environment variable is reported, not silently
 * dropped; a log file that cannot be written stops the start.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, watch, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import WebSocket from 'ws';
import { closeAllClients, connectUser } from '../helpers/client.js';
import { BIN, cleanEnv, REPO_ROOT, runCli, startServer } from '../helpers/server.js';

describe('operations', { concurrency: true }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'sb-ops-'));
  after(() => {
    closeAllClients();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reopens log.file on SIGHUP, so that logrotate can move it away, and keeps running', async (t) => {
    const logs = join(dir, 'logs');
    const file = join(logs, 'switchboard.log');
    mkdirSync(logs);
    const proc = spawn(process.execPath, [BIN, '--port', '0', '--auth.dev', 'true', '--store.file', join(dir, 'rotate.db'), '--log.file', file], {
      cwd: REPO_ROOT,
      env: cleanEnv(),
      stdio: 'ignore',
    });
    t.after(() => proc.kill('SIGKILL'));
    const exited = new Promise<number | null>((resolve) => proc.once('exit', resolve));
    const listening = await lineIn(file, (l) => l.msg === 'switchboard listening');
    const c = await connectUser(String(listening.ws), 'alice');
    renameSync(file, `${file}.1`);
    proc.kill('SIGHUP');
    await lineIn(file, (l) => l.msg === 'log file reopened');
    await c.call({ type: 'join', room: 'after-rotation' });
    await c.close();
    proc.kill('SIGTERM');
    assert.equal(await exited, 0);
    assert.ok(messages(`${file}.1`).includes('switchboard listening'));
    const fresh = messages(file);
    assert.equal(fresh[0], 'log file reopened');
    assert.ok(fresh.includes('stopped'), fresh.join(' | '));
  });

  it('answers /readyz with 503 for shutdown.drainMs before closing its sessions, and serves them meanwhile', async (t) => {
    const srv = await startServer(['--auth.dev', 'true', '--shutdown.drainMs', '1500'], { t });
    const c = await connectUser(srv.wsUrl, 'alice');
    assert.equal((await fetch(`${srv.url}/readyz`)).status, 200);
    srv.proc.kill('SIGTERM');
    await srv.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('draining'));
    const draining = await fetch(`${srv.url}/readyz`);
    assert.equal(draining.status, 503);
    assert.deepEqual(await draining.json(), { status: 'unavailable', reason: 'draining' });
    await c.call({ type: 'join', room: 'still-served' });
    const refused = await new Promise<number | undefined>((resolve, reject) => {
      const ws = new WebSocket(`${srv.wsUrl}?user=bob`);
      ws.once('unexpected-response', (_req, res) => resolve(res.statusCode));
      ws.once('open', () => reject(new Error('a new connection was accepted while draining')));
      ws.once('error', () => {});
    });
    assert.equal(refused, 503);
    assert.equal((await c.waitClosed(5_000)).code, 1001);
    assert.equal(await srv.exited, 0);
  });

  it('warns about SWITCHBOARD_ variables that name no setting, with the one it may have meant', async (t) => {
    const srv = await startServer(['--auth.dev', 'true'], { t, env: { SWITCHBOARD_LIMITS_BRUST: '5' } });
    const line = await srv.waitForLog((l) => Array.isArray(l.variables));
    assert.deepEqual(line.variables, [{ name: 'SWITCHBOARD_LIMITS_BRUST', meant: 'SWITCHBOARD_LIMITS_BURST' }]);
    assert.equal(await srv.stop(), 0);
  });

  it('stops with code 2 when log.file cannot be written', async () => {
    const notAFolder = join(dir, 'not-a-folder');
    writeFileSync(notAFolder, '');
    const r = await runCli(['--port', '0', '--auth.dev', 'true', '--store.file', join(dir, 'x.db'), '--log.file', join(notAFolder, 'sb.log')]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /log\.file: cannot write to .*not-a-folder\/sb\.log/);
  });
});

function messages(path: string): string[] {
  return lines(path).map((l) => String(l.msg));
}

function lines(path: string): Record<string, unknown>[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.endsWith('}'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** The first JSON line in the file that matches, now or once the file's folder changes. */
function lineIn(path: string, pred: (line: Record<string, unknown>) => boolean, timeoutMs = 10_000): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const folder = join(path, '..');
    const watcher = watch(folder, () => check());
    const timer = setTimeout(() => {
      watcher.close();
      reject(new Error(`no matching line in ${path} within ${timeoutMs} ms: ${messages(path).join(' | ')}`));
    }, timeoutMs);
    const check = (): void => {
      const found = lines(path).find(pred);
      if (!found) return;
      clearTimeout(timer);
      watcher.close();
      resolve(found);
    };
    check();
  });
}
