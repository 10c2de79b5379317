/**
 * The admin console (dist/web/admin, served at `/admin/`) in Chromium against
 * a real server with API keys: the page loads under its own security policy
 * and refuses a wrong key with a clear message; an admin key signs in (kept in
 * sessionStorage, sent as a header and never in a URL); the charts and tables
 * move with WebSocket traffic; a user connected over WebSocket is looked up
 * and disconnected from the console (one session, then the user with a ban:
 * the sockets see 4010); a room's history pages back; a private room is
 * created and a member added, who may then join it; a read-only key sees the
 * charts and is told it may not disconnect. Any console error fails a step
 * but the browser's own line for an answer the step expects (401, 403).
 *
 * Needs Chromium, like chat.test.ts. UPDATE_SCREENSHOTS=1 saves
 * docs/screenshots/admin.png.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { after, afterEach, before } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { connectUser, type TestClient } from '../helpers/client.js';
import { REPO_ROOT, startServer, type TestServer } from '../helpers/server.js';
import { describeInBrowser, launch, openChat, stepOf, type User } from './browser.js';

const KEYS = { admin: 'sbk_admin-console-test-key', read: 'sbk_read-console-test-key' };
const hash = (k: string): string => createHash('sha256').update(k).digest('hex');
const API_KEYS = JSON.stringify([
  { name: 'ops', hash: hash(KEYS.admin), scopes: ['admin'] },
  { name: 'dashboards', hash: hash(KEYS.read), scopes: ['read'] },
]);
/** How long a step waits for the page to show what a poll brings (polls are a second apart). */
const POLL_WAIT_MS = 15_000;

