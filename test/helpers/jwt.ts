/** HS256 tokens for tests, signed the way an application backend would. */
import { SignJWT } from 'jose';

export const TEST_SECRET = 'test-secret-0123456789-abcdefghij';

export interface TokenOptions {
  secret?: string;
  /** Private rooms granted (the `rooms` claim). */
  rooms?: string[];
  /** Expiry, seconds since epoch; omitted: no expiry. */
  exp?: number;
  /** Extra claims. */
  claims?: Record<string, unknown>;
  alg?: 'HS256' | 'HS384' | 'HS512';
}

/** A signed token for `sub` (null: a token without a `sub` claim). */
export async function makeToken(sub: string | null, opts: TokenOptions = {}): Promise<string> {
  const payload: Record<string, unknown> = { ...opts.claims };
  if (opts.rooms) payload.rooms = opts.rooms;
  let jwt = new SignJWT(payload).setProtectedHeader({ alg: opts.alg ?? 'HS256' }).setIssuedAt();
  if (sub !== null) jwt = jwt.setSubject(sub);
  if (opts.exp !== undefined) jwt = jwt.setExpirationTime(opts.exp);
  return jwt.sign(new TextEncoder().encode(opts.secret ?? TEST_SECRET));
}

/** Seconds since epoch, `offsetSec` from now. */
export function epochSeconds(offsetSec = 0): number {
  return Math.floor(Date.now() / 1000) + offsetSec;
}

/** An `exp` (seconds) at least `ms` from now: exp has one-second resolution, so it lands `ms`..`ms`+1000 ahead. */
export function expAtLeast(ms: number): number {
  return Math.ceil((Date.now() + ms) / 1000);
}
