/**
 * Builds the effective config: defaults < JSON file < environment < flags.
 * Environment and flag values arrive as strings; each is converted to the type
 * its key has in the schema before validation, so errors name the key and
 * where the bad value came from.
 */
import { readFileSync } from 'node:fs';
import { distance } from 'fastest-levenshtein';
import { z } from 'zod';
import { configSchema, type Config } from './schema.js';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * `numberOrWord`: a number or one of a few words (`server.workers`: a count or `auto`): a flag or variable that
 * reads as a number is one, anything else is the word as written.
 */
type LeafKind = 'string' | 'number' | 'boolean' | 'numberOrWord' | 'json';
type Leaves = Map<string, LeafKind>;

export const ENV_PREFIX = 'SWITCHBOARD_';

const descriptions = new Map<string, string>();

/** Dotted key → what kind of value it takes, read off the schema itself so it never drifts. */
export const configKeys: Leaves = collectLeaves(configSchema, '', new Map(), descriptions);

/** Dotted key → its one-line description (the schema's `.describe()`), for `--help`. */
export const configDescriptions: ReadonlyMap<string, string> = descriptions;

/** Keys of kind numberOrWord → what they take, in words (`"auto" or a whole number from 1 to 256`), for errors. */
const choices = new Map<string, string>();
for (const [key, kind] of configKeys) if (kind === 'numberOrWord') choices.set(key, describeChoices(leafAt(key)));

function unwrap(schema: z.ZodType): z.ZodType {
  let s = schema;
  for (;;) {
    const def = s.def as { type: string; innerType?: z.ZodType };
    if ((def.type === 'default' || def.type === 'prefault' || def.type === 'optional') && def.innerType) s = def.innerType;
    else return s;
  }
}

/** The description on the schema or on one of the wrappers around it (the outermost wins). */
function descriptionOf(schema: z.ZodType): string | undefined {
  let s = schema;
  for (;;) {
    if (s.description) return s.description;
    const def = s.def as { type: string; innerType?: z.ZodType };
    if ((def.type === 'default' || def.type === 'prefault' || def.type === 'optional') && def.innerType) s = def.innerType;
    else return undefined;
  }
}

function collectLeaves(schema: z.ZodType, prefix: string, out: Leaves, described: Map<string, string>): Leaves {
  const s = unwrap(schema);
  if (s instanceof z.ZodObject) {
    for (const [k, v] of Object.entries(s.shape as Record<string, z.ZodType>)) collectLeaves(v, prefix ? `${prefix}.${k}` : k, out, described);
    return out;
  }
  const description = descriptionOf(schema);
  if (description) described.set(prefix, description);
  const t = (s.def as { type: string }).type;
  const kind = t === 'number' ? 'number' : t === 'boolean' ? 'boolean' : t === 'string' || t === 'enum' ? 'string' : isNumberOrWord(s) ? 'numberOrWord' : 'json';
  out.set(prefix, kind);
  return out;
}

/** A union of a number and string literals only. */
function isNumberOrWord(s: z.ZodType): boolean {
  if (!(s instanceof z.ZodUnion)) return false;
  const options = s.def.options as z.ZodType[];
  return (
    options.some((o) => o instanceof z.ZodNumber) &&
    options.every((o) => o instanceof z.ZodNumber || (o instanceof z.ZodLiteral && o.values.size > 0 && [...o.values].every((v) => typeof v === 'string')))
  );
}

/** The schema of a leaf, its wrappers (default, optional) taken off. */
function leafAt(key: string): z.ZodType {
  let s: z.ZodType = configSchema;
  for (const part of key.split('.')) s = (unwrap(s) as z.ZodObject).shape[part] as z.ZodType;
  return unwrap(s);
}

