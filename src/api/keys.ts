/**
 * API keys. The config keeps only each key's SHA-256: a leaked config file
 * opens nothing. A request's key is hashed and compared with every configured
 * hash in constant time, so neither the comparison nor which entry matched
 * shows in the response time. A client JWT is never an API key.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { BackendActor, Scope } from '../access/actor.js';

export interface ApiKeyEntry {
  name: string;
  hash: string;
  scopes: readonly Scope[];
}

export function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** A new key (`sbk_` and 32 random bytes, base64url) and the hash the config keeps. */
export function newKey(): { key: string; hash: string } {
  const key = `sbk_${randomBytes(32).toString('base64url')}`;
  return { key, hash: hashKey(key) };
}

/** The key a request carries: `Authorization: Bearer …` or `X-API-Key: …`. */
export function keyOf(headers: IncomingHttpHeaders): string | null {
  const header = headers['x-api-key'];
  if (typeof header === 'string' && header !== '') return header;
  const auth = headers.authorization;
  if (typeof auth === 'string' && /^Bearer\s+/i.test(auth)) return auth.replace(/^Bearer\s+/i, '').trim() || null;
  return null;
}

export class ApiKeys {
  private readonly entries: { name: string; digest: Buffer; scopes: readonly Scope[] }[];

  constructor(entries: readonly ApiKeyEntry[]) {
    this.entries = entries.map((e) => ({ name: e.name, digest: Buffer.from(e.hash, 'hex'), scopes: e.scopes }));
  }

  /** The backend actor a key stands for, or null for an unknown key. */
  actorFor(key: string): BackendActor | null {
    const digest = createHash('sha256').update(key).digest();
    let found: BackendActor | null = null;
    for (const e of this.entries) if (timingSafeEqual(digest, e.digest) && found === null) found = { backend: e.name, scopes: e.scopes };
    return found;
  }
}
