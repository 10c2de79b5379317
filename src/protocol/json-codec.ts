/**
 * The JSON encoding. A WebSocket text frame carries one or more protocol
 * messages separated by a newline (0x0A); JSON.stringify never emits a raw
 * newline, so the separator cannot occur inside a message. Both directions use
 * the same rule.
 */
import type { Codec, ConnectedSettings, DecodedMessage } from './codec.js';
import type { ServerPush } from './pushes.js';

export const MESSAGE_SEPARATOR = 0x0a;

/** A decoded message of a JSON frame (a line). */
export type DecodedLine = DecodedMessage;

/** Encodes one push. Called once per message, whatever the number of recipients. */
export function encodePush(push: ServerPush): Buffer {
  return Buffer.from(JSON.stringify(push));
}

/**
 * The `connected` push of one server's sessions, whose settings are the same for all: encoded once, and
 * only the session and user are filled in (a connect storm encodes one per session).
 */
export function connectedEncoder(settings: ConnectedSettings): (session: string, user: string) => Buffer {
  const rest = JSON.stringify({ heartbeat: settings.heartbeat, limits: settings.limits }).slice(1);
  return (session, user) => Buffer.from(`{"type":"connected","session":${JSON.stringify(session)},"user":${JSON.stringify(user)},${rest}`);
}

/** Splits a frame into its messages and parses each; a bad line does not spoil the others. */
export function decodeFrame(data: Buffer, onLine: (line: DecodedMessage) => void): void {
  let start = 0;
  const len = data.length;
  while (start < len) {
    let end = data.indexOf(MESSAGE_SEPARATOR, start);
    if (end === -1) end = len;
    if (end > start) {
      const text = data.toString('utf8', start, end);
      if (text.trim() !== '') onLine(parseLine(text));
    }
    start = end + 1;
  }
}

function parseLine(text: string): DecodedMessage {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (e) {
    return { ok: false, error: (e as Error).message };
  }
}

export const jsonCodec: Codec = {
  name: 'json',
  id: 0,
  binary: false,
  separator: MESSAGE_SEPARATOR,
  encode: encodePush,
  connectedEncoder,
  decode: decodeFrame,
};
