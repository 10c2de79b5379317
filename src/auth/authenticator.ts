/**
 * Establishes who a connection is: a JWT signed by the app's backend, or, in
 * development mode only, a plain user name. The rest of the server sees only
 * the resulting Identity.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { errors, jwtVerify, type JWTPayload } from 'jose';
import { ConfigError } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { CloseCode } from '../protocol/codes.js';
import { USER_ID } from '../protocol/commands.js';

export interface Identity {
  user: string;
  /** Private rooms (names or `prefix*`) the user may join. */
  grants: readonly string[];
  /** When the credential stops being valid (ms since epoch), or null for never. */
  expiresAt: number | null;
  /** How it was established (the metrics count sessions by it); unset: a token. */
  via?: 'token' | 'dev';
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
    else if (publicKey) this.key = loadPublicKey(publicKey);
    else this.key = null;
    if (this.key) checkAlgorithms(this.key, cfg.jwt.algorithms);
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
        requiredClaims: this.cfg.jwt.requireExp ? ['sub', 'exp'] : ['sub'],
      }));
    } catch (e) {
      if (e instanceof errors.JWTExpired) return { ok: false, code: CloseCode.TokenExpired, reason: 'token expired' };
      return { ok: false, code: CloseCode.Unauthorized, reason: `invalid token: ${whyRefused(e)}` };
    }
    const user = payload.sub;
    if (typeof user !== 'string' || !USER_ID.test(user))
      return { ok: false, code: CloseCode.Unauthorized, reason: 'invalid token: "sub" claim is not a user id (1-128 characters, no spaces)' };
    const claim = payload[this.cfg.jwt.roomsClaim];
    const grants = Array.isArray(claim) ? claim.filter((g): g is string => typeof g === 'string') : [];
    return { ok: true, identity: { user, grants, expiresAt: typeof payload.exp === 'number' ? payload.exp * 1000 : null, via: 'token' } };
  }

  devIdentity(name: string): AuthResult {
    if (!this.devMode) return { ok: false, code: CloseCode.Unauthorized, reason: 'dev identities are disabled; send a token' };
    if (!DEV_NAME.test(name)) return { ok: false, code: CloseCode.Unauthorized, reason: 'user names are 1-64 characters of A-Z a-z 0-9 _ . @ -' };
    return { ok: true, identity: { user: name, grants: [], expiresAt: null, via: 'dev' } };
  }
}

/**
 * Which check a token failed, from jose's error: the close reason (and so the 'connection refused' log line) says
 * it, since "invalid token" alone leaves an operator guessing between a wrong secret, issuer or audience. Built
 * from the error's code and claim name only, never from the token or a value in it (an attacker's text in the log).
 */
function whyRefused(e: unknown): string {
  if (e instanceof errors.JWTClaimValidationFailed) {
    const claim = e.claim;
    if (e.reason === 'missing') return `no "${claim}" claim`;
    if (e.reason === 'invalid') return `"${claim}" claim is not a number`;
    if (claim === 'iss') return '"iss" claim is not auth.jwt.issuer';
    if (claim === 'aud') return '"aud" claim does not name auth.jwt.audience';
    if (claim === 'nbf') return 'not valid yet ("nbf" claim is in the future)';
    return `"${claim}" claim check failed`;
  }
  if (e instanceof errors.JWSSignatureVerificationFailed) return 'bad signature (signed with another key?)';
  if (e instanceof errors.JOSEAlgNotAllowed) return 'algorithm not allowed (auth.jwt.algorithms)';
  if (e instanceof errors.JOSENotSupported) return 'unsupported algorithm';
  if (e instanceof errors.JWSInvalid || e instanceof errors.JWTInvalid) return 'not a signed JWT';
  // jose's way of saying the token's algorithm cannot be used with the key (an HS256 token against a public key).
  if (e instanceof TypeError) return "algorithm does not fit the server's key";
  return 'could not be verified';
}

/** A PEM public key given inline or as a path to a file; an error that names the key and says what was wrong. */
function loadPublicKey(value: string): KeyObject {
  let pem = value;
  if (!value.includes('-----BEGIN')) {
    try {
      pem = readFileSync(value, 'utf8');
    } catch (e) {
      throw new ConfigError(`auth.jwt.publicKey: not a PEM key, and no file to read at ${value} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
  }
  // An environment variable often carries a PEM on one line with its line breaks written as \n.
  if (!pem.includes('\n') && pem.includes('\\n')) pem = pem.replace(/\\n/g, '\n');
  try {
    return createPublicKey(pem);
  } catch (e) {
    throw new ConfigError(`auth.jwt.publicKey: not a PEM public key (SPKI, "-----BEGIN PUBLIC KEY-----") or certificate: ${(e as Error).message}`);
  }
}

/** Algorithm families each kind of key can verify; a mismatch would refuse every token, so it stops the start instead. */
const FAMILIES: Record<string, RegExp> = { secret: /^HS/, rsa: /^(RS|PS)/, 'rsa-pss': /^PS/, ec: /^ES/, ed25519: /^(EdDSA|Ed25519)$/, ed448: /^EdDSA$/ };

function checkAlgorithms(key: Uint8Array | KeyObject, algorithms: readonly string[] | undefined): void {
  const kind = key instanceof Uint8Array ? 'secret' : (key.asymmetricKeyType ?? 'unknown');
  const family = FAMILIES[kind];
  const wrong = family ? (algorithms ?? []).filter((a) => !family.test(a)) : [];
  if (wrong.length > 0)
    throw new ConfigError(
      `auth.jwt.algorithms: ${wrong.join(', ')} cannot be verified with ${kind === 'secret' ? 'auth.jwt.secret (HS256/384/512 only)' : `the ${kind.toUpperCase()} key in auth.jwt.publicKey`}`,
    );
}

/**
 * Reads credentials from an HTTP request (WebSocket upgrade or upload): `?token=`,
 * `Authorization: Bearer`, or in dev mode `?user=`. Null when there are none.
 * Only a token's check is asynchronous: a dev identity, or none, is answered at once (a connect storm's
 * handshakes then go on in the same turn, without a promise and a microtask each).
 */
export function identifyRequest(
  auth: Authenticator,
  headers: { authorization?: string | undefined },
  url: { readonly searchParams: URLSearchParams },
): AuthResult | null | Promise<AuthResult> {
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
  // Token settings without a key are most likely a key that did not arrive (a misspelt variable): falling back to
  // dev identities then would open the server to anyone.
  const tokenSettings = (['algorithms', 'issuer', 'audience'] as const).filter((k) => cfg.jwt[k] !== undefined);
  if (!hasKey && cfg.dev === undefined && tokenSettings.length > 0)
    return {
      dev: false,
      error: `${tokenSettings.map((k) => `auth.jwt.${k}`).join(', ')} set but no key to verify tokens with: set auth.jwt.secret or auth.jwt.publicKey (or auth.dev=true)`,
    };
  const dev = cfg.dev ?? (!hasKey && isLoopback(host));
  if (dev && !isLoopback(host) && !cfg.allowDevOnPublicHost)
    return { dev, error: `auth.dev on the non-loopback host ${host} lets anyone claim any user; set auth.allowDevOnPublicHost=true if you mean it` };
  if (!dev && !hasKey) return { dev, error: 'no way to authenticate: set auth.jwt.secret or auth.jwt.publicKey (or auth.dev=true for development)' };
  return { dev };
}
