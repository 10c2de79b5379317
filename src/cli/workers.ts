/**
 * `server.workers` > 1: this process becomes a supervisor (the node:cluster primary) and serves nothing itself.
 * It forks that many workers, each the whole server (cli/main.ts) on the one listening port: Node's cluster
 * module shares the socket (the primary accepts and hands connections out in turn on Linux), and a port of 0 is
 * one port for every worker. The workers share messages, sessions and presence through the broker
 * (`broker.url`) and keep messages in one database (`store.url`), which config/deployment.ts insists on.
 *
 * - A worker that ends while no stop was asked for is started again, after 1 s, doubling up to 30 s for a slot
 *   whose workers keep ending (back to 1 s once one has run for 10 s). Should workers keep dying within 10 s of
 *   starting, 5 times in a row, the supervisor gives up: it stops the others and exits 1. A worker that refuses
 *   the configuration at its start (exit code 2) stops everything at once, with exit code 2.
 * - SIGTERM or SIGINT: every worker gets SIGTERM (its graceful stop: drain, 1001 to its sessions, store closed);
 *   the supervisor exits 0 once all have stopped (1 if one of them failed), and SIGKILLs the ones still running
 *   after shutdown.graceMs + shutdown.drainMs + 10 s. A second signal SIGKILLs them all at once (exit code 1).
 * - SIGHUP is passed on to every worker that is up (log file reopened, TLS certificate read again) and reopens
 *   the supervisor's own log file.
 * - Should the supervisor itself die, its workers exit too (node:cluster ends a worker whose primary is gone).
 */
import cluster, { type Worker } from 'node:cluster';
import type { Config } from '../config/schema.js';
import type { Logger } from '../observe/logger.js';

/** The environment variable that tells a worker its index (1…N). Not a SWITCHBOARD_ one: it is no setting. */
const WORKER_ENV = '__SWITCHBOARD_WORKER_INDEX';

const FIRST_RESTART_DELAY_MS = 1_000;
const MAX_RESTART_DELAY_MS = 30_000;
/** A worker that ran this long was no crash loop: its slot's delay and the count of quick deaths start over. */
const STABLE_AFTER_MS = 10_000;
/** Quick deaths in a row (any worker) after which the supervisor gives up. */
const GIVE_UP_AFTER = 5;
/** Beyond shutdown.graceMs + shutdown.drainMs, what a worker's stop may take (webhooks, the store) before SIGKILL. */
const STOP_MARGIN_MS = 10_000;

