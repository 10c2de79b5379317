/**
 * The naive baseline: a plain `ws` hub of the kind the seed articles build.
 * Rooms and direct messages, the same wire format as Switchboard's pushes
 * (so one load generator reads both), and for every message one
 * `JSON.stringify` followed by `ws.send` to each recipient in a loop: no
 * batching, no shared frames, the library frames and writes per recipient.
 *
 * With `--bare` a room message goes out as its body alone (the text, no JSON
 * around it): the hub of the wire benchmark (bench/wire.ts), which shows what
 * a receiver pays for an envelope by having none.
 *
 * It speaks just enough of the protocol for the benchmark: `?user=` identity,
 * `connected`, `join`/`leave` with replies, `publish`, `send` (DM to every
 * session of the recipient and of the sender), `ping`. Several
 * newline-separated messages per frame are accepted, as the protocol says.
 *
 *   node dist/bench/baseline-server.js --port 0 [--host 127.0.0.1] [--bare]
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { Numbering, arg } from './hub-helpers.js';

interface Client {
  ws: WebSocket;
  user: string;
  rooms: Set<string>;
}

const host = arg('host', '127.0.0.1');
const port = Number(arg('port', '8090'));
const bare = process.argv.includes('--bare');
const users = new Map<string, Set<Client>>();
const rooms = new Map<string, Set<Client>>();
const numbering = new Numbering();

const http = createServer((_req, res) => {
  res.writeHead(426).end();
});
const wss = new WebSocketServer({ server: http, path: '/ws', maxPayload: 64 * 1024 });

wss.on('connection', (ws, req) => {
  const user = new URL(req.url ?? '/', 'http://x').searchParams.get('user');
  if (!user) {
    ws.close(4001, 'no user');
    return;
  }
  const me: Client = { ws, user, rooms: new Set() };
  let mine = users.get(user);
  if (!mine) users.set(user, (mine = new Set()));
  mine.add(me);
  ws.send(JSON.stringify({ type: 'connected', session: randomBytes(12).toString('base64url'), user }));

  ws.on('message', (data) => {
    for (const line of data.toString().split('\n')) {
      if (!line) continue;
      let msg: { type?: string; id?: number | string; room?: string; to?: string; body?: unknown; contentType?: string };
      try {
        msg = JSON.parse(line) as typeof msg;
      } catch {
        ws.send(JSON.stringify({ type: 'error', code: 'invalid_json', message: 'not JSON' }));
        continue;
      }
      const reply = (data: unknown): void => {
        if (msg.id !== undefined) ws.send(JSON.stringify({ type: 'reply', id: msg.id, data }));
      };
      switch (msg.type) {
        case 'join': {
          const name = String(msg.room);
          let room = rooms.get(name);
          if (!room) rooms.set(name, (room = new Set()));
          room.add(me);
          me.rooms.add(name);
          reply({ room: name, kind: 'public', seq: numbering.seq(`r:${name}`) });
          break;
        }
        case 'leave': {
          const name = String(msg.room);
          rooms.get(name)?.delete(me);
          me.rooms.delete(name);
          reply({ room: name });
          break;
        }
        case 'publish': {
          const name = String(msg.room);
          const room = rooms.get(name);
          if (!room || !me.rooms.has(name)) {
            ws.send(JSON.stringify({ type: 'error', id: msg.id, code: 'not_joined', message: `join room ${name} first` }));
            break;
          }
          const push = numbering.roomMessage(name, user, msg.body, msg.contentType);
          const text = bare ? String(msg.body) : JSON.stringify(push);
          for (const c of room) c.ws.send(text);
          reply({ id: push.id, seq: push.seq, ts: push.ts });
          break;
        }
        case 'send': {
          const to = String(msg.to);
          const push = numbering.directMessage(user, to, msg.body, msg.contentType);
          const text = JSON.stringify(push);
          for (const c of users.get(to) ?? []) c.ws.send(text);
          if (to !== user) for (const c of users.get(user) ?? []) c.ws.send(text);
          reply({ id: push.id, seq: push.seq, ts: push.ts });
          break;
        }
        case 'ping':
          ws.send(JSON.stringify(msg.id === undefined ? { type: 'pong' } : { type: 'pong', id: msg.id }));
          break;
        default:
          ws.send(JSON.stringify({ type: 'error', id: msg.id, code: 'unknown_type', message: `unknown type ${String(msg.type)}` }));
      }
    }
  });

  ws.on('close', () => {
    mine!.delete(me);
    if (mine!.size === 0) users.delete(user);
    for (const name of me.rooms) {
      const room = rooms.get(name);
      room?.delete(me);
      if (room?.size === 0) rooms.delete(name);
    }
  });
  ws.on('error', () => {});
});

http.listen(port, host, () => {
  const p = (http.address() as AddressInfo).port;
  process.stdout.write(JSON.stringify({ level: 30, msg: 'baseline listening', url: `http://${host}:${p}`, ws: `ws://${host}:${p}/ws` }) + '\n');
});

const stop = (): void => {
  for (const set of users.values()) for (const c of set) c.ws.terminate();
  http.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
