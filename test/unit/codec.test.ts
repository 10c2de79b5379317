import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connectedEncoder, decodeFrame, encodePush, type DecodedLine } from '../../src/protocol/json-codec.js';
import { checkBody, commandSchemas, describeIssues, isCommandType, MAX_NESTING } from '../../src/protocol/commands.js';
import type { ConnectedPush, ServerPush } from '../../src/protocol/pushes.js';

function decode(text: string | Buffer): DecodedLine[] {
  const out: DecodedLine[] = [];
  decodeFrame(typeof text === 'string' ? Buffer.from(text, 'utf8') : text, (l) => out.push(l));
  return out;
}

function values(lines: DecodedLine[]): unknown[] {
  return lines.map((l) => (l.ok ? l.value : { error: true }));
}

describe('decodeFrame', () => {
  it('reads a single message without a separator', () => {
    assert.deepEqual(decode('{"type":"ping","id":1}'), [{ ok: true, value: { type: 'ping', id: 1 } }]);
  });

  it('splits newline-separated messages in order', () => {
    const frame = ['{"type":"ping","id":1}', '{"type":"join","room":"a"}', '{"type":"rooms"}'].join('\n');
    assert.deepEqual(values(decode(frame)), [{ type: 'ping', id: 1 }, { type: 'join', room: 'a' }, { type: 'rooms' }]);
  });

  it('skips empty and blank lines, leading and trailing newlines', () => {
    const frame = '\n\n{"a":1}\n   \n\t\n{"b":2}\n\n';
    assert.deepEqual(values(decode(frame)), [{ a: 1 }, { b: 2 }]);
    assert.deepEqual(decode(''), []);
    assert.deepEqual(decode('\n'), []);
    assert.deepEqual(decode(' \n \n'), []);
  });

  it('accepts CRLF line ends', () => {
    assert.deepEqual(values(decode('{"a":1}\r\n{"b":2}\r\n')), [{ a: 1 }, { b: 2 }]);
  });

  it('reports invalid JSON per line without spoiling the others', () => {
    const lines = decode('{"a":1}\n{not json\n{"b":2}\n[1,2\n"str"');
    assert.equal(lines.length, 5);
    assert.deepEqual(lines[0], { ok: true, value: { a: 1 } });
    assert.equal(lines[1]!.ok, false);
    assert.ok(!lines[1]!.ok && typeof lines[1]!.error === 'string' && lines[1]!.error.length > 0);
    assert.deepEqual(lines[2], { ok: true, value: { b: 2 } });
    assert.equal(lines[3]!.ok, false);
    assert.deepEqual(lines[4], { ok: true, value: 'str' }, 'any JSON value is decoded; the caller checks the shape');
  });

  it('decodes multi-byte UTF-8 across lines', () => {
    const frame = Buffer.from('{"t":"héllo 👋"}\n{"t":"日本語"}', 'utf8');
    assert.deepEqual(values(decode(frame)), [{ t: 'héllo 👋' }, { t: '日本語' }]);
  });

  it('round-trips what encodePush produces, joined by newlines', () => {
    const pushes: ServerPush[] = [
      { type: 'pong', id: 3 },
      { type: 'message', id: 'm1', room: 'r', seq: 1, from: 'a', contentType: 'text', body: 'line1\nline2', ts: 5 },
    ];
    const frame = Buffer.concat([encodePush(pushes[0]!), Buffer.from('\n'), encodePush(pushes[1]!)]);
    assert.deepEqual(values(decode(frame)), pushes);
  });
});

describe('encodePush', () => {
  it('round-trips every kind of push through JSON', () => {
    const pushes: ServerPush[] = [
      {
        type: 'connected',
        session: 'abc',
        user: 'alice',
        heartbeat: { intervalMs: 25000, timeoutMs: 10000 },
        limits: { maxFrameBytes: 65536, messagesPerSecond: 50, burst: 100, roomsPerSession: 100, maxTextLength: 8000 },
      },
      { type: 'notice', from: 'System', text: 'Welcome', ts: 1 },
      { type: 'reply', id: 'x', data: { a: [1, 2] } },
      { type: 'error', code: 'invalid_request', message: 'bad' },
      { type: 'message', id: 'm', to: 'bob', seq: 7, from: 'alice', contentType: 'x-poll', body: { q: '?', options: ['a', 'b'] }, ts: 2, key: 'k' },
      { type: 'typing', room: 'g', from: 'a', active: false },
      { type: 'signal', from: 'a', session: 's', callId: 'c', kind: 'offer', data: { sdp: 'v=0\r\n' } },
      { type: 'presence', room: 'g', user: 'u', event: 'leave' },
    ];
    for (const p of pushes) {
      const bytes = encodePush(p);
      assert.ok(Buffer.isBuffer(bytes));
      assert.deepEqual(JSON.parse(bytes.toString('utf8')), p);
    }
  });

  it('never emits a raw newline, whatever the content', () => {
    const bytes = encodePush({ type: 'notice', from: 'System', text: 'a\nb\r\nc\u2028d', ts: 1 });
    assert.equal(bytes.indexOf(0x0a), -1);
  });

  it('encodes as UTF-8', () => {
    const bytes = encodePush({ type: 'notice', from: 'System', text: 'é', ts: 1 });
    assert.ok(bytes.includes(Buffer.from([0xc3, 0xa9])));
  });
});

