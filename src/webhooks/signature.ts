/**
 * Signing as Stripe and GitHub do: `Switchboard-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret,
 * "<t>.<raw body>")>`. The timestamp is signed with the body, so a receiver that also checks that `t` is recent
 * refuses a delivery replayed later.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'switchboard-signature';

/** Hex HMAC-SHA256 of `${t}.${body}`. */
export function signature(secret: string, t: number, body: string): string {
  return createHmac('sha256', secret).update(`${t}.${body}`).digest('hex');
}

/** The header's value for a delivery attempted at `nowMs`. */
export function signatureHeader(secret: string, body: string, nowMs: number): string {
  const t = Math.floor(nowMs / 1000);
  return `t=${t},v1=${signature(secret, t, body)}`;
}

/**
 * What a receiver does (docs/api.md shows the same in a few lines): true if one `v1` of the header is the body's
 * signature, compared in constant time, and `t` is within `toleranceSeconds` of now.
 */
export function verifySignature(header: string, body: string, secret: string, nowMs: number, toleranceSeconds = 300): boolean {
  let t = NaN;
  const candidates: string[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === 't') t = Number(value);
    else if (key === 'v1') candidates.push(value);
  }
  if (!Number.isInteger(t) || Math.abs(nowMs / 1000 - t) > toleranceSeconds) return false;
  const expected = Buffer.from(signature(secret, t, body), 'hex');
  return candidates.some((c) => {
    const given = Buffer.from(c, 'hex');
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}
