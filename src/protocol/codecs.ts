/** The encodings this server speaks. A connection is given one of them when it connects. */
import type { Codec } from './codec.js';
import { jsonCodec } from './json-codec.js';

export const CODECS: readonly Codec[] = [jsonCodec];

/** What a connection speaks unless it asks for another. */
export const DEFAULT_CODEC: Codec = jsonCodec;

export function codecNamed(name: string): Codec | undefined {
  return CODECS.find((c) => c.name === name);
}
