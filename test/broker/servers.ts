/**
 * A Redis or NATS server of the test's own, on a free port: killed (SIGKILL, as a crash) and started again on the
 * same port by the outage tests. Under CI=true a missing binary fails the tests; elsewhere they are skipped with
 * a message saying why (as test/helpers/postgres.ts does for PostgreSQL).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { openBroker } from '../../src/broker/open-broker.js';
import { findExecutable, freePort } from '../helpers/broker-process.js';
import type { Harness, HarnessSetup } from './contract.js';

export interface ServerKind {
  name: string;
  /** Where to look: an absolute path, or a name searched on PATH. */
  binary: string;
  args(port: number): string[];
  /** What it writes once it accepts connections. */
  ready: RegExp;
  url(port: number): string;
}

export const REDIS: ServerKind = {
  name: 'redis-server',
  binary: 'redis-server',
  args: (port) => ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
  ready: /Ready to accept connections/,
  url: (port) => `redis://127.0.0.1:${port}`,
};

export const NATS: ServerKind = {
  name: 'nats-server',
  binary: '/usr/sbin/nats-server',
  args: (port) => ['-a', '127.0.0.1', '-p', String(port)],
  ready: /Server is ready/,
  url: (port) => `nats://127.0.0.1:${port}`,
};

/** Where a server's binary is: its path, a reason to skip (missing outside CI), or why that fails (missing under CI=true). */
export type Binary = { path: string } | { skip: string } | { missing: Error };

const looked = new Map<ServerKind, Binary>();

/** Looked up once per process, so that a missing binary is reported once. */
export function binary(kind: ServerKind): Binary {
  let b = looked.get(kind);
  if (!b) looked.set(kind, (b = look(kind)));
  return b;
}

function look(kind: ServerKind): Binary {
  const found = findExecutable(kind.binary);
  if (found) return { path: found };
  const msg = `${kind.name} not found (${kind.binary.includes('/') ? kind.binary : `${kind.binary} on PATH`})`;
  if (process.env['CI'] === 'true') return { missing: new Error(`${msg} (CI=true: the broker tests must run)`) };
  console.warn(`skipping the ${kind.name} broker tests: ${msg}`);
  return { skip: msg };
}

export class TestServer {
  private child: ChildProcess | null = null;
  private output = '';

  private constructor(
    private readonly kind: ServerKind,
    private readonly path: string,
    readonly port: number,
  ) {}

  static async start(kind: ServerKind, path: string): Promise<TestServer> {
    const server = new TestServer(kind, path, await freePort());
    await server.restart();
    return server;
  }

  get url(): string {
    return this.kind.url(this.port);
  }

  /** Starts it (again, on the same port); resolves once it says it accepts connections. */
  async restart(): Promise<void> {
    if (this.child) throw new Error(`${this.kind.name} is already running`);
    this.output = '';
    const child = spawn(this.path, this.kind.args(this.port), { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error('no "ready" line within 10 s')), 10_000);
      const fail = (err: Error): void => {
        clearTimeout(timer);
        child.kill('SIGKILL');
        reject(new Error(`${this.kind.name} on port ${this.port} did not start: ${err.message}\n${this.output}`));
      };
      const read = (d: Buffer): void => {
        this.output = (this.output + d.toString()).slice(-4_000);
        if (this.kind.ready.test(this.output)) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout!.on('data', read);
      child.stderr!.on('data', read);
      child.once('error', fail);
      child.once('exit', (code, signal) => fail(new Error(`exited (${signal ?? code})`)));
    });
  }

  /** SIGKILL, as a crash: no goodbye to the clients. Resolves once the process is gone. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = null;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    await exited;
  }
}

/** The contract's harness on a server of the test's own, reached through openBroker as the server will. */
export function serverHarness(kind: ServerKind): HarnessSetup {
  const b = binary(kind);
  if ('skip' in b) return { skip: b.skip };
  if ('missing' in b) return { setup: () => Promise.reject(b.missing) }; // CI: every test fails, saying why
  const path = b.path;
  return {
    async setup(): Promise<Harness> {
      const server = await TestServer.start(kind, path);
      return {
        open: (prefix) => openBroker(server.url, prefix),
        down: () => server.kill(),
        up: () => server.restart(),
        unreachable: async () => openBroker(kind.url(await freePort()), 'nobody'),
        urls: async () => ({ url: server.url, deadUrl: kind.url(await freePort()) }),
        close: () => server.kill(),
      };
    },
  };
}
