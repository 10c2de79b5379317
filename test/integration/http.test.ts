/** The HTTP side: the web page at /, the admin console at /admin/, health, the page's client config, 404s, and upgrades only on the WebSocket path. */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as netConnect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { closeAllClients, connect, connectUser } from '../helpers/client.js';
import { startServer } from '../helpers/server.js';
import { serverFor } from '../helpers/shared-server.js';

describe('http', () => {
  const server = serverFor(['--auth.dev', 'true']);

  it('GET / serves the web page', async () => {
    const res = await fetch(`${server().url}/`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
    const text = await res.text();
    assert.match(text, /<html/i);
    // The bundled chat loads only its own resources and cannot be framed by another site.
    assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'self'.*frame-ancestors 'none'/);
    assert.equal(res.headers.get('x-frame-options'), 'DENY');
    // HEAD: headers without a body.
    const head = await fetch(`${server().url}/`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.match(head.headers.get('content-type') ?? '', /^text\/html/);
  });

  it('GET /admin/ serves the admin console under its own policy, with a custom server.webRoot or none too', async (t) => {
    const own = mkdtempSync(join(tmpdir(), 'switchboard-webroot-'));
    t.after(() => rmSync(own, { recursive: true, force: true }));
    writeFileSync(join(own, 'index.html'), '<!doctype html><title>my app</title>');
    mkdirSync(join(own, 'admin'));
    writeFileSync(join(own, 'admin', 'index.html'), '<!doctype html><title>not the console</title>');
    writeFileSync(join(own, 'admin', 'mine.txt'), 'mine');
    const custom = await startServer(['--auth.dev', 'true', '--server.webRoot', own], { t });
    const none = await startServer(['--auth.dev', 'true', '--server.webRoot', ''], { t });
    for (const url of [server().url, custom.url, none.url]) {
      const redirect = await fetch(`${url}/admin`, { redirect: 'manual' });
      assert.equal(redirect.status, 301, url);
      assert.equal(redirect.headers.get('location'), 'admin/', 'relative, so that a proxy prefix stays');
      const res = await fetch(`${url}/admin/`);
      assert.equal(res.status, 200, url);
      assert.match(await res.text(), /<title>Switchboard admin<\/title>/, url);
      const csp = res.headers.get('content-security-policy') ?? '';
      assert.match(csp, /script-src 'self'; style-src 'self';.*connect-src 'self';.*frame-ancestors 'none'/, url);
      assert.doesNotMatch(csp, /unsafe/, url);
      assert.equal(res.headers.get('x-frame-options'), 'DENY');
      const js = await fetch(`${url}/admin/admin.js`);
      assert.equal(js.status, 200);
      assert.match(js.headers.get('content-type') ?? '', /^text\/javascript/);
      await js.arrayBuffer();
      // Everything under /admin/ is the console's: a web root's own admin/ files are not served.
      const mine = await fetch(`${url}/admin/mine.txt`);
      assert.equal(mine.status, 404, url);
      await mine.arrayBuffer();
    }
    assert.match(await (await fetch(`${custom.url}/`)).text(), /my app/, 'the custom web root still serves /');
    assert.equal((await fetch(`${none.url}/`)).status, 404, 'and "" still serves nothing at /');
    await Promise.all([custom.stop(), none.stop()]);
  });

  it('GET /healthz and /readyz answer 200', async () => {
    const h = await fetch(`${server().url}/healthz`);
    assert.equal(h.status, 200);
    assert.deepEqual(await h.json(), { status: 'ok' });
    const r = await fetch(`${server().url}/readyz`);
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), { status: 'ready' });
  });

  it('an unknown path is 404, and files outside the web root are not served', async () => {
    const res = await fetch(`${server().url}/no/such/page`);
    assert.equal(res.status, 404);
    await res.arrayBuffer();
    for (const path of ['/../package.json', '/%2e%2e/package.json', '/..%2fpackage.json', '/%2e%2e%2fsrc%2fserver.ts']) {
      const status = await rawGet(server().port, path);
      assert.equal(status, 404, path);
    }
  });

  it('GET /client-config.json tells a page the WebSocket path, the configured one too', async (t) => {
    const res = await fetch(`${server().url}/client-config.json`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    assert.deepEqual(await res.json(), { websocketPath: '/ws' });
    const other = await startServer(['--server.path', '/chat/ws'], { t });
    const config = await fetch(`${other.url}/client-config.json`);
    assert.deepEqual(await config.json(), { websocketPath: '/chat/ws' });
    await other.stop();
  });

  it('drops a connection that trickles its headers after server.headersTimeoutMs, and keeps serving', async (t) => {
    const srv = await startServer(['--auth.dev', 'true', '--server.headersTimeoutMs', '1000'], { t });
    const t0 = Date.now();
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = netConnect(srv.port, '127.0.0.1', () => socket.write('GET /ws HTTP/1.1\r\nHost: x\r\n'));
      let got = '';
      socket.setEncoding('utf8').on('data', (d: string) => (got += d));
      socket.on('close', () => resolve(got)).on('error', reject);
    });
    assert.match(answer, /^HTTP\/1\.1 408/);
    assert.ok(Date.now() - t0 < 5_000, `dropped after ${Date.now() - t0} ms`);
    assert.equal((await fetch(`${srv.url}/healthz`)).status, 200);
    assert.equal(await srv.stop(), 0);
  });

  it('a plain GET on the WebSocket path asks for an upgrade (426)', async () => {
    const res = await fetch(`${server().url}/ws`);
    assert.equal(res.status, 426);
    await res.arrayBuffer();
  });

  it('refuses a WebSocket upgrade on any other path, and keeps serving', async () => {
    for (const path of ['/', '/other', '/ws/extra', '/wsx']) {
      await assert.rejects(connect(`ws://127.0.0.1:${server().port}${path}?user=alice`), (e: Error & { statusCode?: number }) => {
        assert.equal(e.statusCode, 404, `${path}: ${e.message}`);
        return true;
      });
    }
    const ok = await connectUser(server().wsUrl, 'alice');
    await ok.barrier();
    await ok.close();
  });
});