describeInBrowser('admin console in a browser', { timeout: 120_000 }, () => {
  let server: TestServer;
  let browser: Browser;
  let op: User;
  /** WebSocket users the steps connect (closed at the end). */
  const sockets: TestClient[] = [];
  /** Background publishing (the charts' traffic), stopped at the end. */
  let traffic: ReturnType<typeof setInterval> | null = null;
  /** Every URL the console's page requested, to check that the key is never in one. */
  const requested: string[] = [];
  /** The Authorization headers of its API calls. */
  const authorizations = new Set<string>();
  const users = (): User[] => [op].filter(Boolean);
  const step = stepOf(users, () => server);

  before(async () => {
    [server, browser] = await Promise.all([startServer(['--auth.dev', 'true', '--api.keys', API_KEYS]), launch()]);
  });
  after(async () => {
    if (traffic) clearInterval(traffic);
    for (const s of sockets) s.ws.terminate();
    await browser?.close();
    await server?.stop();
  });
  afterEach(() => {
    assert.deepEqual(users().flatMap((u) => u.errors.splice(0)), [], 'console errors or page errors in the browser');
  });

  /** Takes the step's console errors, which must all be the browser's line for a response with `status`. */
  const expectOnlyStatusErrors = (status: number): void => {
    const errors = op.errors.splice(0);
    const others = errors.filter((e) => !new RegExp(`Failed to load resource: .*${status}`).test(e));
    assert.deepEqual(others, [], `console errors other than the ${status} answers the step expects`);
  };

  const api = async (method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> => {
    const res = await fetch(`${server.url}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${KEYS.admin}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };

  /** The page's sessionStorage (or localStorage) as an object. */
  const storage = (page: Page, which: 'sessionStorage' | 'localStorage' = 'sessionStorage'): Promise<Record<string, string>> =>
    page.evaluate((w) => ({ ...(globalThis as unknown as Record<string, Record<string, string>>)[w] }), which);

  /** A chart figure's data attribute as a number (NaN while it has none). */
  const chartValue = (page: Page, chart: string, attr: 'peak' | 'last' | 'points'): Promise<number> =>
    page.locator(`#chart-${chart}`).evaluate((el, a) => Number((el as unknown as { dataset: Record<string, string | undefined> }).dataset[a] ?? NaN), attr);

  /** Waits until a chart's figure says `attr` > `above`. */
  const waitForChart = async (page: Page, chart: string, attr: 'peak' | 'last' | 'points', above: number): Promise<void> => {
    await page.waitForFunction(
      ([id, a, min]) => {
        const el = (globalThis as unknown as { document: { getElementById(id: string): { dataset: Record<string, string | undefined> } | null } }).document.getElementById(id);
        return Number(el?.dataset[a] ?? NaN) > min;
      },
      [`chart-${chart}`, attr, above] as const,
      { timeout: POLL_WAIT_MS },
    );
  };

  step('serves /admin/ under its own security policy, and /admin redirects there', async () => {
    const redirect = await fetch(`${server.url}/admin`, { redirect: 'manual' });
    assert.equal(redirect.status, 301);
    assert.equal(redirect.headers.get('location'), 'admin/', 'relative: it keeps a proxy prefix');
    const res = await fetch(`${server.url}/admin/`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
    const csp = res.headers.get('content-security-policy') ?? '';
    for (const d of ["script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"]) assert.ok(csp.includes(d), `CSP has ${d}: ${csp}`);
    assert.ok(!csp.includes('unsafe-inline') && !csp.includes('unsafe-eval'), `nothing inline: ${csp}`);
    assert.equal(res.headers.get('x-frame-options'), 'DENY');
    const js = await fetch(`${server.url}/admin/admin.js`);
    assert.equal(js.status, 200);
    assert.match(await js.text(), /uPlot/, 'uPlot is bundled, not loaded from elsewhere');
    assert.equal((await fetch(`${server.url}/admin/nothing-here.js`)).status, 404);
  });

  step('loads with no console error and refuses a wrong key with a clear message', async () => {
    op = await openChat(browser, `${server.url}/admin`, 'operator', { width: 1280, height: 1000 });
    op.page.on('request', (r) => {
      requested.push(r.url());
      const auth = r.headers().authorization;
      if (auth) authorizations.add(auth);
    });
    assert.equal(new URL(op.page.url()).pathname, '/admin/');
    await op.page.getByRole('heading', { name: 'Switchboard admin', level: 2 }).waitFor();
    await op.page.getByLabel('API key').fill('sbk_not-a-key-this-server-knows');
    await op.page.getByRole('button', { name: 'Sign in' }).click();
    await op.page.locator('#signin-error', { hasText: 'This server does not know that API key' }).waitFor();
    assert.equal(await op.page.locator('#console').isHidden(), true);
    assert.deepEqual(await storage(op.page), {}, 'a refused key is not kept');
    expectOnlyStatusErrors(401);
  });

  step('signs in with an admin key, kept in sessionStorage and sent as a header only', async () => {
    await op.page.getByLabel('API key').fill(KEYS.admin);
    await op.page.getByRole('button', { name: 'Sign in' }).click();
    await op.page.locator('#live[data-state="live"]').waitFor();
    assert.equal(await op.page.locator('#signin').isHidden(), true);
    assert.deepEqual(await storage(op.page), { 'switchboard:admin-key': KEYS.admin });
    assert.deepEqual(await storage(op.page, 'localStorage'), {}, 'nothing in localStorage');
    // A reload keeps the session (the tab's sessionStorage).
    await op.page.reload();
    await op.page.locator('#live[data-state="live"]').waitFor();
    await op.page.locator('#figures [data-figure="connections"]').waitFor();
  });

  step('moves its charts and tables with WebSocket traffic', async () => {
    const before = await chartValue(op.page, 'connections', 'last');
    const alice = await connectUser(server.wsUrl, 'alice');
    const bob = await connectUser(server.wsUrl, 'bob');
    const carol = await connectUser(server.wsUrl, 'carol');
    sockets.push(alice, bob, carol);
    for (const s of [alice, bob, carol]) await s.call({ type: 'join', room: 'lobby' });
    await bob.call({ type: 'join', room: 'ops-chat' });
    // 60 messages at once (more than a page of history), then a few a second for as long as the test runs.
    for (let i = 1; i <= 60; i++) alice.send({ type: 'publish', room: 'lobby', body: `warm-up message ${i}` });
    let n = 0;
    traffic = setInterval(() => {
      n++;
      carol.send({ type: 'publish', room: 'lobby', body: `status update ${n}` });
      if (n % 3 === 0) bob.send({ type: 'publish', room: 'ops-chat', body: `deploy step ${n / 3}` });
    }, 200);

    await waitForChart(op.page, 'connections', 'last', before + 2);
    await waitForChart(op.page, 'messages', 'peak', 0);
    await waitForChart(op.page, 'deliveries', 'peak', 0);
    const points = await chartValue(op.page, 'messages', 'points');
    await waitForChart(op.page, 'messages', 'points', points);
    // The chart is drawn: uPlot's canvas has a size.
    const canvas = await op.page.locator('#chart-messages canvas').boundingBox();
    assert.ok(canvas && canvas.width > 100 && canvas.height > 50, `a drawn canvas: ${JSON.stringify(canvas)}`);
    assert.match((await op.page.locator('#chart-messages .chart-box').getAttribute('aria-label')) ?? '', /^Messages in per second, last 5 minutes: now/);
    await op.page.locator('#top-members tr', { hasText: 'lobby' }).waitFor({ timeout: POLL_WAIT_MS });
    await op.page.locator('#top-rate tr', { hasText: 'lobby' }).waitFor({ timeout: POLL_WAIT_MS });
    await op.page.locator('#figures [data-figure="users"] dd').filter({ hasText: /^[3-9]|\d\d/ }).waitFor({ timeout: POLL_WAIT_MS });
  });

  step('looks a user up and disconnects one session, then the user with a ban (4010)', async () => {
    const dave1 = await connectUser(server.wsUrl, 'dave');
    const dave2 = await connectUser(server.wsUrl, 'dave');
    sockets.push(dave1, dave2);
    const { page } = op;
    await page.getByLabel('User id').fill('dave');
    await page.getByRole('button', { name: 'Look up' }).click();
    await page.locator('.user-status', { hasText: 'dave is online: 2 sessions' }).waitFor();
    for (const s of [dave1, dave2]) await page.locator('.sessions code', { hasText: s.session! }).waitFor();

    await page.getByRole('button', { name: `Disconnect session ${dave1.session!}` }).click();
    const first = await dave1.closed;
    assert.equal(first.code, 4010);
    await page.locator('.user-status', { hasText: 'dave is online: 1 session' }).waitFor();
    assert.equal(dave2.isOpen, true, 'the other session stays');

    await page.getByLabel('Reason').fill('account under review');
    await page.getByLabel('Refuse reconnects for (seconds)').fill('60');
    await page.getByRole('button', { name: 'Disconnect dave' }).click();
    assert.deepEqual(await dave2.closed, { code: 4010, reason: 'account under review' });
    await page.locator('.user-status', { hasText: 'dave is not connected' }).waitFor();
    // The ban holds: a reconnect is refused with 4010.
    await assert.rejects(connectUser(server.wsUrl, 'dave'), /4010/);
  });

  step("pages back through a room's history", async () => {
    const { page } = op;
    await page.getByLabel('Room', { exact: true }).first().fill('lobby');
    await page.getByRole('button', { name: 'Show', exact: true }).click();
    const rows = page.locator('#history-result tbody tr');
    await rows.nth(49).waitFor();
    assert.equal(await rows.count(), 50, 'one page of 50');
    const newest = Number(await rows.first().locator('td').first().textContent());
    await page.getByRole('button', { name: 'Older messages' }).click();
    await rows.nth(50).waitFor();
    const seqs = (await rows.locator('td:first-child').allTextContents()).map(Number);
    assert.equal(seqs[0], newest);
    assert.deepEqual(
      seqs,
      [...seqs].sort((a, b) => b - a),
      'newest first, the older page below',
    );
    assert.equal(new Set(seqs).size, seqs.length, 'no message twice');
  });

  step('creates a private room and adds a member, who may then join it', async () => {
    const { page } = op;
    await page.getByLabel('Name', { exact: true }).fill('vip-ops');
    assert.equal(await page.getByLabel('Kind').inputValue(), 'private', 'private by default');
    await page.getByRole('button', { name: 'Create room' }).click();
    await page.locator('#members-result', { hasText: 'vip-ops has no listed members' }).waitFor();
    const view = await api('GET', '/rooms/vip-ops');
    assert.deepEqual([view.json.kind, view.json.managed], ['private', true]);

    const erin = await connectUser(server.wsUrl, 'erin');
    sockets.push(erin);
    const refused = await erin.request({ type: 'join', room: 'vip-ops' });
    assert.equal(refused.code, 'forbidden', 'not a member yet');

    await page.getByLabel('Add a member').fill('erin');
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    await page.getByRole('list', { name: 'Members of vip-ops' }).getByText('erin').waitFor();
    assert.deepEqual((await api('GET', '/rooms/vip-ops/members')).json.users, ['erin']);
    assert.equal((await erin.call<{ kind: string }>({ type: 'join', room: 'vip-ops' })).kind, 'private');
  });

  step('never put the key in a URL, and sent it as Authorization: Bearer', async () => {
    assert.ok(requested.length > 10, 'the page made its calls');
    assert.deepEqual(
      requested.filter((u) => u.includes(KEYS.admin) || u.includes(encodeURIComponent(KEYS.admin))),
      [],
    );
    assert.ok(authorizations.has(`Bearer ${KEYS.admin}`));
  });

  step('saves a screenshot with traffic (UPDATE_SCREENSHOTS=1)', async () => {
    if (!process.env.UPDATE_SCREENSHOTS) return;
    const { page } = op;
    // Let the charts fill with a little history, and the toasts go.
    await page.waitForTimeout(12_000);
    await page.getByLabel('User id').fill('alice');
    await page.getByRole('button', { name: 'Look up' }).click();
    await page.locator('.user-status', { hasText: 'alice is online' }).waitFor();
    await page.evaluate(() => {
      const doc = (globalThis as unknown as { document: { querySelectorAll(s: string): ArrayLike<{ remove(): void }>; activeElement: { blur?(): void } | null } }).document;
      for (const t of Array.from(doc.querySelectorAll('.toast'))) t.remove();
      doc.activeElement?.blur?.();
      (globalThis as unknown as { scrollTo(x: number, y: number): void }).scrollTo(0, 0);
    });
    await page.waitForTimeout(1_200);
    await page.screenshot({ path: join(REPO_ROOT, 'docs', 'screenshots', 'admin.png') });
  });

  step('with a read key: the charts, and a clear refusal to disconnect', async () => {
    const { page } = op;
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('API key').waitFor();
    assert.deepEqual(await storage(page), {}, 'signing out forgets the key');
    await page.getByLabel('API key').fill(KEYS.read);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#live[data-state="live"]').waitFor();
    await waitForChart(page, 'connections', 'points', 0);
    await page.getByLabel('User id').fill('alice');
    await page.getByRole('button', { name: 'Look up' }).click();
    await page.locator('.user-status', { hasText: 'alice is online' }).waitFor();
    await page.getByRole('button', { name: 'Disconnect alice' }).click();
    await page.locator('.disconnect-form .error', { hasText: 'need a key with the admin scope' }).waitFor();
    assert.equal(sockets[0]!.isOpen, true, 'alice is still connected');
    expectOnlyStatusErrors(403);
  });
});
