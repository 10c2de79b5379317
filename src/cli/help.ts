import { configDescriptions, configKeys, envName } from '../config/load.js';
import { configSchema } from '../config/schema.js';

function defaultOf(key: string, defaults: unknown): string {
  let node: unknown = defaults;
  for (const p of key.split('.')) node = typeof node === 'object' && node !== null ? (node as Record<string, unknown>)[p] : undefined;
  return node === undefined ? '(unset)' : JSON.stringify(node);
}

export function helpText(): string {
  const defaults = configSchema.parse({});
  // Each key, then what it does on a line of its own (the schema's description), so that no line gets too long.
  const rows = [...configKeys.keys()].map(
    (k) => `  --${k.padEnd(30)} ${envName(k).padEnd(44)} ${defaultOf(k, defaults)}\n${' '.repeat(6)}${configDescriptions.get(k) ?? ''}`,
  );
  return `switchboard — real-time messaging server

Usage: switchboard [start] [options]
       switchboard api-key [--name NAME] [--scopes publish,read,admin]
                        make a server API key: prints it once, and the api.keys entry (its hash)

  -c, --config FILE     JSON config file (or SWITCHBOARD_CONFIG)
  --print-config        print the effective config (secrets masked) and exit
  --port N, --host H    shortcuts for --server.port, --server.host
  --workers N|auto      shortcut for --server.workers: N processes behind the one port (auto: one per
                        core); more than 1 needs --broker.url and --store.url (PostgreSQL)
  --dev                 accept ?user=NAME identities (development only)
  -h, --help            this text

Every config key can be set in the file, by environment variable, or by flag
(flags win over the environment, which wins over the file):

  ${'flag'.padEnd(32)} ${'environment'.padEnd(44)} default
${rows.join('\n')}
`;
}
