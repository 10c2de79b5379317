/** The broker a `broker.url` names, by its scheme. Nothing connects until `start()`. */
import type { Broker } from './broker.js';
import { MemoryBroker, memoryBus } from './memory-broker.js';
import { NatsBroker } from './nats-broker.js';
import { RedisBroker } from './redis-broker.js';

export function openBroker(url: string, prefix: string): Broker {
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(url)?.[1]?.toLowerCase();
  switch (scheme) {
    case 'redis':
    case 'rediss':
      return new RedisBroker(url, prefix);
    case 'nats':
      return new NatsBroker(url, prefix);
    case 'memory':
      return new MemoryBroker(memoryBus(url.slice('memory://'.length)), prefix);
    default:
      // The scheme only: the rest of a URL may hold a password.
      throw new Error(
        scheme === undefined
          ? 'broker.url is not a URL (expected redis://, rediss://, nats:// or memory://)'
          : `unsupported broker URL scheme "${scheme}:" (expected redis://, rediss://, nats:// or memory://)`,
      );
  }
}