/** `"auto" or a whole number from 1 to 256`. */
function describeChoices(s: z.ZodType): string {
  const forms: string[] = [];
  for (const o of (s as z.ZodUnion).def.options as z.ZodType[]) {
    if (o instanceof z.ZodLiteral) forms.push(...[...o.values].map((v) => JSON.stringify(v)));
    else if (o instanceof z.ZodNumber) {
      const what = o.isInt ? 'a whole number' : 'a number';
      const { minValue: min, maxValue: max } = o;
      const finite = (n: number | null): n is number => n !== null && Number.isFinite(n) && Math.abs(n) < Number.MAX_SAFE_INTEGER;
      forms.push(finite(min) && finite(max) ? `${what} from ${min} to ${max}` : finite(min) ? `${what} of at least ${min}` : finite(max) ? `${what} of at most ${max}` : what);
    }
  }
  return forms.length > 1 ? `${forms.slice(0, -1).join(', ')} or ${forms[forms.length - 1]}` : (forms[0] ?? 'a valid value');
}

/** `limits.maxFrameBytes` → `SWITCHBOARD_LIMITS_MAX_FRAME_BYTES` (`store.cacheMiB` → `…_CACHE_MIB`: a word starts with a capital and a small letter). */
export function envName(key: string): string {
  return ENV_PREFIX + key.replace(/\./g, '_').replace(/([a-z0-9])([A-Z])(?=[a-z])/g, '$1_$2').toUpperCase();
}

/**
 * Variables with the prefix that name no key, each with the key's variable it most likely meant. They are not an
 * error, as an unknown flag or file key is: platforms set such variables themselves (Kubernetes does for a service
 * named `switchboard`), but a misspelt one is a setting silently not applied, so the server warns.
 */
export function unknownEnvironment(env: Record<string, string | undefined>): { name: string; meant?: string }[] {
  const known = new Set([...configKeys.keys()].map(envName));
  known.add(`${ENV_PREFIX}CONFIG`);
  return Object.keys(env)
    .filter((name) => name.startsWith(ENV_PREFIX) && !known.has(name))
    .sort()
    .map((name) => {
      const meant = closest(name, known);
      return meant ? { name, meant } : { name };
    });
}

/** The known name within a few edits of `name`, if one is. */
function closest(name: string, known: Set<string>): string | undefined {
  const limit = Math.max(2, Math.floor(name.length / 8));
  let best: string | undefined;
  let bestDistance = limit + 1;
  for (const k of known) {
    const d = distance(name, k);
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return best;
}

function convert(kind: LeafKind, raw: string): unknown {
  switch (kind) {
    case 'number': {
      const n = Number(raw);
      return raw.trim() !== '' && Number.isFinite(n) ? n : raw;
    }
    case 'numberOrWord': {
      const n = Number(raw);
      return raw.trim() !== '' && Number.isFinite(n) ? n : raw.trim();
    }
    case 'boolean':
      if (/^(true|1|yes|on)$/i.test(raw)) return true;
      if (/^(false|0|no|off)$/i.test(raw)) return false;
      return raw;
    case 'json':
      try {
        return JSON.parse(raw) as unknown;
      } catch {
        // A list may also be written plainly, `HS256,HS512`; what looks like JSON is left for its error.
        return /^\s*[[{"]/.test(raw) ? raw : raw.split(',').map((item) => item.trim()).filter((item) => item !== '');
      }
    default:
      return raw;
  }
}

function setPath(target: Record<string, unknown>, key: string, value: unknown): void {
  const parts = key.split('.');
  let node = target;
  for (const p of parts.slice(0, -1)) {
    const next = node[p];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[p] = {};
    node = node[p] as Record<string, unknown>;
  }
  node[parts[parts.length - 1]!] = value;
}

export interface ConfigSources {
  /** Path of a JSON config file. */
  file?: string;
  env?: Record<string, string | undefined>;
  /** Dotted key → raw string, from the command line. */
  overrides?: Record<string, string>;
}

export function loadConfig(sources: ConfigSources = {}): Config {
  const raw: Record<string, unknown> = {};
  const origin = new Map<string, string>();
  const file = sources.file ?? sources.env?.[`${ENV_PREFIX}CONFIG`];
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new ConfigError(`cannot read config file ${file}: ${(e as Error).message}`);
    }
    try {
      Object.assign(raw, JSON.parse(text));
    } catch (e) {
      throw new ConfigError(`config file ${file} is not valid JSON: ${(e as Error).message}`);
    }
  }
  for (const [key, kind] of configKeys) {
    const name = envName(key);
    const v = sources.env?.[name];
    if (v !== undefined && v !== '') {
      setPath(raw, key, convert(kind, v));
      origin.set(key, `environment variable ${name}`);
    }
  }
  for (const [key, v] of Object.entries(sources.overrides ?? {})) {
    const kind = configKeys.get(key);
    if (!kind) throw new ConfigError(`unknown option --${key} (see --help for the list of keys)`);
    setPath(raw, key, convert(kind, v));
    origin.set(key, `flag --${key}`);
  }
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => {
      const key = i.path.join('.');
      const from = originOf(origin, key) ?? (file ? `config file ${file}` : 'defaults');
      if (i.code === 'unrecognized_keys') return `${key ? key + ': ' : ''}unknown key(s) ${i.keys.join(', ')} (in ${from})`;
      // A union's own message ("Invalid input") says nothing of what it takes.
      const takes = choices.get(key);
      if (takes) return `${key}: expected ${takes}, not ${JSON.stringify(valueAt(raw, i.path))} (from ${from})`;
      return `${key || '(root)'}: ${i.message} (from ${from})`;
    });
    throw new ConfigError(`invalid configuration:\n  ${lines.join('\n  ')}`);
  }
  return parsed.data;
}

