/**
 * A real broker of the test's own — `redis-server` or `nats-server` — on a free port, for the tests that crash
 * it: `kill()` is a SIGKILL (no goodbye to its clients, as a crash or an OOM kill), `restart()` starts it again
 * on the SAME port, so that every node reconnects to the address it was given. Every process started here is
 * killed when the test process exits, whatever happened to the test. Under CI=true a missing binary fails the
 * test; elsewhere `startBroker` returns null after saying why (as test/helpers/postgres.ts does for PostgreSQL).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { freePort } from '../../bench/free-port.js';

/** A port nothing listens on now (the benchmark harness's, shared). */
export { freePort };

export type BrokerKind = 'redis' | 'nats';

interface KindSpec {
  /** An absolute path, or a name looked up on PATH. */
  binary: string;
  args(port: number): string[];
  /** The line it writes once it accepts connections (stdout or stderr). */
  ready: RegExp;
  url(port: number): string;
}

const KINDS: Record<BrokerKind, KindSpec> = {
  redis: {
    binary: 'redis-server',
    // No snapshot, no append-only file: a restarted Redis starts empty, as pub/sub never keeps anything anyway.
    args: (port) => ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    ready: /Ready to accept connections/,
    url: (port) => `redis://127.0.0.1:${port}`,
  },
  nats: {
    binary: '/usr/sbin/nats-server',
    args: (port) => ['-a', '127.0.0.1', '-p', String(port)],
    ready: /Server is ready/,
    url: (port) => `nats://127.0.0.1:${port}`,
  },
};

export interface BrokerProcess {
  readonly kind: BrokerKind;
  readonly port: number;
  /** redis://127.0.0.1:PORT or nats://127.0.0.1:PORT */
  readonly url: string;
  /** A process is running (started, not yet killed). */
  readonly running: boolean;
  /** What the current (or last) process wrote, the last few KiB (for diagnostics). */
  output(): string;
  /** SIGKILL; resolves once the process is gone. Nothing if it is not running. */
  kill(): Promise<void>;
  /** Starts it again on the same port; resolves once it accepts connections. */
  restart(opts?: { timeoutMs?: number }): Promise<void>;
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of live) p.kill('SIGKILL');
});

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** An executable by its path, or by its name on PATH; undefined if there is none. */
export function findExecutable(binary: string): string | undefined {
  const candidates = binary.includes('/') ? [binary] : (process.env['PATH'] ?? '').split(delimiter).map((d) => join(d, binary));
  return candidates.find(executable);
}

/** The binary for `kind`; null (after saying why) when it is missing outside CI; throws when missing under CI=true. */
export function brokerBinary(kind: BrokerKind): string | null {
  const { binary } = KINDS[kind];
  const found = findExecutable(binary);
  if (found) return found;
  const msg = `${binary} not found${binary.includes('/') ? '' : ' on PATH'}`;
  if (process.env['CI'] === 'true') throw new Error(`${msg} (CI=true: the ${kind} broker tests must run)`);
  console.warn(`skipping the ${kind} broker tests: ${msg}`);
  return null;
}

/** The URL a broker of `kind` would have on `port` (for one that is not running: a node that cannot reach it). */
export function brokerUrl(kind: BrokerKind, port: number): string {
  return KINDS[kind].url(port);
}

/**
 * Starts a broker of `kind` on a free port and resolves once it accepts connections; null when its binary is
 * missing (outside CI). With `t`, it is killed after the test.
 */
export async function startBroker(kind: BrokerKind, opts: { t?: { after(fn: () => unknown): void }; timeoutMs?: number } = {}): Promise<BrokerProcess | null> {
  const path = brokerBinary(kind);
  if (path === null) return null;
  const spec = KINDS[kind];
  const port = await freePort();
  let child: ChildProcess | null = null;
  let output = '';

  const launch = (timeoutMs: number): Promise<void> => {
    if (child) return Promise.reject(new Error(`${kind} on port ${port} is already running`));
    output = '';
    const proc = spawn(path, spec.args(port), { stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    live.add(proc);
    proc.once('exit', () => {
      live.delete(proc);
      if (child === proc) child = null;
    });
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => fail(`no "ready" line within ${timeoutMs} ms`), timeoutMs);
      const fail = (why: string): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        proc.kill('SIGKILL');
        reject(new Error(`${kind} (${path}) on port ${port} did not start: ${why}\n${output}`));
      };
      const read = (d: Buffer): void => {
        output = (output + d.toString('utf8')).slice(-8_000);
        if (!settled && spec.ready.test(output)) {
          settled = true;
          clearTimeout(timer);
          resolve();
        }
      };
      proc.stdout!.on('data', read);
      proc.stderr!.on('data', read);
      proc.once('error', (err) => fail(err.message));
      proc.once('exit', (code, signal) => fail(`exited (${signal ?? code})`));
    });
  };

  const kill = async (): Promise<void> => {
    const proc = child;
    if (!proc) return;
    child = null;
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGKILL');
    await gone;
  };

  opts.t?.after(kill);
  await launch(opts.timeoutMs ?? 10_000);
  return {
    kind,
    port,
    url: spec.url(port),
    get running() {
      return child !== null;
    },
    output: () => output,
    kill,
    restart: ({ timeoutMs = 10_000 } = {}) => launch(timeoutMs),
  };
}