/** GET with the path sent exactly as given (fetch would normalise `..`). */
function rawGet(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'GET' }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('http: server.allowedOrigins', () => {
  const server = serverFor(['--auth.dev', 'true', '--server.allowedOrigins', 'https://app.example.com']);

  /** The status of an upgrade from a page at `origin` (101 when it became a session). */
  function upgradeFrom(origin: string | undefined, headers: Record<string, string> = {}): Promise<number> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`${server().wsUrl}?user=alice`, origin === undefined ? { headers } : { origin, headers });
      ws.once('upgrade', () => {
        resolve(101);
        ws.close();
      });
      ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.once('error', reject);
    });
  }

  it("lets a listed page, the server's own page and non-browser clients connect, and refuses other pages (403)", async () => {
    assert.equal(await upgradeFrom('https://app.example.com'), 101);
    assert.equal(await upgradeFrom(undefined), 101);
    assert.equal(await upgradeFrom(server().url), 101);
    assert.equal(await upgradeFrom('https://evil.example'), 403);
    assert.equal(await upgradeFrom('https://app.example.com.evil.example'), 403);
    // Behind a proxy that rewrote Host, the server's own page is known by X-Forwarded-Host — but not with dev
    // identities on, as here, under a DNS name that DNS rebinding could point at the server (origins.test.ts).
    assert.equal(await upgradeFrom('https://chat.example.com', { 'x-forwarded-host': 'chat.example.com' }), 403);
  });

  it('answers CORS for a listed page: the preflight of an upload, and the headers on a response; nothing for others', async () => {
    const preflight = await fetch(`${server().url}/upload?name=a.png`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get('access-control-allow-origin'), 'https://app.example.com');
    assert.match(preflight.headers.get('access-control-allow-headers') ?? '', /authorization/);
    const allowed = await fetch(`${server().url}/client-config.json`, { headers: { origin: 'https://app.example.com' } });
    assert.equal(allowed.headers.get('access-control-allow-origin'), 'https://app.example.com');
    const other = await fetch(`${server().url}/client-config.json`, { headers: { origin: 'https://evil.example' } });
    assert.equal(other.status, 200);
    assert.equal(other.headers.get('access-control-allow-origin'), null);
  });
});
