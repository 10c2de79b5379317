/**
 * The Socket.IO 4 target: what a Node developer gets from Socket.IO with its
 * default settings, doing what the baseline hub does (bench/baseline-server.ts)
 * so that one load generator measures both. Rooms are Socket.IO rooms
 * (`socket.join`), a publish is `io.to(room).emit(...)`, a direct message goes
 * to a room per user (every session of the recipient and of the sender; the
 * union of the two rooms is delivered once per socket, as Socket.IO does).
 *
 * Commands arrive as one event, `cmd`, carrying the same command objects the
 * baseline reads (`join`, `leave`, `publish`, `send`, `ping`, with an optional
 * `id`); every push goes out as an event named by its type whose argument is
 * the baseline's push object, so `42["message",{"type":"message",…}]` carries
 * exactly the JSON the baseline sends as a frame. Identity is `?user=` in the
 * handshake query.
 *
 *   node dist/bench/socketio-server.js --port 0 [--host 127.0.0.1]
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { Numbering, arg } from './hub-helpers.js';

interface Command {
  type?: string;
  id?: number | string;
  room?: string;
  to?: string;
  body?: unknown;
  contentType?: string;
}

const host = arg('host', '127.0.0.1');
const port = Number(arg('port', '8090'));
const numbering = new Numbering();
// Prefixes keep a room called like a user apart from that user's own room.
const roomKey = (name: string): string => `r:${name}`;
const userKey = (user: string): string => `u:${user}`;

const http = createServer((_req, res) => {
  res.writeHead(426).end();
});
// Default settings, as the issue asks: nothing here changes Socket.IO's behaviour.
const io = new Server(http);

io.on('connection', (socket) => {
  const user = socket.handshake.query['user'];
  if (typeof user !== 'string' || !user) {
    socket.emit('error', { type: 'error', code: 'no_user', message: 'no user' });
    socket.disconnect(true);
    return;
  }
  void socket.join(userKey(user));
  socket.emit('connected', { type: 'connected', session: randomBytes(12).toString('base64url'), user });

  socket.on('cmd', (msg: Command) => {
    if (!msg || typeof msg !== 'object') {
      socket.emit('error', { type: 'error', code: 'invalid_json', message: 'not an object' });
      return;
    }
    const reply = (data: unknown): void => {
      if (msg.id !== undefined) socket.emit('reply', { type: 'reply', id: msg.id, data });
    };
    switch (msg.type) {
      case 'join': {
        const name = String(msg.room);
        void socket.join(roomKey(name));
        reply({ room: name, kind: 'public', seq: numbering.seq(`r:${name}`) });
        break;
      }
      case 'leave': {
        const name = String(msg.room);
        void socket.leave(roomKey(name));
        reply({ room: name });
        break;
      }
      case 'publish': {
        const name = String(msg.room);
        if (!socket.rooms.has(roomKey(name))) {
          socket.emit('error', { type: 'error', id: msg.id, code: 'not_joined', message: `join room ${name} first` });
          break;
        }
        const push = numbering.roomMessage(name, user, msg.body, msg.contentType);
        io.to(roomKey(name)).emit('message', push);
        reply({ id: push.id, seq: push.seq, ts: push.ts });
        break;
      }
      case 'send': {
        const to = String(msg.to);
        const push = numbering.directMessage(user, to, msg.body, msg.contentType);
        io.to(userKey(to)).to(userKey(user)).emit('message', push);
        reply({ id: push.id, seq: push.seq, ts: push.ts });
        break;
      }
      case 'ping':
        socket.emit('pong', msg.id === undefined ? { type: 'pong' } : { type: 'pong', id: msg.id });
        break;
      default:
        socket.emit('error', { type: 'error', id: msg.id, code: 'unknown_type', message: `unknown type ${String(msg.type)}` });
    }
  });
});

http.listen(port, host, () => {
  const p = (http.address() as AddressInfo).port;
  process.stdout.write(JSON.stringify({ level: 30, msg: 'socket.io listening', url: `http://${host}:${p}`, ws: `ws://${host}:${p}/socket.io/?EIO=4&transport=websocket` }) + '\n');
});

const stop = (): void => {
  io.disconnectSockets(true);
  http.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
