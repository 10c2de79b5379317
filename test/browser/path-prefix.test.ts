/**
 * The web chat where it is not at the site root and the WebSocket is not at
 * `/ws`: the server runs with `server.path /chat/ws`, and the page is served
 * through a reverse proxy that serves the server under `/sb/` and strips the
 * prefix (as nginx's `location /sb/ { proxy_pass http://127.0.0.1:8080/; }`).
 * Two users sign in at `/sb/`, exchange a message and an image; every request
 * the pages make must stay under the prefix (the proxy answers 404 elsewhere
 * and the test fails on it). The page at the server's own root connects too.
 *
 * Needs Chromium, like chat.test.ts.
 */
import assert from 'node:assert/strict';
import { createServer, request, type IncomingMessage } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { after, afterEach, before } from 'node:test';
import type { Browser } from 'playwright-core';
import { startServer, type TestServer } from '../helpers/server.js';
import { describeInBrowser, drawPng, launch, loadedImageSize, openChat, signIn, stepOf, type User } from './browser.js';

const PREFIX = '/sb/';
const WS_PATH = '/chat/ws';

interface PrefixProxy {
  /** http://127.0.0.1:port (the prefix not included) */
  url: string;
  /** Requests outside the prefix, which the proxy refused. */
  misses: string[];
  /** The server paths WebSocket upgrades were passed to. */
  upgrades: string[];
  close(): Promise<void>;
}

/** A reverse proxy serving the server at `port` under PREFIX, prefix stripped: HTTP requests and WebSocket upgrades. */
async function prefixProxy(port: number): Promise<PrefixProxy> {
  const misses: string[] = [];
  const upgrades: string[] = [];
  const tunnels = new Set<Duplex>();
  const serverPath = (req: IncomingMessage): string | null => {
    if (req.url?.startsWith(PREFIX)) return req.url.slice(PREFIX.length - 1);
    misses.push(`${req.method} ${req.url}`);
    return null;
  };
  const proxy = createServer((req, res) => {
    const path = serverPath(req);
    if (path === null) return void res.writeHead(404).end();
    // agent: false: no idle upstream connection outlives the test.
    const upstream = request({ host: '127.0.0.1', port, path, method: req.method, headers: req.headers, agent: false }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  proxy.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = serverPath(req);
    if (path === null) return void socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
    upgrades.push(path.split('?', 1)[0]!);
    const upstream = connect(port, '127.0.0.1', () => {
      const headers = req.rawHeaders.map((v, i) => (i % 2 === 0 ? `${v}: ` : `${v}\r\n`)).join('');
      upstream.write(`${req.method} ${path} HTTP/1.1\r\n${headers}\r\n`);
      upstream.write(head);
      socket.pipe(upstream).pipe(socket);
    });
    for (const end of [socket, upstream]) {
      tunnels.add(end);
      end.on('error', () => (socket.destroy(), upstream.destroy()));
      end.on('close', () => (tunnels.delete(end), socket.destroy(), upstream.destroy()));
    }
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
    misses,
    upgrades,
    close: async () => {
      for (const t of tunnels) t.destroy();
      proxy.closeAllConnections();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    },
  };
}

describeInBrowser('web chat under a path prefix', { timeout: 60_000 }, () => {
  let server: TestServer;
  let proxy: PrefixProxy;
  let browser: Browser;
  let alice: User;
  let bob: User;
  const users = (): User[] => [alice, bob].filter(Boolean);
  const step = stepOf(users, () => server);
  const messages = (u: User) => u.page.locator('#messages');

  before(async () => {
    [server, browser] = await Promise.all([startServer(['--auth.dev', 'true', '--server.path', WS_PATH]), launch()]);
    proxy = await prefixProxy(server.port);
  });
  after(async () => {
    await browser?.close();
    await proxy?.close();
    await server?.stop();
  });
  afterEach(() => {
    assert.deepEqual(users().flatMap((u) => u.errors.splice(0)), [], 'console errors or page errors in the browser');
    assert.deepEqual(proxy?.misses.splice(0) ?? [], [], 'requests outside the prefix');
  });

  step(`signs two users in at ${PREFIX}, connected to ${WS_PATH} through the prefix`, async () => {
    alice = await openChat(browser, `${proxy.url}${PREFIX}`, 'alice');
    await signIn(alice);
    bob = await openChat(browser, `${proxy.url}${PREFIX}`, 'bob');
    await signIn(bob);
    assert.deepEqual([...new Set(proxy.upgrades)], [WS_PATH], 'WebSocket upgrades passed on to the server');
  });

  step('sends a room message that the other user receives', async () => {
    await alice.page.getByLabel('Message', { exact: true }).fill('Hello from behind the proxy');
    await alice.page.keyboard.press('Enter');
    await messages(bob).getByText('Hello from behind the proxy').waitFor();
  });

  step('uploads an image that the other user sees, loaded from files/ under the prefix', async () => {
    await alice.page.locator('#file').setInputFiles({ name: 'dunes.png', mimeType: 'image/png', buffer: drawPng(320, 200) });
    const img = messages(bob).locator('.msg:not(.pending) img[alt="dunes.png"]');
    assert.deepEqual(await loadedImageSize(bob, img), { w: 320, h: 200 }, 'bob sees the image');
    assert.ok((await img.getAttribute('src'))?.startsWith(`${proxy.url}${PREFIX}files/`), 'the image loads under the prefix');
  });

  step(`connects at the server's own root too, with server.path ${WS_PATH}`, async () => {
    const carol = await openChat(browser, `${server.url}/`, 'carol');
    try {
      await signIn(carol);
      await messages(carol).getByText('Hello from behind the proxy').waitFor();
      assert.deepEqual(carol.errors, []);
    } finally {
      await carol.context.close();
    }
  });

  step('says so when the server cannot be reached at sign-in, and keeps the pasted token for another try', async () => {
    const dave = await openChat(browser, `${server.url}/`, 'dave');
    try {
      await dave.page.route('**/client-config.json', (route) => route.abort());
      await dave.page.getByLabel('Token').fill('eyJ.a-token.pasted-once');
      await dave.page.getByRole('button', { name: 'Sign in' }).click();
      await dave.page.getByText(/Could not reach the server/).waitFor();
      assert.equal(await dave.page.getByLabel('Token').inputValue(), 'eyJ.a-token.pasted-once');
    } finally {
      await dave.context.close();
    }
  });
});
