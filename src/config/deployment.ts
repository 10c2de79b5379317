/**
 * What a valid config may still not run as: the settings that only make sense together (several processes, a
 * broker, a store they share). Checked by the command before anything opens or forks, and by `startServer` for
 * callers that start a server themselves.
 */
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { ConfigError } from './load.js';
import type { Config } from './schema.js';

/** How many processes `server.workers` asks for on this machine (`auto`: one per core). */
export function workerCount(workers: Config['server']['workers'], cores: number = availableParallelism()): number {
  return workers === 'auto' ? Math.min(256, Math.max(1, cores)) : workers;
}

/**
 * Refuses (ConfigError: exit code 2) a deployment whose processes would not make one server: several workers
 * without a broker between them, or several nodes that would each keep their own SQLite file.
 */
export function checkDeployment(config: Config, cores?: number): void {
  const { workers } = config.server;
  const count = workerCount(workers, cores);
  const asked = workers === 'auto' ? `server.workers is auto (${count} on this machine, one per core)` : `server.workers is ${count}`;
  const broker = config.broker.url;
  const problems: string[] = [];
  if (count > 1 && !broker)
    problems.push(
      `${asked} but broker.url is not set: separate processes would not share messages, sessions or presence (a user ` +
        `connected to one would not see what is sent through another). Set broker.url to Redis (redis://host:6379) or ` +
        `NATS (nats://host:4222), or run one process (server.workers 1)`,
    );
  if (count > 1 && broker?.startsWith('memory://'))
    problems.push(
      `${asked} but broker.url is memory://, which joins only the nodes inside one process: workers are separate ` +
        `processes. Use Redis (redis://host:6379) or NATS (nats://host:4222)`,
    );
  if ((count > 1 || broker) && !config.store.url) {
    const file = config.store.file === ':memory:' ? 'an in-memory database' : resolve(config.store.file);
    const why = count > 1 ? asked : 'broker.url is set (this process is one node of several)';
    problems.push(
      `${why} but the store is the embedded SQLite file (store.file: ${file}), which one process alone may use: ` +
        `each node would number and keep messages on its own file, so history, recovery and offline delivery would ` +
        `differ from node to node. Use PostgreSQL (store.url postgres://user:pass@host/db), which every node shares`,
    );
  }
  if (problems.length === 1) throw new ConfigError(problems[0]!);
  if (problems.length > 1) throw new ConfigError(`cannot run as configured:\n  - ${problems.join('\n  - ')}`);
}
