/**
 * Free-form values in the binary encoding (a custom body, `data` of a signal,
 * notice or reply) travel as the UTF-8 bytes of their JSON: the schema cannot
 * know their shape, and a client gets the same value as over JSON.
 */
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export function toJsonBytes(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

/** Throws on bytes that are not UTF-8 JSON. */
export function fromJsonBytes(bytes: Uint8Array): unknown {
  return JSON.parse(decoder.decode(bytes)) as unknown;
}
