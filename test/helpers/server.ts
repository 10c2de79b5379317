/**
 * Runs the real `switchboard` command in a child process, the way an operator
 * would, and tells the test where it listens. Every process started here is
 * killed when the test process exits, whatever happened to the test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file runs from dist/test/helpers/). */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const BIN = fileURLToPath(new URL('../../../bin/switchboard.js', import.meta.url));

export interface TestServer {
  /** http://host:port */
  readonly url: string;
  /** ws://host:port/ws */
  readonly wsUrl: string;
  readonly port: number;
  readonly proc: ChildProcess;
  /** Everything the process wrote so far (for diagnostics). */
  stdout(): string;
  stderr(): string;
  /** Log lines (JSON) written to stdout so far. */
  logs(): Record<string, unknown>[];
  /**
   * The first log line at index `from` or later (default 0) that matches, already
   * written or still to come. Rejects after `timeoutMs` or when the process exits.
   */
  waitForLog(pred: (line: Record<string, unknown>) => boolean, opts?: { from?: number; timeoutMs?: number }): Promise<Record<string, unknown>>;
  /** Resolves with the exit code (null if killed by a signal) once the process has exited. */
  readonly exited: Promise<number | null>;
  /** Sends SIGTERM and resolves with the exit code; SIGKILLs after `killAfterMs` (then resolves null). */
  stop(killAfterMs?: number): Promise<number | null>;
  /** SIGKILL, no questions asked (cleanup). */
  kill(): void;
}

export interface StartOptions {
  /** How long to wait for the listening line. */
  timeoutMs?: number;
  env?: Record<string, string | undefined>;
  /** Register cleanup on a node:test context (`t.after`). */
  t?: { after(fn: () => unknown): void };
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of live) p.kill('SIGKILL');
});

/** Environment without any SWITCHBOARD_* variable that could leak into the server's config. */
export function cleanEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('SWITCHBOARD_') && !k.startsWith('NODE_TEST')) env[k] = v;
  for (const [k, v] of Object.entries(extra)) if (v === undefined) delete env[k];
  else env[k] = v;
  return env;
}

function exitPromise(proc: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return resolve(proc.exitCode);
    proc.once('exit', (code) => resolve(code));
  });
}

/** A fresh data directory (SQLite file and uploads) that is removed when the test process exits. */
export function tempDataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-test-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Flags that give a server its own store and uploads folder, unless the test chose them. */
function dataFlags(flags: readonly string[]): string[] {
  if (flags.some((f) => f.startsWith('--store.file') || f.startsWith('--store.url'))) return [];
  const dir = tempDataDir();
  return ['--store.file', join(dir, 'switchboard.db'), '--uploads.dir', join(dir, 'uploads')];
}

