/**
 * An encoding of the protocol: how a push becomes bytes, how a frame from a
 * client becomes messages, and how several messages share one WebSocket
 * frame. Encoding is a property of the connection, chosen when it connects;
 * the message shapes (commands.ts, pushes.ts, replies.ts) are the same in
 * every encoding: version 1's JSON (json-codec.ts), version 2's lean JSON
 * (json2-codec.ts) and Protobuf (proto-codec.ts, from the one schema
 * `src/protocol/switchboard.proto`), registered in codecs.ts.
 */
import type { ErrorCode } from './codes.js';
import type { ConnectedPush, ServerPush } from './pushes.js';

/** A message of a frame, or why it is none (`code` when the encoding's own error code is not `invalid_json`). */
export type DecodedMessage = { ok: true; value: unknown } | { ok: false; error: string; code?: ErrorCode };

/** The settings every `connected` push of one server carries. */
export type ConnectedSettings = Pick<ConnectedPush, 'heartbeat' | 'limits'>;

export interface Codec {
  /** Its name in logs and metrics; for version 2's encodings also the WebSocket subprotocol that asks for it. */
  readonly name: string;
  /** A small index, unique among the codecs of one process: per-codec state is kept in arrays by it. */
  readonly id: number;
  /** Binary frames (opcode 2) or text frames (opcode 1). */
  readonly binary: boolean;
  /**
   * The byte written between two messages that share a frame, or -1 when each encoded message carries its own
   * length (then messages are simply concatenated).
   */
  readonly separator: number;
  /** One push, as it goes into a frame. Called once per message and codec, whatever the number of recipients. */
  encode(push: ServerPush): Buffer;
  /** The `connected` push of one server's sessions: the settings are encoded once, the session and user per call. */
  connectedEncoder(settings: ConnectedSettings): (session: string, user: string) => Buffer;
  /** Splits a frame from a client into its messages and decodes each; a bad one does not spoil the others. */
  decode(frame: Buffer, onMessage: (message: DecodedMessage) => void): void;
}
