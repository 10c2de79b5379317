/**
 * Protobuf bytes written by hand, for tests that need what no encoder writes:
 * fields in another order, unknown fields, non-canonical varints, wrong wire
 * types.
 */

export const VARINT = 0;
export const I64 = 1;
export const LEN = 2;
export const SGROUP = 3;
export const EGROUP = 4;
export const I32 = 5;

/** A varint; `pad` more bytes of continuation make it non-canonical (same value, longer). */
export function varint(value: number | bigint, pad = 0): number[] {
  let v = BigInt(value);
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  for (let i = 0; i < pad; i++) {
    out[out.length - 1]! |= 0x80;
    out.push(0);
  }
  return out;
}

export function tag(field: number, wire: number): number[] {
  return varint(field * 8 + wire);
}

export function lenField(field: number, payload: Uint8Array | number[] | string): number[] {
  const bytes = typeof payload === 'string' ? [...new TextEncoder().encode(payload)] : [...payload];
  return [...tag(field, LEN), ...varint(bytes.length), ...bytes];
}

export function varintField(field: number, value: number | bigint, pad = 0): number[] {
  return [...tag(field, VARINT), ...varint(value, pad)];
}

/** `depth` groups of field `field`, one inside the other. */
export function nestedGroups(field: number, depth: number): number[] {
  const open = tag(field, SGROUP);
  const close = tag(field, EGROUP);
  const out: number[] = [];
  for (let i = 0; i < depth; i++) out.push(...open);
  for (let i = 0; i < depth; i++) out.push(...close);
  return out;
}

/** A length-delimited message with its varint length in front (one message of a binary frame). */
export function delimited(message: number[]): Buffer {
  return Buffer.from([...varint(message.length), ...message]);
}
