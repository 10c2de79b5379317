/**
 * The `switchboard` command: flags + environment + file → config → a running server, stopped by SIGTERM/SIGINT.
 * With server.workers > 1 this process supervises that many workers instead, each running the server
 * (workers.ts).
 */
import { checkDeployment, workerCount } from '../config/deployment.js';
import { ConfigError, loadConfig, redactConfig, unknownEnvironment } from '../config/load.js';
import { createLogger, type ProcessLog } from '../observe/logger.js';
import type { RunningServer } from '../server.js';
import { apiKeyCommand } from './api-key.js';
import { parseArgs } from './args.js';
import { helpText } from './help.js';
import { superviseWorkers, workerIndex } from './workers.js';

export async function main(argv: readonly string[]): Promise<void> {
  // A worker of a supervisor (workers.ts): it says which in every log line, and ends itself when it cannot start
  // (its channel to the supervisor would keep it running).
  const worker = workerIndex();
  let config;
  let logs: ProcessLog;
  try {
    if (argv[0] === 'api-key') {
      process.stdout.write(apiKeyCommand(argv.slice(1)));
      return;
    }
    const args = parseArgs(argv);
    if (args.help) {
      process.stdout.write(helpText());
      return;
    }
    config = loadConfig({ file: args.configFile, env: process.env, overrides: args.overrides });
    if (args.printConfig) {
      process.stdout.write(JSON.stringify(redactConfig(config), null, 2) + '\n');
      return;
    }
    // Before anything opens or forks: workers without a broker, several nodes on one SQLite file…
    checkDeployment(config);
    logs = createLogger(config.log);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`switchboard: ${err.message}\n`);
      process.exitCode = 2;
      if (worker !== undefined) process.exit();
      return;
    }
    throw err;
  }
  const log = worker === undefined ? logs.log : logs.log.child({ worker });
  const unknown = unknownEnvironment(process.env);
  // A worker's supervisor has said it already.
  if (unknown.length > 0 && worker === undefined)
    log.warn({ variables: unknown }, 'ignored environment variables that name no setting (`meant`: the setting they may have been meant for)');
  const workers = workerCount(config.server.workers);
  if (worker === undefined && workers > 1) {
    const code = await superviseWorkers({ count: workers, config, log, reopenLog: () => logs.reopen() });
    log.flush();
    process.exit(code);
  }
  // Signals are handled from before the server starts: one that came between its "listening" line and the end of
  // start-up would otherwise end the process with no graceful stop (and no exit code).
  let server: RunningServer | undefined;
  let stopWanted = false;
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    // A worker hears a Ctrl-C from the terminal and its supervisor's SIGTERM: one stop. Stopping at once is the
    // supervisor's call (it SIGKILLs).
    if (++signals > 1 && worker !== undefined) return;
    if (signals > 1) process.exit(1);
    log.info({ signal }, 'signal received');
    if (server) stopAndExit();
    else stopWanted = true;
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  // logrotate and certificate renewals send SIGHUP, whose default would end the process without a graceful stop.
  process.on('SIGHUP', () => {
    if (config.log.file) {
      logs.reopen();
      log.info({ signal: 'SIGHUP', file: config.log.file }, 'log file reopened');
    }
    server?.reload();
  });
  try {
    // Loaded only here: --help, --print-config, a refused config and a supervisor of workers need none of the
    // server's modules (the store and broker drivers among them), which take most of a start's CPU time.
    const { startServer } = await import('../server.js');
    server = await startServer(config, log);
  } catch (err) {
    const message = err instanceof ConfigError ? err.message : `cannot start: ${(err as Error).message}`;
    log.fatal({ err }, message);
    log.flush();
    process.stderr.write(`switchboard: ${message}\n`);
    process.exitCode = err instanceof ConfigError ? 2 : 1;
    if (worker !== undefined) process.exit();
    return;
  }
  /** Stops the server (once, however often asked) and exits with process.exitCode: 0 unless something failed. */
  const stopAndExit = (drain = true): void => {
    server!.stop({ drain }).then(
      () => {
        log.flush();
        process.exit();
      },
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        log.flush();
        process.exit(1);
      },
    );
  };
  if (stopWanted) stopAndExit();
  void server.failed.then((err) => {
    // Durable publishes could only fail from here on: better a restart (clients reconnect and recover) than a
    // server that accepts sessions it cannot serve.
    log.fatal({ err }, `${err.message}: stopping (exit code 1) so that a supervisor restarts the server`);
    // Also when a signal had already begun the stop: that exit must not claim success.
    process.exitCode = 1;
    stopAndExit(false);
  });
}
