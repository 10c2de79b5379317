/**
 * Just enough of Socket.IO's wire for the load generator, spoken over its own WebSocket client (no
 * socket.io-client, no polling): Engine.IO 4 packets, one per WebSocket frame — `0{…}` open (answered by the
 * Socket.IO connect `40`), `2` ping (answered by `3` pong) — and Socket.IO 5 events `42["name",arg]`.
 * bench/socketio-server.ts takes every command as the event `cmd` and sends every push as an event whose
 * argument is the baseline's push object, so once the envelope is stripped the worker reads what it reads
 * from the baseline.
 */
import { clientFrame } from './client.js';

const OPEN = 0x30; // '0'
const MESSAGE = 0x34; // '4': an Engine.IO message, i.e. a Socket.IO packet follows
const PING = 0x32; // '2'
const EVENT = 0x32; // Socket.IO '2' (event), after Engine.IO's '4'
const QUOTE = 0x22;
const CLOSE_BRACKET = 0x5d;

/** The Socket.IO connect packet (default namespace), sent once the Engine.IO open packet arrived. */
export const SIO_CONNECT = clientFrame(Buffer.from('40'));
const PONG = clientFrame(Buffer.from('3'));

/** A command's JSON as the payload of a Socket.IO `cmd` event. */
export const sioCommand = (json: string): string => `42["cmd",${json}]`;

/** Commands as WebSocket frames, one event each (Engine.IO over WebSocket carries one packet per frame), in one buffer. */
export function sioCommandFrames(cmds: object[]): Buffer {
  return Buffer.concat(cmds.map((cmd) => clientFrame(Buffer.from(sioCommand(JSON.stringify(cmd))))));
}

/** What a text frame from a Socket.IO server was, and for an event where its argument lies in the frame. */
export type SioPacket = { kind: 'event'; start: number; end: number } | { kind: 'handled' } | { kind: 'other'; text: string };

/**
 * Reads one Engine.IO packet: answers open and ping itself (`send`), and for an event `42["name",{…}]` gives the
 * bounds of its argument, `{…}`, without copying or parsing it.
 */
export function sioPacket(buf: Buffer, start: number, end: number, send: (frame: Buffer) => void): SioPacket {
  const t = buf[start];
  if (t === OPEN) {
    send(SIO_CONNECT);
    return { kind: 'handled' };
  }
  if (t === PING && end - start === 1) {
    send(PONG);
    return { kind: 'handled' };
  }
  if (t === MESSAGE && buf[start + 1] === EVENT && buf[start + 2] === 0x5b && buf[start + 3] === QUOTE && buf[end - 1] === CLOSE_BRACKET) {
    // The event's name is a plain word here: the argument starts after its closing quote and a comma.
    const q = buf.indexOf(QUOTE, start + 4);
    if (q !== -1 && q + 2 < end - 1 && buf[q + 1] === 0x2c) return { kind: 'event', start: q + 2, end: end - 1 };
  }
  // The connect answer `40{"sid":…}` needs nothing: the server's `connected` event follows it.
  if (t === MESSAGE && buf[start + 1] === OPEN) return { kind: 'handled' };
  return { kind: 'other', text: buf.toString('utf8', start, end) };
}
