/**
 * The Protobuf encoding (subprotocol `switchboard.v2.proto`): binary frames,
 * each message a size-delimited `ServerMessage` or `ClientMessage` of
 * switchboard.proto. Pushes carry the fields of protocol version 2, as the
 * lean JSON (json2-codec.ts) does.
 */
import type { Codec, ConnectedSettings, DecodedMessage } from './codec.js';
import { ErrorCode } from './codes.js';
import { delimit, splitDelimited } from './delimited.js';
import { decodeClientMessage } from './proto-commands.js';
import { encodeServerMessage } from './proto-pushes.js';
import { isPlainText, writeTextMessage } from './proto-message-writer.js';
import type { ServerPush } from './pushes.js';

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
}

export function encodePush(push: ServerPush): Buffer {
  if (push.type === 'message' && isPlainText(push)) return writeTextMessage(push);
  return asBuffer(delimit(encodeServerMessage(push)));
}

/** `connected` is encoded whole for each session: its settings are a few bytes, unlike JSON's field names. */
function connectedEncoder(settings: ConnectedSettings): (session: string, user: string) => Buffer {
  return (session, user) => encodePush({ type: 'connected', session, user, heartbeat: settings.heartbeat, limits: settings.limits });
}

/**
 * Every frame answers at least once: an empty one holds no message and is refused like a bad one (each answer
 * takes a token of the rate limit, so empty frames cannot be sent for free).
 */
function decode(frame: Buffer, onMessage: (message: DecodedMessage) => void): void {
  if (frame.length === 0) return onMessage({ ok: false, code: ErrorCode.Malformed, error: 'an empty frame: a binary frame holds one or more messages' });
  splitDelimited(
    frame,
    (bytes) => {
      let value: unknown;
      try {
        value = decodeClientMessage(bytes);
      } catch (e) {
        return onMessage({ ok: false, code: ErrorCode.Malformed, error: `not a ClientMessage: ${(e as Error).message}` });
      }
      onMessage({ ok: true, value });
    },
    (reason) => onMessage({ ok: false, code: ErrorCode.Malformed, error: reason }),
  );
}

export const protoCodec: Codec = {
  name: 'switchboard.v2.proto',
  id: 2,
  binary: true,
  separator: -1,
  encode: encodePush,
  connectedEncoder,
  decode,
};
