/** Command-line flags → config overrides. Every config key is a flag: `--limits.maxFrameBytes 65536`. */
import { configKeys, ConfigError } from '../config/load.js';

export interface CliArgs {
  help: boolean;
  printConfig: boolean;
  configFile?: string;
  overrides: Record<string, string>;
}

const ALIASES: Record<string, string> = { port: 'server.port', host: 'server.host', path: 'server.path', workers: 'server.workers' };

export function parseArgs(argv: readonly string[]): CliArgs {
  const out: CliArgs = { help: false, printConfig: false, overrides: {} };
  const args = argv[0] === 'start' ? argv.slice(1) : argv;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '-h' || arg === '--help') {
      out.help = true;
      continue;
    }
    if (arg === '--print-config') {
      out.printConfig = true;
      continue;
    }
    if (arg === '--dev') {
      out.overrides['auth.dev'] = 'true';
      continue;
    }
    if (!arg.startsWith('--') && arg !== '-c') throw new ConfigError(`unexpected argument ${JSON.stringify(arg)} (see --help)`);
    const eq = arg.indexOf('=');
    let name = arg === '-c' ? 'config' : arg.slice(2, eq === -1 ? undefined : eq);
    let value: string | undefined = eq === -1 ? undefined : arg.slice(eq + 1);
    name = ALIASES[name] ?? name;
    const kind = configKeys.get(name);
    if (value === undefined) {
      const next = args[i + 1];
      if (kind === 'boolean' && (next === undefined || next.startsWith('-'))) value = 'true';
      else if (next === undefined) throw new ConfigError(`--${name} needs a value`);
      else value = args[++i]!;
    }
    if (name === 'config') out.configFile = value;
    else if (kind) out.overrides[name] = value;
    else throw new ConfigError(`unknown option --${name} (see --help for the list of keys)`);
  }
  return out;
}
