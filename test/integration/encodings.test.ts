/**
 * Clients of every encoding in one conversation: version 1's JSON, version 2's lean JSON and Protobuf. Each
 * receives what the others send, in the same order and with the same meaning, in its own encoding; the
 * handshake answers the subprotocol asked for; a frame of the other kind closes the connection with 1003.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { request, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { describe, it } from 'node:test';
import { connectUser, type Encoding, type Msg, type TestClient } from '../helpers/client.js';
import { serverFor } from '../helpers/shared-server.js';

interface Ack {
  id: string;
  seq: number;
  ts: number;
}

/** What a message means to its reader, whatever the encoding left out (lean JSON: contentType text). */
function meaning(m: Msg): Record<string, unknown> {
  return {
    conversation: m.room !== undefined ? { room: m.room } : { to: m.to },
    seq: m.seq,
    from: m.from,
    contentType: m.contentType ?? 'text',
    body: m.body,
    ts: m.ts,
  };
}

const isMessage = (m: Msg) => m.type === 'message';

describe('encodings side by side', () => {
  const server = serverFor(['--auth.dev', 'true']);

  /** jay speaks version 1's JSON, lea the lean JSON, pat Protobuf. */
  async function trio(): Promise<Record<'jay' | 'lea' | 'pat', TestClient>> {
    const [jay, lea, pat] = await Promise.all([
      connectUser(server().wsUrl, 'jay', { encoding: 'json' }),
      connectUser(server().wsUrl, 'lea', { encoding: 'json2' }),
      connectUser(server().wsUrl, 'pat', { encoding: 'proto' }),
    ]);
    return { jay, lea, pat };
  }

  it('answers the subprotocol asked for: none for version 1, switchboard.v2.json, switchboard.v2.proto', async () => {
    const { jay, lea, pat } = await trio();
    assert.equal(jay.ws.protocol, '');
    assert.equal(lea.ws.protocol, 'switchboard.v2.json');
    assert.equal(pat.ws.protocol, 'switchboard.v2.proto');
    // Each speaks its encoding from the first push on.
    for (const c of [jay, lea, pat]) assert.deepEqual(c.garbage, [], c.encoding);
    assert.equal((await pat.waitFor('connected')).user, 'pat');
    // Version 1 asked for by name.
    const named = await connectUser(server().wsUrl, 'nia', { encoding: 'json', protocols: ['switchboard.v1.json'] });
    assert.equal(named.ws.protocol, 'switchboard.v1.json');
    await named.barrier();
    assert.deepEqual(named.garbage, []);
    await Promise.all([jay.close(), lea.close(), pat.close(), named.close()]);
  });

  it('picks the known subprotocol among unknown ones, the first known in the client\'s order', async () => {
    const offers: [string[], Encoding][] = [
      [['chat.example.v9', 'switchboard.v2.proto'], 'proto'],
      [['switchboard.v3.cbor', 'switchboard.v2.json', 'switchboard.v2.proto'], 'json2'],
      [['switchboard.v2.proto', 'switchboard.v2.json'], 'proto'],
    ];
    for (const [protocols, encoding] of offers) {
      // connect refuses a handshake that answers anything but the encoding's subprotocol.
      const c = await connectUser(server().wsUrl, 'offer', { encoding, protocols });
      assert.deepEqual(await c.call({ type: 'rooms' }), { rooms: [] }, JSON.stringify(protocols));
      assert.deepEqual(c.garbage, []);
      await c.close();
    }
  });

  it('room messages from each encoding reach all three in the same order with the same meaning', async () => {
    const { jay, lea, pat } = await trio();
    for (const c of [jay, lea, pat]) await c.call({ type: 'join', room: 'mixed' });
    const image = { url: 'https://example.com/cat.png', name: 'cat.png', mime: 'image/png', size: 48213, width: 640, height: 480 };
    const sent: { from: string; contentType: string; body: unknown; key: string; ack: Ack }[] = [];
    for (const [from, c] of Object.entries({ jay, lea, pat })) {
      for (const [contentType, body] of [
        ['text', `plain text from ${from}, ünïcode ✓`],
        ['image', image],
        ['x-poll', { q: `lunch, ${from}?`, options: ['a', 'b'], nested: { n: 1, ok: true, none: null } }],
      ] as const) {
        const key = `${from}-${contentType}`;
        const ack = await c.call<Ack>({ type: 'publish', room: 'mixed', ...(contentType === 'text' ? {} : { contentType }), body, key });
        // The ack carries the id in every encoding.
        assert.match(ack.id, /./, `${key}: ack id`);
        sent.push({ from, contentType, body, key, ack });
      }
    }
    const expected = sent.map((s) => ({ conversation: { room: 'mixed' }, seq: s.ack.seq, from: s.from, contentType: s.contentType, body: s.body, ts: s.ack.ts }));
    assert.deepEqual(
      expected.map((e) => e.seq),
      [1, 2, 3, 4, 5, 6, 7, 8, 9],
    );
    for (const c of [jay, lea, pat]) {
      await c.waitFor((m) => isMessage(m) && m.seq === 9);
      const got = c.all(isMessage);
      assert.deepEqual(got.map(meaning), expected, `${c.encoding}: every message, in order, as sent`);
      // What each encoding leaves out: version 2 has no id and no key (the ack has them), lean JSON no text contentType.
      for (const [i, m] of got.entries()) {
        const s = sent[i]!;
        if (c.encoding === 'json') assert.deepEqual([m.id, m.key, m.contentType], [s.ack.id, s.key, s.contentType]);
        else assert.deepEqual(['id' in m, 'key' in m], [false, false], `${c.encoding}: ${JSON.stringify(m)}`);
        if (c.encoding === 'json2') assert.equal('contentType' in m, s.contentType !== 'text', JSON.stringify(m));
      }
      assert.deepEqual(c.garbage, [], c.encoding);
    }

    // History answers the same page in every encoding, each message with its id and key.
    const pages = await Promise.all([jay, lea, pat].map((c) => c.call<{ messages: Msg[] }>({ type: 'history', room: 'mixed' })));
    for (const page of pages) {
      assert.deepEqual(page, pages[0]);
      assert.deepEqual(
        page.messages.map((m) => [m.id, m.key, m.seq]),
        sent.map((s) => [s.ack.id, s.key, s.ack.seq]),
      );
      assert.deepEqual(page.messages.map(meaning), expected);
    }
    await Promise.all([jay.close(), lea.close(), pat.close()]);
  });

  it('direct messages and typing cross encodings; acks and DM history carry the id in every encoding', async () => {
    const { jay, lea, pat } = await trio();
    // A second session of each sender, in another encoding: the sender's other sessions get its DMs too.
    const jayToo = await connectUser(server().wsUrl, 'jay', { encoding: 'proto' });
    const dms: [string, TestClient, string, TestClient][] = [
      ['jay', jay, 'pat', pat],
      ['pat', pat, 'lea', lea],
      ['lea', lea, 'jay', jay],
    ];
    for (const [from, sender, to, recipient] of dms) {
      const body = { text: `${from} to ${to}` };
      const ack = await sender.call<Ack>({ type: 'send', to, contentType: 'x-card', body, key: `dm-${from}` });
      assert.equal(ack.seq, 1);
      const want = { conversation: { to }, seq: 1, from, contentType: 'x-card', body, ts: ack.ts };
      const isThis = (m: Msg) => isMessage(m) && m.from === from && m.to === to;
      for (const c of [sender, recipient, ...(from === 'jay' || to === 'jay' ? [jayToo] : [])])
        assert.deepEqual(meaning(await c.next(isThis)), want, `${from} → ${to}, seen by ${c.encoding}`);
      const [h1, h2] = await Promise.all([sender.call<{ messages: Msg[] }>({ type: 'history', with: to }), recipient.call<{ messages: Msg[] }>({ type: 'history', with: from })]);
      assert.deepEqual(h1.messages, h2.messages);
      assert.deepEqual([h1.messages[0]!.id, h1.messages[0]!.key], [ack.id, `dm-${from}`], `${from} → ${to}: stored with its id and key`);
    }

    // Typing in a room and to a user, each encoding to the others.
    for (const c of [jay, lea, pat]) await c.call({ type: 'join', room: 'typing-mixed' });
    for (const [from, c] of Object.entries({ jay, lea, pat })) {
      c.send({ type: 'typing', room: 'typing-mixed' });
      for (const other of [jay, lea, pat].filter((o) => o !== c))
        assert.deepEqual(await other.next((m) => m.type === 'typing' && m.from === from), { type: 'typing', room: 'typing-mixed', from, active: true });
    }
    pat.send({ type: 'typing', to: 'jay', active: false });
    for (const c of [jay, jayToo]) assert.deepEqual(await c.next((m) => m.type === 'typing' && m.from === 'pat'), { type: 'typing', to: 'jay', from: 'pat', active: false });
    for (const c of [jay, lea, pat, jayToo]) assert.deepEqual(c.garbage, [], c.encoding);
    await Promise.all([jay.close(), lea.close(), pat.close(), jayToo.close()]);
  });

  it('closes with 1003 on a frame of the other kind: text on Protobuf, binary on either JSON', async () => {
    const cases: [Encoding, string | Buffer][] = [
      ['proto', JSON.stringify({ type: 'ping', id: 1 })],
      ['json', Buffer.from([0x02, 0x1a, 0x00])],
      ['json2', Buffer.from([0x02, 0x1a, 0x00])],
    ];
    const bystander = await connectUser(server().wsUrl, 'bystander', { encoding: 'proto' });
    for (const [encoding, frame] of cases) {
      const c = await connectUser(server().wsUrl, `wrong-${encoding}`, { encoding });
      c.sendRaw(frame);
      assert.equal((await c.waitClosed()).code, 1003, `${encoding}: ${typeof frame === 'string' ? 'text' : 'binary'} frame`);
      // Nothing but the close came back.
      assert.deepEqual(
        c.messages.map((m) => m.type),
        ['connected', 'notice', 'unread'].slice(0, c.messages.length),
      );
    }
    await bystander.barrier(); // other sessions go on
    await bystander.close();
  });
});