/** Starts `switchboard --port 0 ...flags` and resolves once it logs that it is listening. */
export async function startServer(flags: readonly string[] = [], opts: StartOptions = {}): Promise<TestServer> {
  const args = [BIN, '--port', '0', ...dataFlags(flags), ...flags, '--log.level', flags.includes('--log.level') ? flagValue(flags, '--log.level') : 'info'];
  const proc = spawn(process.execPath, args, { cwd: REPO_ROOT, env: cleanEnv(opts.env), stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(proc);
  const exited = exitPromise(proc);
  void exited.then(() => live.delete(proc));
  opts.t?.after(() => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  });

  let out = '';
  let err = '';
  const logs: Record<string, unknown>[] = [];
  let partial = '';
  let onLog: ((line: Record<string, unknown>) => void) | null = null;
  const logWatchers = new Set<(line: Record<string, unknown>) => void>();
  proc.stdout!.setEncoding('utf8');
  proc.stderr!.setEncoding('utf8');
  proc.stdout!.on('data', (chunk: string) => {
    out += chunk;
    partial += chunk;
    let nl: number;
    while ((nl = partial.indexOf('\n')) !== -1) {
      const line = partial.slice(0, nl);
      partial = partial.slice(nl + 1);
      try {
        const parsed = JSON.parse(line) as Record<string, unknown>;
        logs.push(parsed);
        onLog?.(parsed);
        for (const w of [...logWatchers]) w(parsed);
      } catch {
        // not a log line
      }
    }
  });
  proc.stderr!.on('data', (chunk: string) => (err += chunk));

  const timeoutMs = opts.timeoutMs ?? 20_000; // a hang, not a speed test: a start beside other tests on two cores can take seconds
  const listening = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`server did not log "switchboard listening" within ${timeoutMs} ms`)), timeoutMs);
    const fail = (e: Error): void => {
      clearTimeout(timer);
      onLog = null;
      proc.kill('SIGKILL');
      reject(new Error(`${e.message}\nargs: ${args.slice(1).join(' ')}\nstdout:\n${out}\nstderr:\n${err}`));
    };
    onLog = (line) => {
      if (line.msg === 'switchboard listening') {
        clearTimeout(timer);
        onLog = null;
        resolve(line);
      }
    };
    void exited.then((code) => fail(new Error(`server exited with code ${code} before listening`)));
  });

  const url = String(listening.url);
  const wsUrl = String(listening.ws);
  const port = Number(new URL(url).port);
  let stopping: Promise<number | null> | null = null;
  return {
    url,
    wsUrl,
    port,
    proc,
    exited,
    stdout: () => out,
    stderr: () => err,
    logs: () => logs,
    waitForLog: (pred, { from = 0, timeoutMs = 5_000 } = {}) => {
      for (let i = from; i < logs.length; i++) if (pred(logs[i]!)) return Promise.resolve(logs[i]!);
      return new Promise((resolve, reject) => {
        const done = (): void => {
          clearTimeout(timer);
          logWatchers.delete(watch);
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`no matching log line within ${timeoutMs} ms; stdout:\n${out.slice(-4000)}`));
        }, timeoutMs);
        const watch = (line: Record<string, unknown>): void => {
          if (!pred(line)) return;
          done();
          resolve(line);
        };
        logWatchers.add(watch);
        void exited.then((code) => {
          if (!logWatchers.has(watch)) return;
          done();
          reject(new Error(`server exited (${code}) before a matching log line; stdout:\n${out.slice(-4000)}`));
        });
      });
    },
    kill: () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    },
    stop: (killAfterMs = 8_000) =>
      (stopping ??= (async () => {
        if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
        proc.kill('SIGTERM');
        let timer: NodeJS.Timeout | undefined;
        const code = await Promise.race([
          exited,
          new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), killAfterMs))),
        ]);
        clearTimeout(timer);
        if (code === 'timeout') {
          proc.kill('SIGKILL');
          await exited;
          return null;
        }
        return code;
      })()),
  };
}

function flagValue(flags: readonly string[], name: string): string {
  const i = flags.indexOf(name);
  return flags[i + 1] ?? 'info';
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the command to completion (for --help, --print-config and config errors). */
export function runCli(args: readonly string[], opts: { timeoutMs?: number; env?: Record<string, string | undefined> } = {}): Promise<CliResult> {
  const proc = spawn(process.execPath, [BIN, ...args], { cwd: REPO_ROOT, env: cleanEnv(opts.env), stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(proc);
  let stdout = '';
  let stderr = '';
  proc.stdout!.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  proc.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  // A bound for a hang, not a speed test: a start that refuses its config takes ~0.8 s of CPU, and on two cores
  // beside a cluster test's three nodes a dozen of them at once took over 10 s (CI, 12-07).
  const timeoutMs = opts.timeoutMs ?? 30_000;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`switchboard ${args.join(' ')} did not exit within ${timeoutMs} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    }, timeoutMs);
    // 'close' (not 'exit'): all output has been read.
    proc.once('close', (code, signal) => {
      clearTimeout(timer);
      live.delete(proc);
      resolve({ code, signal, stdout, stderr });
    });
  });
}
