/**
 * Media: POST /upload stores a file for its uploader; GET /files/<id> serves it
 * to the uploader and to members of a conversation that has a message
 * referring to it (404 for everyone else), with byte ranges. Authenticated
 * like the WebSocket; size and type limits are enforced.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { existsSync, mkdirSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { join } from 'node:path';
import { closeAllClients, connectUser } from '../helpers/client.js';
import { sqliteFlags, tempDir } from '../helpers/durable.js';
import { makeToken, TEST_SECRET } from '../helpers/jwt.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { serverFor } from '../helpers/shared-server.js';

/** A valid 1×1 PNG. */
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64');

interface Uploaded {
  id: string;
  url: string;
  name: string;
  mime: string;
  size: number;
}

async function upload(srv: TestServer, query: string, body: Buffer, type: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${srv.url}/upload?${query}`, { method: 'POST', body, headers: { 'content-type': type, ...headers } });
}

async function download(srv: TestServer, url: string, query: string, headers: Record<string, string> = {}): Promise<{ res: Response; bytes: Buffer }> {
  const res = await fetch(`${srv.url}${url}${query ? `?${query}` : ''}`, { headers });
  return { res, bytes: Buffer.from(await res.arrayBuffer()) };
}

describe('uploads', () => {
  const server = serverFor(['--auth.dev', 'true', '--auth.jwt.secret', TEST_SECRET]);

  it('uploads a PNG, shares it in a DM, and serves it to the uploader and the recipient only', async () => {
    const res = await upload(server(), 'name=dot.png&user=alice', PNG, 'image/png');
    assert.equal(res.status, 201);
    const up = (await res.json()) as Uploaded;
    assert.match(up.id, /^[A-Za-z0-9_-]{8,64}$/);
    assert.deepEqual(up, { id: up.id, url: `/files/${up.id}`, name: 'dot.png', mime: 'image/png', size: PNG.length });

    // The uploader can read it at once; bob cannot until a message of his refers to it.
    const own = await download(server(), up.url, 'user=alice');
    assert.equal(own.res.status, 200);
    assert.deepEqual(own.bytes, PNG);
    assert.equal((await download(server(), up.url, 'user=bob')).res.status, 404);

    const alice = await connectUser(server().wsUrl, 'alice');
    const bob = await connectUser(server().wsUrl, 'bob');
    const body = { url: up.url, name: up.name, mime: up.mime, size: up.size };
    await alice.call({ type: 'send', to: 'bob', contentType: 'image', body });
    const msg = await bob.next((m) => m.type === 'message' && m.contentType === 'image');
    assert.deepEqual(msg.body, body);

    const got = await download(server(), String((msg.body as Uploaded).url), 'user=bob');
    assert.equal(got.res.status, 200);
    assert.deepEqual(got.bytes, PNG);
    assert.equal(got.res.headers.get('content-type'), 'image/png');
    assert.equal(got.res.headers.get('content-length'), String(PNG.length));
    assert.equal(got.res.headers.get('accept-ranges'), 'bytes');
    assert.equal(got.res.headers.get('x-content-type-options'), 'nosniff');

    // Not a party of the conversation: indistinguishable from a missing file.
    const carol = await download(server(), up.url, 'user=carol');
    assert.equal(carol.res.status, 404);
    assert.equal((await download(server(), '/files/AAAAAAAAAAAAAAAAAAAAAA', 'user=alice')).res.status, 404);

    // Byte ranges.
    const part = await download(server(), up.url, 'user=bob', { range: 'bytes=2-5' });
    assert.equal(part.res.status, 206);
    assert.equal(part.res.headers.get('content-range'), `bytes 2-5/${PNG.length}`);
    assert.equal(part.res.headers.get('content-length'), '4');
    assert.deepEqual(part.bytes, PNG.subarray(2, 6));
    const tail = await download(server(), up.url, 'user=bob', { range: 'bytes=-8' });
    assert.equal(tail.res.status, 206);
    assert.deepEqual(tail.bytes, PNG.subarray(PNG.length - 8));
    const open = await download(server(), up.url, 'user=bob', { range: `bytes=${PNG.length - 3}-` });
    assert.equal(open.res.status, 206);
    assert.deepEqual(open.bytes, PNG.subarray(PNG.length - 3));
    const beyond = await download(server(), up.url, 'user=bob', { range: `bytes=${PNG.length + 10}-` });
    assert.equal(beyond.res.status, 416);
    assert.equal(beyond.res.headers.get('content-range'), `bytes */${PNG.length}`);
    await Promise.all([alice.close(), bob.close()]);
  });

  it('serves a file shared in a room to the room members only', async () => {
    const up = (await (await upload(server(), 'name=notes.txt&user=ann', Buffer.from('meeting notes\n'), 'text/plain; charset=utf-8')).json()) as Uploaded;
    assert.equal(up.mime, 'text/plain');
    const ann = await connectUser(server().wsUrl, 'ann');
    const dave = await connectUser(server().wsUrl, 'dave');
    await dave.call({ type: 'join', room: 'gallery' });
    await ann.call({ type: 'join', room: 'gallery' });
    await ann.call({ type: 'publish', room: 'gallery', contentType: 'file', body: { url: up.url, name: up.name, mime: up.mime, size: up.size } });
    const got = await download(server(), up.url, 'user=dave');
    assert.equal(got.res.status, 200);
    assert.equal(got.bytes.toString(), 'meeting notes\n');
    assert.match(String(got.res.headers.get('content-disposition')), /^attachment;/);
    assert.equal((await download(server(), up.url, 'user=eve')).res.status, 404);
    await Promise.all([ann.close(), dave.close()]);
  });

  it('does not let someone who only knows a file id share it with themselves', async () => {
    const up = (await (await upload(server(), 'name=secret.png&user=owner', PNG, 'image/png')).json()) as Uploaded;
    const eve = await connectUser(server().wsUrl, 'eve');
    const body = { url: up.url, name: up.name, mime: up.mime, size: up.size };
    const selfDm = await eve.request({ type: 'send', to: 'eve', contentType: 'image', body });
    assert.equal(selfDm.type, 'error');
    assert.equal(selfDm.code, 'forbidden');
    await eve.call({ type: 'join', room: 'eve-only' });
    assert.equal((await eve.request({ type: 'publish', room: 'eve-only', contentType: 'image', body })).code, 'forbidden');
    assert.equal((await download(server(), up.url, 'user=eve')).res.status, 404);
    // Nor by a path that is not exactly /files/<id>[/<name>] (it would also send readers' browsers anywhere on the site).
    for (const url of [`/files/./${up.id}`, `/files/${up.id}?x=1`, '/files/../../bank/transfer?to=eve'])
      assert.equal((await eve.request({ type: 'publish', room: 'eve-only', contentType: 'image', body: { ...body, url } })).code, 'invalid_request', url);
    // Nothing of the refused messages was stored.
    assert.deepEqual((await eve.call({ type: 'history', with: 'eve' })) as { messages: unknown[] }, { with: 'eve', messages: [], oldestSeq: 0, lastSeq: 0, hasMore: false });
    await eve.close();
  });

  it('authenticates like the WebSocket: Bearer header or ?token=; nothing at all is 401', async () => {
    const token = await makeToken('tina');
    const viaHeader = await upload(server(), 'name=a.png', PNG, 'image/png', { authorization: `Bearer ${token}` });
    assert.equal(viaHeader.status, 201);
    const up = (await viaHeader.json()) as Uploaded;
    assert.equal((await download(server(), up.url, '', { authorization: `Bearer ${token}` })).res.status, 200);
    assert.equal((await download(server(), up.url, `token=${encodeURIComponent(token)}`)).res.status, 200);
    assert.equal((await upload(server(), `name=b.png&token=${encodeURIComponent(token)}`, PNG, 'image/png')).status, 201);

    const anonymous = await upload(server(), 'name=c.png', PNG, 'image/png');
    assert.equal(anonymous.status, 401);
    assert.equal(((await anonymous.json()) as { error: string }).error, 'unauthorized');
    assert.equal((await download(server(), up.url, '')).res.status, 401);
    assert.equal((await upload(server(), 'name=d.png', PNG, 'image/png', { authorization: 'Bearer not-a-token' })).status, 401);
    assert.equal((await download(server(), up.url, '', { authorization: `Bearer ${await makeToken('tina', { secret: 'another-secret-0123456789-abcdef' })}` })).res.status, 401);
  });

  it('refuses a type that is not allowed with 415', async () => {
    const res = await upload(server(), 'name=setup.exe&user=alice', Buffer.from('MZ\x90\x00'), 'application/x-msdownload');
    assert.equal(res.status, 415);
    assert.equal(((await res.json()) as { error: string }).error, 'unsupported_type');
    // An allowed type with more after it is not that type.
    for (const type of ['image/png, text/html', 'image/png text/html', 'image/'])
      assert.equal((await upload(server(), 'name=x.png&user=alice', PNG, type)).status, 415, type);
  });

  it('refuses a name with control characters or a bidirectional override (`\u202egpj.exe` shows as "exe.jpg") with 400', async () => {
    for (const name of ['a\u0085b.png', '\u202egpj.exe', 'a\u007f.png']) {
      const res = await upload(server(), `name=${encodeURIComponent(name)}&user=alice`, PNG, 'image/png');
      assert.equal(res.status, 400, JSON.stringify(name));
      assert.equal(((await res.json()) as { error: string }).error, 'invalid_name');
    }
  });
});

describe('uploads: size limit', () => {
  it('refuses more than uploads.maxBytes with 413, declared or streamed, and keeps nothing', async (t) => {
    const dir = tempDir(t);
    const srv = await startServer(['--auth.dev', 'true', '--uploads.maxBytes', '1024', ...sqliteFlags(dir)], { t });
    const big = Buffer.alloc(4096, 7);
    const declared = await upload(srv, 'name=big.png&user=alice', big, 'image/png');
    assert.equal(declared.status, 413);
    assert.equal(((await declared.json()) as { error: string }).error, 'too_large');

    // No Content-Length: the server counts while it reads.
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 4; i++) controller.enqueue(new Uint8Array(big.subarray(i * 1024, (i + 1) * 1024)));
        controller.close();
      },
    });
    const streamed = await fetch(`${srv.url}/upload?name=big.png&user=alice`, {
      method: 'POST',
      body: stream,
      headers: { 'content-type': 'image/png' },
      duplex: 'half',
    } as RequestInit & { duplex: 'half' });
    assert.equal(streamed.status, 413);

    // Exactly the limit is fine.
    const atLimit = await upload(srv, 'name=ok.png&user=alice', big.subarray(0, 1024), 'image/png');
    assert.equal(atLimit.status, 201);
    const ok = (await atLimit.json()) as Uploaded;
    assert.equal(ok.size, 1024);
    assert.equal((await download(srv, ok.url, 'user=alice')).bytes.length, 1024);

    // Only the accepted file is on disk: refused uploads leave no partial file behind.
    const files = readdirSync(join(dir, 'uploads'), { recursive: true, withFileTypes: true }).filter((e) => e.isFile());
    assert.deepEqual(files.map((e) => e.name), [ok.id]);
    assert.equal(await srv.stop(), 0);
  });
});

describe('uploads: uploads.userBytesPerHour', () => {
  it('refuses a user who uploaded an hour’s worth with 429 and Retry-After; others go on', async (t) => {
    const dir = tempDir(t);
    const srv = await startServer(['--auth.dev', 'true', '--uploads.userBytesPerHour', '1000', ...sqliteFlags(dir)], { t });
    const file = Buffer.alloc(800, 1);
    assert.equal((await upload(srv, 'name=a.bin&user=hog', file, 'application/octet-stream')).status, 201);
    assert.equal((await upload(srv, 'name=b.bin&user=hog', file, 'application/octet-stream')).status, 201, 'one file may go over');
    const refused = await upload(srv, 'name=c.bin&user=hog', file, 'application/octet-stream');
    assert.equal(refused.status, 429);
    assert.equal(((await refused.json()) as { error: string }).error, 'rate_limited');
    assert.ok(Number(refused.headers.get('retry-after')) > 0);
    assert.equal((await upload(srv, 'name=d.bin&user=other', file, 'application/octet-stream')).status, 201);
  });
});

describe('uploads: a stalled upload', () => {
  it('is dropped after uploads.idleTimeoutMs, and its partial file removed', async (t) => {
    const dir = tempDir(t);
    const srv = await startServer(['--auth.dev', 'true', '--uploads.idleTimeoutMs', '1000', '--log.level', 'debug', ...sqliteFlags(dir)], { t });
    const t0 = Date.now();
    await new Promise<void>((resolve, reject) => {
      const socket = netConnect(srv.port, '127.0.0.1', () =>
        socket.write('POST /upload?name=big.bin&user=alice HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: 1000000\r\n\r\n0123456789'),
      );
      socket.resume().on('close', () => resolve()).on('error', reject);
    });
    assert.ok(Date.now() - t0 < 5_000, `dropped after ${Date.now() - t0} ms`);
    // Logged once the server has cleaned up after it.
    await srv.waitForLog((l) => l.msg === 'media request ended by the client');
    const uploads = join(dir, 'uploads');
    const left = existsSync(uploads) ? readdirSync(uploads, { recursive: true }).map(String).filter((f) => f.endsWith('.part')) : [];
    assert.deepEqual(left, [], 'no partial file left');
    assert.equal(await srv.stop(), 0);
    assert.equal(srv.logs().filter((l) => l.level === 50).length, 0, 'not logged as an error');
  });
});

describe('uploads: retention', () => {
  it('removes a file, bytes and all, once retention has removed every message that referred to it, and one never sent', async (t) => {
    const dir = tempDir(t);
    // Unused for 3.6 s: long enough for the upload below to be sent before it counts as never sent.
    const srv = await startServer(
      ['--auth.dev', 'true', ...sqliteFlags(dir), '--store.retention.maxCount', '1', '--store.retention.intervalMs', '50', '--uploads.unusedMaxAgeHours', '0.001'],
      { t },
    );
    const files = (): string[] =>
      readdirSync(join(dir, 'uploads'), { recursive: true, withFileTypes: true })
        .filter((e) => e.isFile())
        .map((e) => e.name)
        .sort();
    const shared = (await (await upload(srv, 'name=shared.png&user=alice', PNG, 'image/png')).json()) as Uploaded;
    const unsent = (await (await upload(srv, 'name=unsent.png&user=alice', PNG, 'image/png')).json()) as Uploaded;
    const alice = await connectUser(srv.wsUrl, 'alice');
    const bob = await connectUser(srv.wsUrl, 'bob');
    await bob.call({ type: 'join', room: 'album' });
    await alice.call({ type: 'join', room: 'album' });
    await alice.call({ type: 'publish', room: 'album', contentType: 'image', body: { url: shared.url, name: shared.name, mime: shared.mime, size: shared.size } });
    assert.equal((await download(srv, shared.url, 'user=bob')).res.status, 200);

    // One message per room is kept: the next one takes the picture's message, and with it bob's access.
    const from = srv.logs().length;
    await alice.call({ type: 'publish', room: 'album', body: 'that was the last picture' });
    await srv.waitForLog((l) => l.msg === 'retention trimmed messages', { from });
    assert.equal((await download(srv, shared.url, 'user=bob')).res.status, 404);

    let removed = 0;
    for (let seen = 0; removed < 2; ) {
      const line = await srv.waitForLog((l) => l.msg === 'retention removed unused uploads', { from: seen, timeoutMs: 15_000 });
      removed += Number(line.files);
      seen = srv.logs().indexOf(line) + 1;
    }
    assert.equal(removed, 2);
    assert.equal((await download(srv, shared.url, 'user=alice')).res.status, 404, 'gone for its uploader too');
    assert.equal((await download(srv, unsent.url, 'user=alice')).res.status, 404);
    assert.deepEqual(files(), [], 'and from the disk');
    await Promise.all([alice.close(), bob.close()]);
    assert.equal(await srv.stop(), 0);
  });

  it('removes at start the bytes that no upload record points to (left by a crash), and keeps the rest', async (t) => {
    const dir = tempDir(t);
    // A file from before the crash that has no record, and one upload made properly, by a server before this one.
    const first = await startServer(['--auth.dev', 'true', ...sqliteFlags(dir)], { t });
    const kept = (await (await upload(first, 'name=kept.png&user=alice', PNG, 'image/png')).json()) as Uploaded;
    assert.equal(await first.stop(), 0);
    const stray = join(dir, 'uploads', 'St', 'StrayBytesNoRecord01');
    mkdirSync(join(stray, '..'), { recursive: true });
    writeFileSync(stray, PNG);
    const yesterday = new Date(Date.now() - 86_400_000);
    utimesSync(stray, yesterday, yesterday);
    for (const f of readdirSync(join(dir, 'uploads'), { recursive: true })) utimesSync(join(dir, 'uploads', String(f)), yesterday, yesterday);

    const srv = await startServer(['--auth.dev', 'true', ...sqliteFlags(dir)], { t });
    const line = await srv.waitForLog((l) => l.msg === 'removed upload files no record points to');
    assert.equal(line.files, 1);
    assert.equal(existsSync(stray), false);
    assert.equal((await download(srv, kept.url, 'user=alice')).res.status, 200, 'an upload with its record stays');
    assert.equal(await srv.stop(), 0);
  });
});
