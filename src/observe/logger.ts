import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { destination, pino, stdTimeFunctions, type Logger, type LoggerOptions } from 'pino';
import { ConfigError } from '../config/load.js';
import type { Config } from '../config/schema.js';

export interface ProcessLog {
  readonly log: Logger;
  /** Opens `log.file` again (after logrotate moved it away, on SIGHUP); nothing to do on stdout. */
  reopen(): void;
}

/** One pino logger for the process, to stdout or to `log.file`; parts take child loggers. */
export function createLogger(cfg: Config['log']): ProcessLog {
  if (!cfg.file) return { log: pino(options(cfg), destination({ dest: 1, sync: false })), reopen: () => {} };
  // The file is written asynchronously, so a path that cannot be opened would only show as lines silently lost
  // (the warnings among them) and a crash at the stop: it is tried here, where it can stop the start instead.
  try {
    mkdirSync(dirname(cfg.file), { recursive: true });
    closeSync(openSync(cfg.file, 'a'));
  } catch (e) {
    throw new ConfigError(`log.file: cannot write to ${cfg.file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const dest = destination({ dest: cfg.file, sync: false });
  return { log: pino(options(cfg), dest), reopen: () => dest.reopen() };
}

function options(cfg: Config['log']): LoggerOptions {
  return { level: cfg.level, base: { pid: process.pid }, timestamp: stdTimeFunctions.isoTime };
}

export type { Logger };
