/**
 * An encoding of the protocol: how a push becomes bytes, how a frame from a
 * client becomes messages, and how several messages share one WebSocket
 * frame. Encoding is a property of the connection, chosen when it connects;
 * the message shapes (commands.ts, pushes.ts, replies.ts) are the same in
 * every encoding. JSON (json-codec.ts) is the only one so far. The binary
 * encoding will be generated from one schema file, `src/protocol/switchboard.proto`,
 * written from the shapes in commands.ts, pushes.ts and replies.ts, and
 * registered in codecs.ts beside JSON.
 */
import type { ConnectedPush, ServerPush } from './pushes.js';

export type DecodedMessage = { ok: true; value: unknown } | { ok: false; error: string };

/** The settings every `connected` push of one server carries. */
export type ConnectedSettings = Pick<ConnectedPush, 'heartbeat' | 'limits'>;

export interface Codec {
  /** Its name in configuration, logs and (later) the WebSocket subprotocol. */
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
