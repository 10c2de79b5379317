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
