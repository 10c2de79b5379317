import { spawn } from 'node:child_process';
import { REPO_ROOT } from './server.js';

export interface ScriptRun {
  /** The exit code, null if a signal ended it. */
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `node <script> <args>` from the repository root until it exits, collecting what it writes: SIGKILLed after
 * `killMs`, and with `termMs`, sent SIGTERM first (so that it can clean up after itself).
 */
export async function runScript(script: string, args: readonly string[], opts: { killMs: number; termMs?: number }): Promise<ScriptRun> {
  const child = spawn(process.execPath, [script, ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const term = opts.termMs === undefined ? undefined : setTimeout(() => child.kill('SIGTERM'), opts.termMs);
  const kill = setTimeout(() => child.kill('SIGKILL'), opts.killMs);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  clearTimeout(term);
  clearTimeout(kill);
  return { code, stdout, stderr };
}
