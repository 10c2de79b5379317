import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';

/**
 * The TCP socket under a `ws` connection. `ws` has no public accessor for it,
 * but writing pre-built frames straight to it is what lets one frame serve
 * every member of a room (see session/outbox.ts). Kept to this one place so an
 * upgrade of `ws` that renames the field breaks exactly one line.
 */
export function rawSocket(ws: WebSocket): Socket {
  const socket = (ws as unknown as { _socket?: Socket })._socket;
  if (!socket) throw new Error('ws no longer exposes its socket as _socket; update transport/raw-socket.ts');
  return socket;
}

/**
 * What permessage-deflate `ws` negotiated for a connection, when every message is compressed on its own
 * (server_no_context_takeover): deflate's window (server_max_window_bits, 15 unless the client asked for less).
 * Null without compression, or with a shared context, where only `ws` may compress. `ws` keeps the parameters
 * on a private field: read here alone, like the socket.
 */
export function independentDeflateWindow(ws: WebSocket): number | null {
  const ext = (ws as unknown as { _extensions?: Record<string, { params?: Record<string, unknown> } | undefined> })._extensions;
  const params = ext?.['permessage-deflate']?.params;
  if (!params || params.server_no_context_takeover !== true) return null;
  const bits = params.server_max_window_bits;
  // ws raises 8 to 9 for zlib, which refuses a raw window of 8.
  return typeof bits === 'number' ? Math.max(9, bits) : 15;
}
