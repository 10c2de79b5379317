/**
 * Writes vectors.json: the golden vectors of protocol version 2, made by the
 * codecs from the cases below. Run it only when the protocol changes on
 * purpose (`npx tsc -p tsconfig.json && node dist/test/golden/protocol-v2/generate.js`),
 * then read the diff: test/unit/codec-v2-golden.test.ts holds the codecs to
 * the file in both directions, and docs/protocol.md quotes it.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { frameOf } from '../../../src/outbound/frame.js';
import { json2Codec } from '../../../src/protocol/json2-codec.js';
import { protoCodec } from '../../../src/protocol/proto-codec.js';
import { delimit } from '../../../src/protocol/delimited.js';
import { encodeClientMessage, type PlainCommand } from '../../../src/protocol/proto-commands.js';
import type { ServerPush } from '../../../src/protocol/pushes.js';
import { v2Meaning, type Vectors } from './vectors.js';

const TS = 1_796_642_671_229; // 2026-12-07T11:24:31.229Z
const SETTINGS = {
  heartbeat: { intervalMs: 25_000, timeoutMs: 10_000 },
  limits: { maxFrameBytes: 65_536, messagesPerSecond: 50, burst: 100, roomsPerSession: 100, maxTextLength: 8_000 },
};
const CAT = { url: '/files/Qm7dEw3x', name: 'cat.png', mime: 'image/png', size: 48_213, width: 640, height: 480 };
const VOICE = { url: '/files/Qm9fKa2b/voice.ogg', mime: 'audio/ogg', size: 31_337, durationMs: 4_250, caption: 'listen' };
const POLL = { question: 'Lunch?', options: ['pizza', 'sushi'], multiple: false };

const pushes: Record<string, ServerPush> = {
  'message-room-text': { type: 'message', id: 'mwvdauct-d241407f-0', room: 'general', seq: 1042, from: 'alice', contentType: 'text', body: 'hello', ts: TS, key: 'c-5f1e' },
  'message-direct-text': { type: 'message', id: 'mwvdaucv-d241407f-1', to: 'bob', seq: 7, from: 'alice', contentType: 'text', body: 'héllo 👋\nbob', ts: TS + 2 },
  'message-room-media': { type: 'message', id: 'mwvdaucw-d241407f-2', room: 'general', seq: 1043, from: 'bob', contentType: 'image', body: CAT, ts: TS + 3 },
  'message-direct-media': { type: 'message', id: 'mwvdaucx-d241407f-3', to: 'alice', seq: 8, from: 'bob', contentType: 'audio', body: VOICE, ts: TS + 4 },
  'message-room-custom': { type: 'message', id: 'mwvdaucy-d241407f-4', room: 'general', seq: 1044, from: 'carol', contentType: 'x-poll', body: POLL, ts: TS + 5 },
  'message-direct-custom': { type: 'message', id: 'mwvdaucz-d241407f-5', to: 'bob', seq: 9, from: 'alice', contentType: 'x-location', body: { lat: 52.52, lon: 13.405 }, ts: TS + 6 },
  connected: { type: 'connected', session: '2kRLE1jsXCqsv1-E', user: 'alice', ...SETTINGS },
  notice: { type: 'notice', from: 'System', text: 'Welcome to Switchboard, alice!', ts: TS },
  'notice-with-data': { type: 'notice', from: 'System', text: '', data: { kind: 'refresh', feed: 42 }, ts: TS + 7 },
  'reply-number-id': { type: 'reply', id: 5, data: { id: 'mwvdauct-d241407f-0', seq: 1042, ts: TS } },
  'reply-string-id': { type: 'reply', id: 'join-1', data: { room: 'general', kind: 'public', durable: true, seq: 1041 } },
  error: { type: 'error', id: 3, code: 'not_joined', message: 'not in room vip' },
  'error-without-id': { type: 'error', code: 'malformed', message: 'a message length (200) past the end of the frame (3 bytes left)' },
  pong: { type: 'pong', id: 2 },
  'pong-without-id': { type: 'pong' },
  'typing-room': { type: 'typing', room: 'general', from: 'bob', active: true },
  'typing-direct': { type: 'typing', to: 'alice', from: 'bob', active: false },
  signal: { type: 'signal', from: 'alice', session: '2kRLE1jsXCqsv1-E', callId: 'call-1', kind: 'offer', data: { sdp: 'v=0\r\no=- 46117 2 IN IP4 127.0.0.1' } },
  'presence-join': { type: 'presence', room: 'general', user: 'bob', event: 'join' },
  'presence-leave': { type: 'presence', room: 'general', user: 'bob', event: 'leave' },
  'left-removed': { type: 'left', room: 'vip', reason: 'removed' },
  'left-deleted': { type: 'left', room: 'vip', reason: 'deleted' },
  unread: {
    type: 'unread',
    conversations: [
      { room: 'general', lastSeq: 1041, readSeq: 1037, unread: 4 },
      { with: 'bob', lastSeq: 9, readSeq: 9, unread: 0 },
    ],
  },
};

const commands: Record<string, PlainCommand> = {
  auth: { type: 'auth', id: 1, token: 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.sig' },
  'auth-resume': { type: 'auth', token: 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.sig', resume: true },
  ping: { type: 'ping', id: 2 },
  join: { type: 'join', id: 'join-1', room: 'general' },
  'join-since': { type: 'join', id: 4, room: 'general', since: 1037 },
  leave: { type: 'leave', id: 5, room: 'vip' },
  'publish-text': { type: 'publish', id: 6, room: 'general', body: 'hello', key: 'c-5f1e' },
  'publish-media': { type: 'publish', id: 7, room: 'general', contentType: 'image', body: CAT },
  'publish-custom': { type: 'publish', id: 8, room: 'general', contentType: 'x-poll', body: POLL },
  send: { type: 'send', id: 's-9', to: 'bob', body: 'héllo 👋\nbob' },
  'send-media': { type: 'send', id: 10, to: 'alice', contentType: 'audio', body: VOICE, key: 'c-77' },
  typing: { type: 'typing', room: 'general', active: true },
  'typing-direct-stop': { type: 'typing', to: 'bob', active: false },
  signal: { type: 'signal', id: 11, to: 'bob', session: '7hQpW2mZx0aLk3-B', callId: 'call-1', kind: 'offer', data: { sdp: 'v=0\r\no=- 46117 2 IN IP4 127.0.0.1' } },
  presence: { type: 'presence', id: 12, room: 'general' },
  rooms: { type: 'rooms', id: 13 },
  history: { type: 'history', id: 14, room: 'general', before: 1000, limit: 50 },
  'history-direct': { type: 'history', id: 15, with: 'bob', after: 3 },
  'sync-seq': { type: 'sync', id: 16, with: 'bob', since: 7 },
  'sync-map': { type: 'sync', id: 17, since: { bob: 7, carol: 0 } },
  read: { type: 'read', room: 'general', seq: 1042 },
  'read-direct': { type: 'read', id: 18, with: 'bob', seq: 9 },
};

const serverFrames: Record<string, string[]> = {
  'one-message': ['message-room-text'],
  'three-pushes': ['message-room-text', 'typing-room', 'presence-join'],
  'reply-and-message': ['reply-number-id', 'message-direct-text'],
};
const clientPayloads: Record<string, string[]> = {
  'auth-and-join': ['auth', 'join'],
  'publish-and-ping': ['publish-text', 'ping'],
};

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const text = (b: Uint8Array): string => Buffer.from(b).toString('utf8');

const vectors: Vectors = {
  comment:
    'Golden vectors of Switchboard protocol version 2 (docs/protocol.md). pushes: what the server encodes (push), what a ' +
    'version 2 client decodes (meaning), the lean JSON text (json, subprotocol switchboard.v2.json) and the size-delimited ' +
    'ServerMessage in hex (proto, switchboard.v2.proto). commands: the command, its JSON text and its size-delimited ' +
    'ClientMessage in hex. serverFrames: whole WebSocket frames in hex. clientPayloads: the payload of a client frame ' +
    '(masked on the wire). Made by generate.ts; checked by test/unit/codec-v2-golden.test.ts.',
  pushes: Object.entries(pushes).map(([name, push]) => ({
    name,
    push,
    meaning: v2Meaning(push),
    json: text(json2Codec.encode(push)),
    proto: hex(protoCodec.encode(push)),
  })),
  commands: Object.entries(commands).map(([name, command]) => ({
    name,
    command,
    json: JSON.stringify(command),
    proto: hex(delimit(encodeClientMessage(command))),
  })),
  serverFrames: Object.entries(serverFrames).map(([name, names]) => ({
    name,
    pushes: names,
    json: hex(frameOf(names.map((n) => json2Codec.encode(pushes[n]!)), 0, names.length, json2Codec)),
    proto: hex(frameOf(names.map((n) => protoCodec.encode(pushes[n]!)), 0, names.length, protoCodec)),
  })),
  clientPayloads: Object.entries(clientPayloads).map(([name, names]) => ({
    name,
    commands: names,
    json: names.map((n) => JSON.stringify(commands[n]!)).join('\n'),
    proto: names.map((n) => hex(delimit(encodeClientMessage(commands[n]!)))).join(''),
  })),
};

const out = fileURLToPath(new URL('../../../../test/golden/protocol-v2/vectors.json', import.meta.url));
writeFileSync(out, `${JSON.stringify(vectors, null, 2)}\n`);
console.log(`wrote ${out}`);
