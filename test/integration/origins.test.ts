/**
 * Which browser pages may use the server (server.allowedOrigins), against DNS rebinding: a page at
 * http://evil.example:PORT whose name is pointed at 127.0.0.1 sends `Host` and `Origin` that name each other. With
 * dev identities on, the server's own page is recognized only at an IP address or localhost, and with an empty list
 * only pages on this machine may connect; listed pages keep working; an upload from a refused page is refused (403)
 * and nothing is stored. Requests are sent with node:http so that `Host` can be set as a browser would send it.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { TEST_SECRET } from '../helpers/jwt.js';
import { tempDataDir } from '../helpers/server.js';
import { serverFor } from '../helpers/shared-server.js';

/** The status of a WebSocket upgrade as a browser at `origin` would send it (101 when it became a session). */
function upgrade(port: number, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1',
      port,
      path: '/ws?user=alice',
      headers: {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-key': randomBytes(16).toString('base64'),
        'sec-websocket-version': '13',
        ...headers,
      },
    });
    req.once('upgrade', (_res, socket) => {
      socket.destroy();
      resolve(101);
    });
    req.once('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.once('error', reject);
    req.end();
  });
}

/** POST /upload as dev user alice with these headers; the status and the parsed body. */
function upload(port: number, headers: Record<string, string>): Promise<{ status: number; body: Record<string, unknown> }> {
  const png = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64');
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, method: 'POST', path: '/upload?name=dot.png&user=alice', headers: { 'content-type': 'image/png', 'content-length': png.length, ...headers } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text || '{}') as Record<string, unknown> }));
      },
    );
    req.once('error', reject);
    req.end(png);
  });
}

/** A page at `origin` whose browser sent its request to `host`. */
const page = (origin: string, host: string): Record<string, string> => ({ origin, host });

describe('origins: dev identities on, no list (the default on loopback)', () => {
  const dir = tempDataDir();
  const uploads = join(dir, 'uploads');
  const server = serverFor(['--store.file', join(dir, 'switchboard.db'), '--uploads.dir', uploads]);

  it('refuses a page whose DNS name was rebound to the server (403), and lets the pages of this machine connect', async () => {
    const { port } = server();
    const evil = `evil.example:${port}`;
    assert.equal(await upgrade(port, page(`http://${evil}`, evil)), 403, 'a rebound page: Host and Origin name each other');
    assert.equal(await upgrade(port, page('https://evil.example', `127.0.0.1:${port}`)), 403, 'another site');
    assert.equal(await upgrade(port, page('null', `127.0.0.1:${port}`)), 403, 'an opaque origin');
    // The server's own page, at a loopback address or name; another page on this machine (an app's dev server).
    assert.equal(await upgrade(port, page(`http://127.0.0.1:${port}`, `127.0.0.1:${port}`)), 101);
    assert.equal(await upgrade(port, page(`http://localhost:${port}`, `localhost:${port}`)), 101);
    assert.equal(await upgrade(port, page(`http://[::1]:${port}`, `[::1]:${port}`)), 101);
    assert.equal(await upgrade(port, page('http://localhost:5173', `127.0.0.1:${port}`)), 101);
    // Clients that are not browsers send no Origin.
    assert.equal(await upgrade(port, { host: evil }), 101);
  });

  it('refuses an upload from a rebound page with 403 and stores nothing; its own page uploads', async () => {
    const { port } = server();
    const evil = `evil.example:${port}`;
    const before = readdirSync(uploads).length;
    const refused = await upload(port, page(`http://${evil}`, evil));
    assert.equal(refused.status, 403);
    assert.equal(refused.body.error, 'forbidden');
    // Nor does X-Forwarded-Host, which a same-origin fetch may set, make it the server's own page.
    assert.equal((await upload(port, { ...page(`http://${evil}`, evil), 'x-forwarded-host': evil })).status, 403);
    assert.equal(readdirSync(uploads).length, before, 'no file stored');

    const own = await upload(port, page(`http://127.0.0.1:${port}`, `127.0.0.1:${port}`));
    assert.equal(own.status, 201, JSON.stringify(own.body));
    assert.equal(readdirSync(uploads).length, before + 1);
  });
});

describe('origins: dev identities on, with a list', () => {
  const server = serverFor(['--auth.dev', 'true', '--server.allowedOrigins', 'https://app.example.com']);

  it('lets listed pages and the own page at a loopback address through, and refuses a rebound page (403)', async () => {
    const { port } = server();
    const evil = `evil.example:${port}`;
    assert.equal(await upgrade(port, page(`http://${evil}`, evil)), 403);
    assert.equal(await upgrade(port, { ...page(`http://${evil}`, `127.0.0.1:${port}`), 'x-forwarded-host': evil }), 403);
    assert.equal(await upgrade(port, page('https://app.example.com', `127.0.0.1:${port}`)), 101, 'listed');
    assert.equal(await upgrade(port, page(`http://127.0.0.1:${port}`, `127.0.0.1:${port}`)), 101, 'own page');
    // With a list, other pages on this machine are not let through by being local.
    assert.equal(await upgrade(port, page('http://localhost:5173', `127.0.0.1:${port}`)), 403);
    assert.equal((await upload(port, page(`http://${evil}`, evil))).status, 403);
    assert.equal((await upload(port, page('https://app.example.com', `127.0.0.1:${port}`))).status, 201);
  });

  it('lets a listed page whose name points at the server through: the operator said so', async () => {
    const { port } = server();
    assert.equal(await upgrade(port, page('https://app.example.com', 'app.example.com')), 101);
  });
});

describe('origins: tokens only (dev identities off), with a list', () => {
  const server = serverFor(['--auth.jwt.secret', TEST_SECRET, '--server.allowedOrigins', 'https://app.example.com']);

  it('recognizes its own page under a DNS name by Host or X-Forwarded-Host (behind a proxy), and refuses others', async () => {
    const { port } = server();
    // Without dev identities a rebound page gets no credentials by itself; the upgrade is let through and closed
    // 4001 for want of a token, like any client's.
    assert.equal(await upgrade(port, page('https://chat.example.com', 'chat.example.com')), 101);
    assert.equal(await upgrade(port, { ...page('https://chat.example.com', `127.0.0.1:${port}`), 'x-forwarded-host': 'chat.example.com' }), 101);
    assert.equal(await upgrade(port, page('https://evil.example', 'chat.example.com')), 403);
    // An upload from a refused page is refused before its credentials are looked at.
    assert.equal((await upload(port, page('https://evil.example', 'chat.example.com'))).status, 403);
  });
});
