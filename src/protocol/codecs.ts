/**
 * The encodings this server speaks, by the WebSocket subprotocol that asks
 * for each. A connection is given one when it connects; one that offers none
 * of these names (or no subprotocol at all) speaks version 1's JSON, so
 * clients written before version 2 keep working.
 */
import type { Codec } from './codec.js';
import { jsonCodec } from './json-codec.js';
import { json2Codec } from './json2-codec.js';
import { protoCodec } from './proto-codec.js';

export const CODECS: readonly Codec[] = [jsonCodec, json2Codec, protoCodec];

/** What a connection speaks unless it asks for another. */
export const DEFAULT_CODEC: Codec = jsonCodec;

/** Subprotocol names; `json` (version 1) is also `switchboard.v1.json`. */
const BY_SUBPROTOCOL = new Map<string, Codec>([
  ['switchboard.v1.json', jsonCodec],
  [json2Codec.name, json2Codec],
  [protoCodec.name, protoCodec],
]);

export function codecNamed(name: string): Codec | undefined {
  return CODECS.find((c) => c.name === name) ?? BY_SUBPROTOCOL.get(name);
}

/** The first of the client's subprotocols (in its order of preference) this server speaks, if any. */
export function chooseSubprotocol(offered: Iterable<string>): { name: string; codec: Codec } | undefined {
  for (const name of offered) {
    const codec = BY_SUBPROTOCOL.get(name);
    if (codec) return { name, codec };
  }
  return undefined;
}

/** The codec of a connection that agreed on `subprotocol` ('' when none). */
export function codecOfSubprotocol(subprotocol: string): Codec {
  return BY_SUBPROTOCOL.get(subprotocol) ?? DEFAULT_CODEC;
}
