/**
 * An uploaded file opened in the browser is shown, not run: files are served from the chat's own origin, and the
 * web chat links each image to its URL with the viewer's token in the query, so a script inside an uploaded SVG
 * that ran would have that token. Needs Chromium as chat.test.ts does.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { startServer, type TestServer } from '../helpers/server.js';
import { describeInBrowser, launch } from './browser.js';

/** Draws a square, and would say so in the title and in a request to the server if its script ran. */
const SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="40" height="40">
  <rect width="40" height="40" fill="teal"/>
  <script>document.title = 'script ran: ' + location.search; fetch('/ran?' + location.search.slice(1));</script>
</svg>`;

describeInBrowser('uploaded files in a browser', { timeout: 60_000 }, () => {
  let server: TestServer;
  let browser: Browser;

  before(async () => {
    [server, browser] = await Promise.all([startServer(['--auth.dev', 'true']), launch()]);
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('opens an uploaded SVG with a script as a picture whose script does not run', async () => {
    const res = await fetch(`${server.url}/upload?name=square.svg&user=mallory`, {
      method: 'POST',
      body: SVG,
      headers: { 'content-type': 'image/svg+xml' },
    });
    assert.equal(res.status, 201);
    const { url } = (await res.json()) as { url: string };

    const page = await browser.newPage();
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    const opened = await page.goto(`${server.url}${url}?user=mallory`);
    assert.equal(opened?.status(), 200);
    assert.equal(opened?.headers()['content-type'], 'image/svg+xml');
    // Still a picture: the rectangle is laid out at its size.
    const box = await page.locator('rect').boundingBox();
    assert.deepEqual([box?.width, box?.height], [40, 40]);
    assert.doesNotMatch(await page.title(), /script ran/);
    assert.deepEqual(
      requests.filter((r) => r.includes('/ran')),
      [],
      'the script asked the server for something',
    );
    await page.close();
  });
});
