/** The shape of vectors.json (see generate.ts), and how to read it. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { PlainCommand } from '../../../src/protocol/proto-commands.js';
import type { MessagePush, ServerPush } from '../../../src/protocol/pushes.js';

export interface PushVector {
  name: string;
  /** What the server encodes. */
  push: ServerPush;
  /** What a version 2 client decodes from either encoding (a `message` push without `id` and `key`). */
  meaning: ServerPush | V2Message;
  /** The lean JSON (switchboard.v2.json), as text. */
  json: string;
  /** The size-delimited ServerMessage (switchboard.v2.proto), in hex. */
  proto: string;
}
export interface CommandVector {
  name: string;
  command: PlainCommand;
  json: string;
  /** The size-delimited ClientMessage, in hex. */
  proto: string;
}
export interface FrameVector {
  name: string;
  /** Names of the pushes in the frame, in order. */
  pushes: string[];
  /** The whole WebSocket frame, in hex. */
  json: string;
  proto: string;
}
export interface PayloadVector {
  name: string;
  commands: string[];
  /** The payload (a client masks it in the frame): JSON text, and Protobuf in hex. */
  json: string;
  proto: string;
}
export interface Vectors {
  comment: string;
  pushes: PushVector[];
  commands: CommandVector[];
  serverFrames: FrameVector[];
  clientPayloads: PayloadVector[];
}

/** A `message` push as version 2 carries it. */
export type V2Message = Omit<MessagePush, 'id' | 'key'>;

/** What version 2 keeps of a push: a `message` loses its id and key (docs/protocol.md, "Version 2"). */
export function v2Meaning(push: ServerPush): ServerPush | V2Message {
  if (push.type !== 'message') return push;
  const { id: _id, key: _key, ...rest } = push;
  return rest;
}

export function loadVectors(): Vectors {
  const file = fileURLToPath(new URL('../../../../test/golden/protocol-v2/vectors.json', import.meta.url));
  return JSON.parse(readFileSync(file, 'utf8')) as Vectors;
}
