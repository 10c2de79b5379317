/**
 * Token expiry: the SDK reads `exp` from a JWT's payload — without verifying
 * it, which is the server's job — to refresh the token before it expires.
 */

/** The token's `exp` in ms since epoch, or null when it has none or is not a readable JWT. */
export function tokenExpiry(token: string): number | null {
  const parts = token.split('.');
  if (parts.length !== 3) return null;
  try {
    const payload = JSON.parse(base64UrlDecode(parts[1]!)) as unknown;
    if (typeof payload !== 'object' || payload === null) return null;
    const exp = (payload as { exp?: unknown }).exp;
    return typeof exp === 'number' && Number.isFinite(exp) ? exp * 1000 : null;
  } catch {
    return null;
  }
}

/** Decodes base64url (no padding needed) to a UTF-8 string, with `atob` (browsers and Node ≥ 16). */
export function base64UrlDecode(s: string): string {
  const b64 = s.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(s.length / 4) * 4, '=');
  const binary = atob(b64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return new TextDecoder().decode(bytes);
}

/**
 * How long to wait before refreshing a token that expires at `expiresAt`:
 * `marginMs` before expiry, but the margin is at most a quarter of the
 * remaining lifetime — so a short-lived token is refreshed at 3/4 of its life,
 * not in a tight loop. Never negative.
 */
export function refreshDelay(expiresAt: number, now: number, marginMs = 30_000): number {
  const remaining = expiresAt - now;
  if (remaining <= 0) return 0;
  return Math.max(0, remaining - Math.min(Math.max(0, marginMs), Math.floor(remaining / 4)));
}
