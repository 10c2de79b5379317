/**
 * Establishes who a connection is: a JWT signed by the app's backend, or, in
 * development mode only, a plain user name. The rest of the server sees only
 * the resulting Identity.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { errors, jwtVerify, type JWTPayload } from 'jose';
import type { Config } from '../config/schema.js';
import { CloseCode } from '../protocol/codes.js';
import { USER_ID } from '../protocol/commands.js';

export interface Identity {
  user: string;
  /** Private rooms (names or `prefix*`) the user may join. */
  grants: readonly string[];
  /** When the credential stops being valid (ms since epoch), or null for never. */
  expiresAt: number | null;
}

export type AuthResult = { ok: true; identity: Identity } | { ok: false; code: CloseCode; reason: string };

const DEV_NAME = /^[A-Za-z0-9_.@-]{1,64}$/;

export class Authenticator {
  private readonly key: Uint8Array | KeyObject | null;

  constructor(
    private readonly cfg: Config['auth'],
    /** Whether `?user=` identities are accepted (decided from config and bind address). */
    readonly devMode: boolean,
  ) {
    const { secret, publicKey } = cfg.jwt;
    if (secret) this.key = new TextEncoder().encode(secret);
    else if (publicKey) this.key = createPublicKey(publicKey.includes('-----BEGIN') ? publicKey : readFileSync(publicKey, 'utf8'));
    else this.key = null;
  }

  get acceptsTokens(): boolean {
    return this.key !== null;
  }

  async verifyToken(token: string): Promise<AuthResult> {
    if (!this.key) return { ok: false, code: CloseCode.Unauthorized, reason: 'tokens are not configured on this server' };
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.key, {
        algorithms: this.cfg.jwt.algorithms ?? (this.key instanceof Uint8Array ? ['HS256', 'HS384', 'HS512'] : undefined),
        issuer: this.cfg.jwt.issuer,
        audience: this.cfg.jwt.audience,
        requiredClaims: ['sub'],
      }));
    } catch (e) {
      if (e instanceof errors.JWTExpired) return { ok: false, code: CloseCode.TokenExpired, reason: 'token expired' };
      return { ok: false, code: CloseCode.Unauthorized, reason: 'invalid token' };
    }
    const user = payload.sub;
    if (typeof user !== 'string' || !USER_ID.test(user)) return { ok: false, code: CloseCode.Unauthorized, reason: 'invalid sub claim' };
    const claim = payload[this.cfg.jwt.roomsClaim];
    const grants = Array.isArray(claim) ? claim.filter((g): g is string => typeof g === 'string') : [];
    return { ok: true, identity: { user, grants, expiresAt: typeof payload.exp === 'number' ? payload.exp * 1000 : null } };
  }

  devIdentity(name: string): AuthResult {
    if (!this.devMode) return { ok: false, code: CloseCode.Unauthorized, reason: 'dev identities are disabled; send a token' };
    if (!DEV_NAME.test(name)) return { ok: false, code: CloseCode.Unauthorized, reason: 'user names are 1-64 characters of A-Z a-z 0-9 _ . @ -' };
    return { ok: true, identity: { user: name, grants: [], expiresAt: null } };
  }
}

/**
 * Reads credentials from an HTTP request (WebSocket upgrade or upload): `?token=`,
 * `Authorization: Bearer`, or in dev mode `?user=`. Null when there are none.
 */
export async function identifyRequest(auth: Authenticator, headers: { authorization?: string | undefined }, url: URL): Promise<AuthResult | null> {
  const header = headers.authorization;
  const token = url.searchParams.get('token') ?? (header?.startsWith('Bearer ') ? header.slice(7).trim() : null);
  if (token) return auth.verifyToken(token);
  const user = url.searchParams.get('user');
  if (user !== null) return auth.devIdentity(user);
  return null;
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

export function isLoopback(host: string): boolean {
  return LOOPBACK.test(host);
}

/**
 * Dev identities are on when asked for, or by default when no JWT key is
 * configured and the server listens on loopback only. Returns an error message
 * when the combination is unsafe.
 */
export function resolveDevMode(cfg: Config['auth'], host: string): { dev: boolean; error?: string } {
  const hasKey = Boolean(cfg.jwt.secret || cfg.jwt.publicKey);
  const dev = cfg.dev ?? (!hasKey && isLoopback(host));
  if (dev && !isLoopback(host) && !cfg.allowDevOnPublicHost)
    return { dev, error: `auth.dev on the non-loopback host ${host} lets anyone claim any user; set auth.allowDevOnPublicHost=true if you mean it` };
  if (!dev && !hasKey) return { dev, error: 'no way to authenticate: set auth.jwt.secret or auth.jwt.publicKey (or auth.dev=true for development)' };
  return { dev };
}
