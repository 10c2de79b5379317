import { destination, pino, stdTimeFunctions, type Logger } from 'pino';
import type { Config } from '../config/schema.js';

/** One pino logger for the process, to stdout or to `log.file`; parts take child loggers. */
export function createLogger(cfg: Config['log']): Logger {
  const dest = cfg.file ? destination({ dest: cfg.file, mkdir: true, sync: false }) : destination({ dest: 1, sync: false });
  return pino({ level: cfg.level, base: { pid: process.pid }, timestamp: stdTimeFunctions.isoTime }, dest);
}

export type { Logger };
