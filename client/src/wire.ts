/**
 * The encodings of protocol version 2 as the SDK speaks them: how a command
 * becomes bytes on the wire, how commands are packed into frames, and how a
 * frame becomes pushes. The lean JSON (`switchboard.v2.json`) is here; the
 * Protobuf one (`switchboard.v2.proto`, proto-wire.ts) is loaded only when a
 * client asks for it, so that apps on JSON do not carry the Protobuf runtime
 * when their bundler splits code.
 */
import { packFrames, utf8Length, type ParsedFrame } from './frames.js';

export type Encoding = 'json' | 'proto';

/**
 * What a client speaks unless `options.encoding` says otherwise: Protobuf. In the receiver-bound benchmark
 * (docs/benchmarks.md, "The wire") one receiving core decodes 1M deliveries/s of it at p99 under 100 ms, where it
 * holds 0.70-0.76M of the lean JSON, and each delivery is 93 bytes where JSON's is 151.
 */
export const DEFAULT_ENCODING: Encoding = 'proto';

/** The subprotocol that asks the server for each encoding. */
export const SUBPROTOCOLS: Readonly<Record<Encoding, string>> = {
  json: 'switchboard.v2.json',
  proto: 'switchboard.v2.proto',
};

/** One encoded command, or one frame: text for JSON, bytes for Protobuf. */
export type WireData = string | Uint8Array;

export interface Wire {
  readonly encoding: Encoding;
  /** One command as it goes into a frame. */
  encode(cmd: Record<string, unknown>): WireData;
  /** Bytes `encoded` takes in a frame. */
  size(encoded: WireData): number;
  /** Encoded commands into as few frames of at most `maxBytes` as they fit in, in order. */
  pack(encoded: readonly WireData[], maxBytes: number): WireData[];
}

export const jsonWire: Wire = {
  encoding: 'json',
  encode: (cmd) => JSON.stringify(cmd),
  size: (line) => utf8Length(line as string),
  pack: (lines, maxBytes) => packFrames(lines as string[], maxBytes),
};

/** Reads binary frames: Protobuf's pushes (proto-wire.ts). */
export type BinaryDecoder = (frame: Uint8Array) => ParsedFrame;

type ProtoModule = { protoWire: Wire; parseBinaryFrame: BinaryDecoder };
let protoModule: Promise<ProtoModule> | null = null;

/**
 * The Protobuf wire, loaded on first use: a literal specifier, so bundlers
 * include it, and those that split code put it (and @bufbuild/protobuf) in a
 * chunk of its own.
 */
export function loadProto(): Promise<ProtoModule> {
  protoModule ??= import('./proto-wire.js').catch((err: unknown) => {
    protoModule = null;
    throw err;
  });
  return protoModule;
}

/** The wire a connection speaks, by the subprotocol the server answered: anything but Protobuf's name is JSON (none: version 1's JSON, which the JSON wire reads as well). */
export function wireOfSubprotocol(answered: string, proto: ProtoModule | null): Wire {
  return answered === SUBPROTOCOLS.proto && proto ? proto.protoWire : jsonWire;
}
