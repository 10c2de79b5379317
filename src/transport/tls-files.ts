/**
 * The certificate and key for wss/https, read from the files `server.tls` names. Read at start and again on
 * SIGHUP (a renewed certificate); one that cannot be read or used is a config error naming its key.
 */
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { ConfigError } from '../config/load.js';
import type { Config } from '../config/schema.js';

export interface TlsFiles {
  cert: Buffer;
  key: Buffer;
}

/** Null without TLS (the config schema makes sure both or neither are set). */
export function readTlsFiles(tls: Config['server']['tls']): TlsFiles | null {
  if (!tls.cert || !tls.key) return null;
  const files = { cert: readKeyFile('server.tls.cert', tls.cert), key: readKeyFile('server.tls.key', tls.key) };
  try {
    createSecureContext(files);
  } catch (e) {
    throw new ConfigError(`server.tls: ${tls.cert} and ${tls.key} are not a PEM certificate and its private key: ${(e as Error).message}`);
  }
  return files;
}

function readKeyFile(key: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new ConfigError(`${key}: cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}