/** This process's worker index (1…N) when it is a worker of a supervisor; undefined otherwise. */
export function workerIndex(): number | undefined {
  if (!cluster.isWorker) return undefined;
  const n = Number(process.env[WORKER_ENV]);
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

interface Slot {
  index: number;
  worker: Worker | null;
  pid: number | undefined;
  startedAt: number;
  /** Its worker has logged that it listens (its signal handlers are in place). */
  up: boolean;
  delayMs: number;
  restart: NodeJS.Timeout | null;
  stable: NodeJS.Timeout | null;
}

export interface SupervisorOptions {
  count: number;
  config: Config;
  log: Logger;
  /** Reopens the supervisor's own log file (SIGHUP). */
  reopenLog(): void;
}

/** Runs the workers until they have all stopped; resolves with the exit code the supervisor should end with. */
export function superviseWorkers({ count, config, log, reopenLog }: SupervisorOptions): Promise<number> {
  let finish!: (code: number) => void;
  const finished = new Promise<number>((resolve) => (finish = resolve));
  const slots: Slot[] = Array.from({ length: count }, (_, i) => ({
    index: i + 1,
    worker: null,
    pid: undefined,
    startedAt: 0,
    up: false,
    delayMs: FIRST_RESTART_DELAY_MS,
    restart: null,
    stable: null,
  }));
  let stopping = false;
  let exitCode = 0;
  let quickDeaths = 0;
  let announced = false;
  let signals = 0;
  let deadline: NodeJS.Timeout | null = null;

  const tls = Boolean(config.server.tls.cert && config.server.tls.key);
  const host = config.server.host.includes(':') ? `[${config.server.host}]` : config.server.host;

  const fork = (slot: Slot): void => {
    const worker = cluster.fork({ [WORKER_ENV]: String(slot.index) });
    Object.assign(slot, { worker, pid: worker.process.pid, startedAt: Date.now(), up: false });
    log.info({ worker: slot.index, workerPid: slot.pid }, 'worker started');
    slot.stable = setTimeout(() => {
      slot.stable = null;
      slot.delayMs = FIRST_RESTART_DELAY_MS;
      quickDeaths = 0;
    }, STABLE_AFTER_MS);
    worker.on('listening', (address: { port: number }) => {
      slot.up = true;
      if (announced || !slots.every((s) => s.up)) return;
      announced = true;
      const url = `${tls ? 'https' : 'http'}://${host}:${address.port}`;
      log.info({ url, ws: `${tls ? 'wss' : 'ws'}://${host}:${address.port}${config.server.path}`, workers: count }, 'workers listening');
    });
    // The IPC channel failing (a worker gone mid-message): its exit says the rest.
    worker.on('error', (err) => log.debug({ worker: slot.index, err }, 'worker channel error'));
    worker.on('exit', (code, signal) => exited(slot, worker, code, signal));
  };

  const exited = (slot: Slot, worker: Worker, code: number | null, signal: string | null): void => {
    if (slot.worker !== worker) return;
    const wasUp = slot.up;
    const livedMs = Date.now() - slot.startedAt;
    if (slot.stable) clearTimeout(slot.stable);
    Object.assign(slot, { worker: null, up: false, stable: null });
    const fields = { worker: slot.index, workerPid: slot.pid, code, signal };
    if (stopping) {
      // Killed by our SIGTERM before it could handle it (still starting): nothing of it was open yet.
      const clean = code === 0 || (signal === 'SIGTERM' && !wasUp);
      // The first reason to fail stands (another worker refusing the configuration too keeps exit code 2).
      if (!clean && exitCode === 0) exitCode = 1;
      if (clean) log.info(fields, 'worker stopped');
      else log.warn(fields, 'worker stopped with a failure');
      return done();
    }
    if (code === 2 && !wasUp) {
      log.fatal(fields, 'a worker refused the configuration (exit code 2, its message is above): stopping every worker');
      exitCode = 2;
      return stop();
    }
    if (livedMs < STABLE_AFTER_MS) quickDeaths++;
    if (quickDeaths >= GIVE_UP_AFTER) {
      log.fatal(
        { ...fields, deaths: quickDeaths },
        `workers keep dying within ${STABLE_AFTER_MS / 1000} s of starting (${quickDeaths} in a row): giving up, stopping every worker (exit code 1)`,
      );
      exitCode = 1;
      return stop();
    }
    const delayMs = slot.delayMs;
    slot.delayMs = Math.min(MAX_RESTART_DELAY_MS, delayMs * 2);
    log.error({ ...fields, livedMs, restartInMs: delayMs }, 'worker exited unexpectedly: starting another');
    slot.restart = setTimeout(() => {
      slot.restart = null;
      if (!stopping) fork(slot);
    }, delayMs);
  };

  const live = (): Slot[] => slots.filter((s) => s.worker !== null);

  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    for (const s of slots) {
      if (s.restart) clearTimeout(s.restart);
      s.restart = null;
    }
    for (const s of live()) s.worker!.process.kill('SIGTERM');
    const waitMs = config.shutdown.graceMs + config.shutdown.drainMs + STOP_MARGIN_MS;
    deadline = setTimeout(() => {
      const late = live();
      if (late.length > 0) log.error({ workers: late.map((s) => s.index), waitedMs: waitMs }, 'workers did not stop in time: SIGKILL');
      killAll();
    }, waitMs);
    done();
  };

  const killAll = (): void => {
    for (const s of live()) {
      if (exitCode === 0) exitCode = 1;
      s.worker!.process.kill('SIGKILL');
    }
  };

  const done = (): void => {
    if (!stopping || live().length > 0) return;
    if (deadline) clearTimeout(deadline);
    for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.off(sig, handlers[sig]);
    log.info({ code: exitCode }, 'all workers stopped');
    finish(exitCode);
  };

  const onStopSignal = (signal: NodeJS.Signals): void => {
    if (++signals > 1) {
      log.warn({ signal }, 'second signal: killing every worker now');
      if (exitCode === 0) exitCode = 1;
      killAll();
      return;
    }
    log.info({ signal, workers: live().length }, 'signal received: stopping every worker');
    stop();
  };
  const handlers: Record<'SIGTERM' | 'SIGINT' | 'SIGHUP', (signal: NodeJS.Signals) => void> = {
    SIGTERM: onStopSignal,
    SIGINT: onStopSignal,
    SIGHUP: () => {
      reopenLog();
      const up = live().filter((s) => s.up);
      // One still starting reads its log file and certificate afresh anyway (and may not handle SIGHUP yet).
      for (const s of up) s.worker!.process.kill('SIGHUP');
      log.info({ signal: 'SIGHUP', workers: up.map((s) => s.index) }, 'SIGHUP passed on to the workers');
    },
  };
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(sig, handlers[sig]);

  log.info({ workers: count, port: config.server.port, broker: brokerKind(config.broker.url) }, `starting ${count} workers`);
  for (const s of slots) fork(s);
  return finished;
}

/** `redis`, `nats`…: the scheme only (the URL may carry a password). */
function brokerKind(url: string | undefined): string | undefined {
  return url?.slice(0, url.indexOf(':'));
}
