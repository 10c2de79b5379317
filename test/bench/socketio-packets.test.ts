/**
 * The load generator's side of Socket.IO (bench/load/socketio.ts): it answers the Engine.IO open and ping
 * packets itself, and finds an event's argument in the frame without parsing it — what lets one generator
 * read Socket.IO's pushes as it reads the baseline's.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sioCommandFrames, sioPacket } from '../../bench/load/socketio.js';

/** The payload of a client frame as clientFrame builds it (short payloads: 2 header bytes and a zero mask). */
const payloadOf = (frame: Buffer): string => frame.subarray(6).toString();

function read(text: string): { packet: ReturnType<typeof sioPacket>; sent: string[]; buf: Buffer } {
  const sent: string[] = [];
  // Surrounded by other bytes, as a frame is inside the worker's read buffer.
  const buf = Buffer.from(`xx${text}yy`);
  const packet = sioPacket(buf, 2, 2 + Buffer.byteLength(text), (f) => sent.push(payloadOf(f)));
  return { packet, sent, buf };
}

test('the Engine.IO open packet is answered by the Socket.IO connect, a ping by a pong', () => {
  const open = read('0{"sid":"abc","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}');
  assert.deepEqual(open.packet, { kind: 'handled' });
  assert.deepEqual(open.sent, ['40']);
  const ping = read('2');
  assert.deepEqual(ping.packet, { kind: 'handled' });
  assert.deepEqual(ping.sent, ['3']);
  const connected = read('40{"sid":"xyz"}');
  assert.deepEqual(connected.packet, { kind: 'handled' });
  assert.deepEqual(connected.sent, []);
});

test("an event's argument is found in place: the baseline's push, byte for byte", () => {
  const push = '{"type":"message","id":"a-1","room":"r","seq":1,"from":"u","contentType":"text","body":"@000000000000001 x","ts":1}';
  const { packet, buf } = read(`42["message",${push}]`);
  assert.equal(packet.kind, 'event');
  if (packet.kind !== 'event') return;
  assert.equal(buf.toString('utf8', packet.start, packet.end), push);
});

test('anything else is handed back as text, to be reported', () => {
  const { packet, sent } = read('41');
  assert.deepEqual(packet, { kind: 'other', text: '41' });
  assert.deepEqual(sent, []);
});

test('commands go out as one cmd event per WebSocket frame', () => {
  const frames = sioCommandFrames([
    { type: 'join', id: 1, room: 'a' },
    { type: 'join', id: 2, room: 'b' },
  ]);
  const first = '42["cmd",{"type":"join","id":1,"room":"a"}]';
  const second = '42["cmd",{"type":"join","id":2,"room":"b"}]';
  assert.equal(frames.length, 2 * 6 + Buffer.byteLength(first) + Buffer.byteLength(second));
  assert.equal(frames.subarray(6, 6 + first.length).toString(), first);
  assert.equal(frames.subarray(12 + first.length).toString(), second);
});