/** The first WebSocket frame in `bytes` from a server (unmasked, under 64 KiB), once all of it is there. */
function firstFrame(bytes: Buffer): { opcode: number; payload: Buffer } | undefined {
  if (bytes.length < 2) return undefined;
  const short = bytes[1]! & 0x7f;
  if (short === 126 && bytes.length < 4) return undefined;
  const [start, length] = short === 126 ? [4, bytes.readUInt16BE(2)] : [2, short];
  return bytes.length < start + length ? undefined : { opcode: bytes[0]! & 0x0f, payload: bytes.subarray(start, start + length) };
}

describe('handshake without a known subprotocol', () => {
  const server = serverFor(['--auth.dev', 'true']);

  it('answers no subprotocol to unknown ones, and the connection speaks version 1', async () => {
    // `ws` fails a handshake that answers none of the subprotocols it offered (RFC 6455 lets a client), so the
    // upgrade is made by hand and the first frame read off the socket.
    const { port } = new URL(server().url);
    const req = request({
      host: '127.0.0.1',
      port,
      path: '/ws?user=old',
      headers: {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': randomBytes(16).toString('base64'),
        'sec-websocket-protocol': 'chat.example.v9, switchboard.v3.cbor',
      },
    });
    req.end();
    const [res, socket, head] = (await once(req, 'upgrade')) as [IncomingMessage, Socket, Buffer];
    try {
      assert.equal(res.statusCode, 101);
      assert.equal(res.headers['sec-websocket-protocol'], undefined);
      let bytes = head;
      let frame: { opcode: number; payload: Buffer } | undefined;
      while (!(frame = firstFrame(bytes))) bytes = Buffer.concat([bytes, (await once(socket, 'data'))[0] as Buffer]);
      assert.equal(frame.opcode, 1, 'a text frame');
      const first = JSON.parse(frame.payload.toString('utf8').split('\n')[0]!) as Msg;
      assert.deepEqual([first.type, first.user], ['connected', 'old']);
    } finally {
      socket.destroy();
    }
  });
});
