/**
 * `switchboard api-key [--name NAME] [--scopes publish,read,admin]`: makes a new server API key and prints it
 * once, with the entry for `api.keys` that holds only its hash.
 */
import { newKey } from '../api/keys.js';
import { ConfigError } from '../config/load.js';

const SCOPES = ['publish', 'read', 'admin'] as const;

export function apiKeyCommand(argv: readonly string[]): string {
  let name = 'backend';
  let scopes: string[] = ['publish', 'read'];
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.split('=', 2) as [string, string | undefined];
    const value = inline ?? argv[++i];
    if (value === undefined) throw new ConfigError(`${flag} needs a value`);
    if (flag === '--name') name = value;
    else if (flag === '--scopes') scopes = value.split(',').map((s) => s.trim());
    else throw new ConfigError(`api-key: unknown option ${flag} (--name NAME, --scopes publish,read,admin)`);
  }
  const wrong = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
  if (wrong.length > 0 || scopes.length === 0) throw new ConfigError(`api-key: scopes are ${SCOPES.join(', ')}; not ${wrong.join(', ') || 'none'}`);
  if (!/^.{1,64}$/.test(name)) throw new ConfigError('api-key: a name is 1-64 characters');
  const { key, hash } = newKey();
  const entry = JSON.stringify({ name, hash, scopes });
  return [
    `key:   ${key}`,
    '       (shown once: give it to the app\'s backend, which sends it as "Authorization: Bearer KEY")',
    `entry: ${entry}`,
    '       (add it to api.keys in the config file, or SWITCHBOARD_API_KEYS=\'[...]\'; only the hash is kept)',
    '',
  ].join('\n');
}