function valueAt(raw: Record<string, unknown>, path: readonly PropertyKey[]): unknown {
  let node: unknown = raw;
  for (const p of path) node = typeof node === 'object' && node !== null ? (node as Record<PropertyKey, unknown>)[p] : undefined;
  return node;
}

/** Where the value at `key` came from: the key itself, its nearest parent, or the keys set under it. */
function originOf(origin: Map<string, string>, key: string): string | undefined {
  for (let k = key; k !== ''; k = k.includes('.') ? k.slice(0, k.lastIndexOf('.')) : '') {
    const o = origin.get(k);
    if (o) return o;
  }
  const below = [...origin].filter(([k]) => key === '' || k.startsWith(`${key}.`)).map(([, o]) => o);
  return below.length > 0 ? below.join(', ') : undefined;
}

const SECRET_KEYS = new Set(['auth.jwt.secret']);
/** Keys holding a URL whose password is masked. */
const URL_KEYS = new Set(['store.url', 'broker.url']);

/** The effective config with secrets masked, for `--print-config` and the startup log. */
export function redactConfig(config: Config): Config {
  const copy = structuredClone(config) as Record<string, unknown>;
  const mask = (key: string, fn: (value: unknown) => unknown): void => {
    const parts = key.split('.');
    let node: Record<string, unknown> | undefined = copy;
    for (const p of parts.slice(0, -1)) node = node?.[p] as Record<string, unknown> | undefined;
    const last = parts[parts.length - 1]!;
    if (node && node[last] !== undefined) node[last] = fn(node[last]);
  };
  for (const key of SECRET_KEYS) mask(key, () => '***');
  for (const key of URL_KEYS) mask(key, maskUrlPassword);
  // Each webhook endpoint signs with its own secret, and its URL may carry credentials.
  const hooks = (copy.webhooks as { endpoints?: { secret?: unknown; url?: unknown }[] } | undefined)?.endpoints ?? [];
  for (const e of hooks) {
    if (e.secret !== undefined) e.secret = '***';
    e.url = maskUrlPassword(e.url);
  }
  return copy as Config;
}

function maskUrlPassword(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  try {
    const u = new URL(value);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '***';
  }
}