describe('connectedEncoder', () => {
  it('gives the same bytes as encoding the whole push, whatever the user name holds', () => {
    const settings = {
      heartbeat: { intervalMs: 25_000, timeoutMs: 10_000 },
      limits: { maxFrameBytes: 65_536, messagesPerSecond: 50, burst: 100, roomsPerSession: 100, maxTextLength: 4_000 },
    };
    const encode = connectedEncoder(settings);
    for (const user of ['ann', 'quote"back\\slash', 'ünï\u2028cødé 🎉']) {
      const push: ConnectedPush = { type: 'connected', session: 'S3ss10n', user, ...settings };
      assert.equal(encode('S3ss10n', user).toString('utf8'), encodePush(push).toString('utf8'));
    }
  });
});

describe('command schemas', () => {
  it('knows the command types', () => {
    for (const t of ['auth', 'ping', 'join', 'leave', 'publish', 'send', 'typing', 'signal', 'presence', 'rooms']) assert.ok(isCommandType(t), t);
    assert.equal(isCommandType('nope'), false);
    assert.equal(isCommandType('toString'), false, 'no prototype keys');
    assert.equal(isCommandType(undefined), false);
  });

  it('refuses an unknown field such as from, naming it', () => {
    const r = commandSchemas.publish.safeParse({ type: 'publish', room: 'general', body: 'hi', from: 'mallory' });
    assert.equal(r.success, false);
    const msg = describeIssues(r.error!);
    assert.match(msg, /\bfrom\b/);
    assert.match(msg, /unknown/i);
    const s = commandSchemas.send.safeParse({ type: 'send', to: 'bob', body: 'hi', from: 'mallory', extra: 1 });
    assert.equal(s.success, false);
    assert.match(describeIssues(s.error!), /from/);
    for (const type of ['ping', 'rooms'] as const) assert.equal(commandSchemas[type].safeParse({ type, bogus: true }).success, false);
  });

  it('refuses bodies and signal data nested deeper than MAX_NESTING, however deep, without overflowing the stack', () => {
    const nest = (levels: number): unknown => {
      let v: unknown = 'core';
      for (let i = 0; i < levels; i++) v = i % 2 ? [v] : { v };
      return v;
    };
    const publish = (body: unknown) => commandSchemas.publish.safeParse({ type: 'publish', room: 'r', contentType: 'x-deep', body });
    assert.equal(publish(nest(MAX_NESTING)).success, true);
    for (const levels of [MAX_NESTING + 1, 100_000]) {
      const r = publish(nest(levels));
      assert.equal(r.success, false);
      assert.match(describeIssues(r.error!), /body: nested more than 32 levels/);
    }
    const signal = commandSchemas.signal.safeParse({ type: 'signal', to: 'bob', callId: 'c', kind: 'offer', data: nest(1000) });
    assert.equal(signal.success, false);
  });

  it('refuses control characters in keys (PostgreSQL cannot store NUL) and in user ids, and bidirectional overrides in user ids', () => {
    const key = (k: string) => commandSchemas.publish.safeParse({ type: 'publish', room: 'r', body: 'hi', key: k }).success;
    assert.equal(key('k-1'), true);
    for (const k of ['k\u0000', 'k\u0085', 'k\n']) assert.equal(key(k), false, JSON.stringify(k));
    const to = (u: string) => commandSchemas.send.safeParse({ type: 'send', to: u, body: 'hi' }).success;
    assert.equal(to('zoë'), true);
    for (const u of ['a\u0085b', '\u202egpj.exe', 'a\u2066b', 'a\u200fb', 'alice\u200b', '\u3164', 'bo\u00adb', 'x\ufeff']) assert.equal(to(u), false, JSON.stringify(u));
    // Joiners and variation selectors are part of real names and emoji.
    for (const u of ['\u0646\u0627\u0645\u0647\u200c\u0647\u0627', '\u2764\ufe0f', '\ud83d\udc68\u200d\ud83d\udc69\u200d\ud83d\udc67']) assert.equal(to(u), true, JSON.stringify(u));
    // A media body's file name is shown too.
    const named = (name: string) => checkBody('file', { url: '/files/Qm9yZXBsYXk', name }, 8000);
    assert.equal(named('invoice.pdf'), null);
    assert.match(named('invoice_2024\u202efdp.exe') ?? '', /control or invisible/);
  });

  it("sync keeps every partner as sent, __proto__ too, and does not refuse a key that is no user id", () => {
    const r = commandSchemas.sync.safeParse(JSON.parse('{"type":"sync","since":{"__proto__":3,"bob":1,"has space":2}}'));
    assert.ok(r.success);
    assert.deepEqual(Object.keys(r.data.since as object), ['__proto__', 'bob', 'has space']);
    for (const since of ['{"bob":-1}', '{"bob":1.5}', '[1]', 'null']) assert.equal(commandSchemas.sync.safeParse(JSON.parse(`{"type":"sync","since":${since}}`)).success, false, since);
  });

  it('names the bad field in the message', () => {
    const r = commandSchemas.join.safeParse({ type: 'join', room: 'bad room' });
    assert.equal(r.success, false);
    assert.match(describeIssues(r.error!), /^room: /);
    const missing = commandSchemas.join.safeParse({ type: 'join' });
    assert.match(describeIssues(missing.error!), /^room: /);
  });

  it('validates room names', () => {
    const ok = ['general', 'a', 'A-Z_a.z:0-9', 'private:team-42-x', 'x'.repeat(100)];
    const bad = ['', 'x'.repeat(101), 'has space', 'slash/room', 'émoji', 'tab\t', 'new\nline', 'star*', '#hash'];
    for (const room of ok) assert.equal(commandSchemas.join.safeParse({ type: 'join', room }).success, true, room);
    for (const room of bad) assert.equal(commandSchemas.join.safeParse({ type: 'join', room }).success, false, JSON.stringify(room));
    assert.equal(commandSchemas.join.safeParse({ type: 'join', room: 42 }).success, false);
  });

  it('validates request ids', () => {
    const good = [0, 1, 2 ** 53 - 1, 'a', 'x'.repeat(64)];
    const bad = [-1, 1.5, 2 ** 53, '', 'x'.repeat(65), null, true, {}];
    for (const id of good) assert.equal(commandSchemas.ping.safeParse({ type: 'ping', id }).success, true, String(id));
    for (const id of bad) assert.equal(commandSchemas.ping.safeParse({ type: 'ping', id }).success, false, JSON.stringify(id));
    assert.equal(commandSchemas.ping.safeParse({ type: 'ping' }).success, true);
  });

  it('contentType defaults to text and accepts built-in and x- custom types only', () => {
    const base = { type: 'publish', room: 'general', body: 'b' };
    const d = commandSchemas.publish.parse(base);
    assert.equal(d.contentType, 'text');
    for (const contentType of ['text', 'image', 'file', 'audio', 'video', 'x-poll', 'x-a', 'x-my.type_1-2', 'x-' + 'a'.repeat(40)])
      assert.equal(commandSchemas.publish.safeParse({ ...base, contentType }).success, true, contentType);
    for (const contentType of ['', 'poll', 'X-poll', 'x-Poll', 'x-', 'x-.a', 'x-' + 'a'.repeat(41), 'TEXT', 'text/plain', 'y-poll'])
      assert.equal(commandSchemas.publish.safeParse({ ...base, contentType }).success, false, contentType);
    assert.equal(commandSchemas.send.safeParse({ type: 'send', to: 'bob', body: 'b', contentType: 'poll' }).success, false);
  });

  it('validates the key and the recipient', () => {
    const base = { type: 'send', to: 'bob', body: 'b' };
    assert.equal(commandSchemas.send.safeParse({ ...base, key: 'k'.repeat(64) }).success, true);
    assert.equal(commandSchemas.send.safeParse({ ...base, key: 'k'.repeat(65) }).success, false);
    assert.equal(commandSchemas.send.safeParse({ ...base, key: '' }).success, false);
    // Lone surrogates would not come back from the store as they went in; a pair is a character like any other.
    for (const key of ['k-\ud800', '\udc00k', 'a\udbff\ud800']) assert.equal(commandSchemas.send.safeParse({ ...base, key }).success, false, JSON.stringify(key));
    assert.equal(commandSchemas.send.safeParse({ ...base, key: 'k-\ud83d\ude00' }).success, true);
    assert.equal(commandSchemas.send.safeParse({ ...base, to: 'b\ud83d\ude00b' }).success, true);
    assert.equal(commandSchemas.send.safeParse({ ...base, to: 'b\ud83db' }).success, false);
    assert.equal(commandSchemas.send.safeParse({ ...base, to: 'alice@example.com' }).success, true);
    for (const to of ['', 'has space', 'tab\tx', 'nul\u0000', 'x'.repeat(129)])
      assert.equal(commandSchemas.send.safeParse({ ...base, to }).success, false, JSON.stringify(to));
  });

  it('typing needs exactly one of room or to, and active defaults to true', () => {
    assert.deepEqual(commandSchemas.typing.parse({ type: 'typing', room: 'g' }), { type: 'typing', room: 'g', active: true });
    assert.equal(commandSchemas.typing.parse({ type: 'typing', to: 'bob', active: false }).active, false);
    assert.equal(commandSchemas.typing.safeParse({ type: 'typing' }).success, false);
    assert.equal(commandSchemas.typing.safeParse({ type: 'typing', room: 'g', to: 'bob' }).success, false);
    assert.equal(commandSchemas.typing.safeParse({ type: 'typing', room: 'g', from: 'x' }).success, false);
  });

  it('signal kinds are a closed set; data is optional', () => {
    const base = { type: 'signal', to: 'bob', callId: 'c1' };
    for (const kind of ['offer', 'answer', 'candidate', 'hangup', 'ringing', 'reject'])
      assert.equal(commandSchemas.signal.safeParse({ ...base, kind }).success, true, kind);
    assert.equal(commandSchemas.signal.safeParse({ ...base, kind: 'dance' }).success, false);
    assert.equal(commandSchemas.signal.safeParse({ ...base, kind: 'offer', callId: '' }).success, false);
    assert.equal(commandSchemas.signal.safeParse({ ...base, kind: 'offer', data: { sdp: 'x' } }).success, true);
  });

  it('auth needs a non-empty token', () => {
    assert.equal(commandSchemas.auth.safeParse({ type: 'auth', token: 'abc' }).success, true);
    assert.equal(commandSchemas.auth.safeParse({ type: 'auth', token: '' }).success, false);
    assert.equal(commandSchemas.auth.safeParse({ type: 'auth' }).success, false);
  });
});

describe('checkBody', () => {
  it('text: a non-empty string up to maxTextLength', () => {
    assert.equal(checkBody('text', 'hello', 10), null);
    assert.equal(checkBody('text', 'x'.repeat(10), 10), null);
    assert.match(checkBody('text', 'x'.repeat(11), 10) ?? '', /10/);
    assert.notEqual(checkBody('text', '', 10), null);
    assert.notEqual(checkBody('text', undefined, 10), null);
    assert.notEqual(checkBody('text', 42, 10), null);
    assert.notEqual(checkBody('text', { text: 'hi' }, 10), null);
  });

  it('media: an object with a url and optional known fields', () => {
    for (const t of ['image', 'file', 'audio', 'video']) {
      assert.equal(checkBody(t, { url: 'https://x/y.png' }, 10), null, t);
      assert.notEqual(checkBody(t, 'https://x/y.png', 10), null, `${t}: a string is not a media body`);
      assert.notEqual(checkBody(t, undefined, 10), null, t);
    }
    const full = {
      url: 'https://cdn.example.com/a.mp4',
      name: 'a.mp4',
      mime: 'video/mp4',
      size: 1024,
      width: 640,
      height: 480,
      durationMs: 1500,
      caption: 'a long caption that is longer than the text limit',
    };
    assert.equal(checkBody('video', full, 10), null, 'the text limit does not apply to captions');
    assert.match(checkBody('image', {}, 10) ?? '', /^image body: url/);
    assert.notEqual(checkBody('image', { url: '' }, 10), null);
    assert.notEqual(checkBody('image', { url: 'u'.repeat(2049) }, 10), null);
    assert.equal(checkBody('image', { url: 'u'.repeat(2048) }, 10), null);
    assert.notEqual(checkBody('image', { url: 'u', size: -1 }, 10), null);
    assert.notEqual(checkBody('image', { url: 'u', width: 1.5 }, 10), null);
    assert.notEqual(checkBody('image', { url: 'u', size: '10' }, 10), null);
    assert.match(checkBody('file', { url: 'u', evil: true }, 10) ?? '', /evil/, 'unknown media fields are refused by name');
  });

  it('custom types: any JSON value, but a body is required', () => {
    for (const body of [{ q: 'x' }, [1, 2], 'str', 0, false, null]) assert.equal(checkBody('x-poll', body, 1), null, JSON.stringify(body));
    assert.match(checkBody('x-poll', undefined, 1) ?? '', /required/);
  });
});
